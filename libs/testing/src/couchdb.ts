/**
 * A real CouchDB-compatible server for tests: pouchdb-server (CouchDB's HTTP API in Node) on
 * 127.0.0.1 and a free port, in memory, with a server admin so requests without the right
 * credentials are refused with 401, as CouchDB does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stopChild } from './processes';

export interface RunningCouchDb {
  url: string;
  username: string;
  password: string;
  /** Sends a request as the admin; the answer's JSON. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a CouchDB answer is whatever JSON the test asked for
  request(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  stop(): Promise<void>;
}

export async function startCouchDb(options: { username?: string; password?: string } = {}): Promise<RunningCouchDb> {
  const username = options.username ?? 'admin';
  const password = options.password ?? `pw-${Math.random().toString(36).slice(2)}`;
  const dir = await mkdtemp(join(tmpdir(), 'chainvault-couchdb-'));
  const port = await freePort();
  const bin = require.resolve('pouchdb-server/bin/pouchdb-server');
  const child: ChildProcess = spawn(process.execPath, [bin, '--in-memory', '--host', '127.0.0.1', '--port', String(port), '--config', join(dir, 'config.json'), '--no-color'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const call = async (method: string, path: string, body: unknown, auth: boolean) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : null };
  };
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`pouchdb-server exited: ${output}`);
    try {
      await call('GET', '/', undefined, false);
      break;
    } catch {
      if (i > 200) throw new Error(`pouchdb-server did not answer on ${url}: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  // Leaves the "admin party": from now on only the admin's credentials are accepted.
  const admin = await call('PUT', `/_config/admins/${username}`, password, false);
  if (admin.status !== 200) throw new Error(`pouchdb-server refused the admin: ${JSON.stringify(admin.json)}`);
  return {
    url,
    username,
    password,
    request: (method, path, body) => call(method, path, body, true),
    async stop() {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
