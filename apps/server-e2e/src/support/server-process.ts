/** The built server as a separate process, for tests that kill it or restart it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@chainvault/testing';
import { GraphqlClient } from './graphql-client';

const MAIN = join(__dirname, '..', '..', '..', 'server', 'dist', 'main.js');

export { freePort };

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Speaks with the admin token in the data directory (null if another instance made it). */
  client: GraphqlClient;
  output: () => string;
  /** Waits for the process to exit; returns its exit signal or code. */
  exited: Promise<string>;
}

export async function spawnServer(env: { dataDir: string; databaseUrl?: string; extra?: Record<string, string> }): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      CHAINVAULT_DATA_DIR: env.dataDir,
      CHAINVAULT_PORT: String(port),
      CHAINVAULT_HOST: '127.0.0.1',
      CHAINVAULT_RESTORE_ROOTS: tmpdir(),
      ...(env.databaseUrl ? { CHAINVAULT_DATABASE_URL: env.databaseUrl } : {}),
      ...env.extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? String(code))));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited at start:\n${output}`);
    const healthy = await fetch(`${url}/health`).then((r) => r.ok, () => false);
    if (healthy) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the server did not become healthy within 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const token = await readFile(join(env.dataDir, 'admin.token'), 'utf8').then((t) => t.trim(), () => null);
  return { child, url, client: new GraphqlClient(url, token), output: () => output, exited };
}
