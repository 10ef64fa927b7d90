'use strict';
/**
 * The chainvault server the benchmarks measure: a real server process (apps/server/dist/main.js)
 * on a free loopback port, spoken to over GraphQL with the admin token it writes at its first start.
 */
const { spawn } = require('node:child_process');
const { readFileSync } = require('node:fs');
const { createServer } = require('node:net');
const { join, resolve } = require('node:path');

const MAIN = resolve(__dirname, '..', '..', 'apps', 'server', 'dist', 'main.js');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A loopback port nobody listens on now. */
function freePort() {
  return new Promise((resolvePromise, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolvePromise(port));
    });
  });
}

/** Starts a server on `dataDir` (restores allowed under `restoreRoots`) and waits until it is healthy. */
async function startChainvault({ dataDir, restoreRoots, env = {} }) {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, CHAINVAULT_DATA_DIR: dataDir, CHAINVAULT_PORT: String(port), CHAINVAULT_HOST: '127.0.0.1', CHAINVAULT_RESTORE_ROOTS: restoreRoots, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output = (output + d).slice(-20000)));
  child.stderr.on('data', (d) => (output = (output + d).slice(-20000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited at start:\n${output}`);
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) throw new Error(`the server did not become healthy within 60 s:\n${output}`);
    await sleep(100);
  }
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  return {
    child,
    url,
    output: () => output,
    async graphql(query, variables = {}) {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = await response.json();
      if (body.errors?.length) throw new Error(`GraphQL: ${body.errors.map((e) => `${e.extensions?.code}: ${e.message}`).join('; ')}`);
      return body.data;
    },
    /** SIGTERM, then SIGKILL after `graceMs`. */
    async stop(graceMs = 60_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = new Promise((r) => setTimeout(() => r('timeout'), graceMs).unref());
      if ((await Promise.race([exited, timer])) === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

module.exports = { MAIN, freePort, startChainvault };
