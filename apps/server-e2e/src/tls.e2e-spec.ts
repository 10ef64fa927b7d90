/**
 * HTTPS and WSS with a certificate the test makes, and the refusal to listen on a
 * non-loopback address in clear text.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { freePort } from './support/server-process';

jest.setTimeout(60_000);

const run = promisify(execFile);
const MAIN = join(__dirname, '..', '..', 'server', 'dist', 'main.js');

function httpsPost(url: string, ca: Buffer, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: 'POST', ca, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('TLS', () => {
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-tls-'));
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-keyout', join(work, 'key.pem'), '-out', join(work, 'cert.pem'),
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ]);
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('serves GraphQL over HTTPS and subscriptions over WSS with a configured certificate', async () => {
    const port = await freePort();
    const dataDir = join(work, 'data');
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, CHAINVAULT_DATA_DIR: dataDir, CHAINVAULT_PORT: String(port), CHAINVAULT_HOST: '127.0.0.1', CHAINVAULT_TLS_CERT: join(work, 'cert.pem'), CHAINVAULT_TLS_KEY: join(work, 'key.pem') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const ca = await readFile(join(work, 'cert.pem'));
      const url = `https://localhost:${port}`;
      const deadline = Date.now() + 30_000;
      for (;;) {
        const up = await httpsPost(`${url}/graphql`, ca, '{}', {}).then(() => true, () => false);
        if (up) break;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no HTTPS server:\n${output}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(output).toContain(`https://127.0.0.1:${port}`);
      const token = (await readFile(join(dataDir, 'admin.token'), 'utf8')).trim();
      const answer = await httpsPost(`${url}/graphql`, ca, JSON.stringify({ query: '{ networks { id } }' }), { authorization: `Bearer ${token}` });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toEqual({ data: { networks: [] } });
      // Plain HTTP on the same port is not served.
      const plain = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status, () => 'refused');
      expect(plain).not.toBe(200);

      const client = createClient({
        url: `wss://localhost:${port}/graphql`,
        webSocketImpl: class extends WebSocket {
          constructor(address: string, protocols?: string | string[]) {
            super(address, protocols, { ca });
          }
        },
        retryAttempts: 0,
        connectionParams: { authorization: `Bearer ${token}` },
      });
      const result = await new Promise<unknown>((resolve, reject) => {
        client.subscribe({ query: '{ __typename }' }, { next: (m) => resolve(m.data), error: reject, complete: () => undefined });
      });
      expect(result).toEqual({ __typename: 'Query' });
      await client.dispose();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('refuses to start on 0.0.0.0 without TLS, naming the settings', async () => {
    const result = await run(process.execPath, [MAIN], { env: { ...process.env, CHAINVAULT_DATA_DIR: join(work, 'open'), CHAINVAULT_HOST: '0.0.0.0', CHAINVAULT_PORT: String(await freePort()) } }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/CHAINVAULT_HOST "0\.0\.0\.0" is not a loopback address/);
    expect(result.stderr).toMatch(/CHAINVAULT_TLS_CERT/);
    expect(result.stderr).toMatch(/CHAINVAULT_BEHIND_TLS_PROXY/);
  });
});
