/**
 * A real S3 server for tests: s3rver in a child process on a free port, with a fresh bucket.
 * The child carries s3rver's `--openssl-legacy-provider` flag (its listing tokens use DES), so
 * the test process itself runs without it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild } from './processes';

export interface RunningS3rver {
  /** `http://127.0.0.1:<port>`; clients need `forcePathStyle: true`. */
  endpoint: string;
  /** A bucket that exists and is empty when the server starts. */
  bucket: string;
  /** s3rver's built-in account. s3rver checks the key id but not the signature (SigV4). */
  accessKeyId: string;
  secretAccessKey: string;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

const BUCKET = 'chainvault-test';
const START_TIMEOUT_MS = 15_000;

// Runs in the child. s3rver writes a PUT's body straight to the object's final file (and
// answers before the file is flushed), so a concurrent reader can see half an object; real S3
// never shows one. This putObject writes to a temporary file and renames it into place once
// it is complete, as S3's atomic puts promise, so backends are tested against S3's semantics
// rather than the fake's.
const CHILD_SCRIPT = `
const S3rver = require(process.env.S3RVER_MODULE);
const FilesystemStore = require(process.env.S3RVER_STORE_MODULE);
const { createWriteStream } = require('fs');
const fs = require('fs/promises');
const crypto = require('crypto');
const path = require('path');
const { Readable, Transform } = require('stream');
const { pipeline } = require('stream/promises');
FilesystemStore.prototype.putObject = async function (object) {
  // A file (not a directory) at the store's root: never taken for a bucket.
  const tmpPath = path.join(this.rootDirectory, '.incoming-' + crypto.randomBytes(8).toString('hex'));
  const md5 = crypto.createHash('md5');
  let size = 0;
  const measure = new Transform({ transform(chunk, encoding, done) { md5.update(chunk); size += chunk.length; done(null, chunk); } });
  try {
    const content = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
    await pipeline(content, measure, createWriteStream(tmpPath));
    const finalPath = this.getResourcePath(object.bucket, object.key, 'object');
    await fs.mkdir(path.dirname(finalPath), { recursive: true });
    const digest = md5.digest('hex');
    await this.putMetadata(object.bucket, object.key, object.metadata, digest);
    await fs.rename(tmpPath, finalPath);
    return { size, md5: digest };
  } finally {
    await fs.rm(tmpPath, { force: true });
  }
};
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory: process.env.S3RVER_DIRECTORY,
  configureBuckets: [{ name: process.env.S3RVER_BUCKET }],
});
server.run().then(
  (address) => process.stdout.write(JSON.stringify({ port: address.port }) + '\\n'),
  (error) => { console.error(error); process.exit(1); },
);
// The test process holds our stdin: if it dies without stopping us, stop anyway.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

/** Starts s3rver on 127.0.0.1 with an empty bucket, and waits until it answers requests. */
export async function startS3rver(): Promise<RunningS3rver> {
  const directory = await mkdtemp(join(tmpdir(), 'chainvault-s3rver-'));
  const s3rverModule = require.resolve('s3rver');
  const child = spawn(process.execPath, ['-e', CHILD_SCRIPT], {
    env: {
      ...process.env,
      NODE_OPTIONS: [process.env['NODE_OPTIONS'], '--openssl-legacy-provider'].filter(Boolean).join(' '),
      S3RVER_MODULE: s3rverModule,
      S3RVER_STORE_MODULE: join(s3rverModule, '..', 'stores', 'filesystem.js'),
      S3RVER_DIRECTORY: directory,
      S3RVER_BUCKET: BUCKET,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });

  const stop = async (): Promise<void> => {
    await stopChild(child);
    await rm(directory, { recursive: true, force: true });
  };

  try {
    const port = await waitForPort(child);
    const endpoint = `http://127.0.0.1:${port}`;
    await waitUntilAnswering(endpoint);
    return { endpoint, bucket: BUCKET, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function waitForPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new Error(`s3rver did not start: ${why}${stderr ? `\n${stderr.trim()}` : ''}`));
    };
    const timer = setTimeout(() => fail(`no port after ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (!line) return;
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('error', (error) => fail(error.message));
    child.once('exit', (code, signal) => fail(`it exited (${signal ?? `code ${code}`})`));
  });
}

async function waitUntilAnswering(endpoint: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const status = await new Promise<number | undefined>((resolve) => {
      const req = request(`${endpoint}/`, { method: 'GET' }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', () => resolve(undefined));
      req.end();
    });
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`s3rver at ${endpoint} did not answer within ${START_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

