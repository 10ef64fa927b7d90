import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSampleTree } from '@chainvault/testing';
import { LocalBackend, Repository, type Manifest } from './index';

const KiB = 1024;
const MiB = 1024 * KiB;

let work: string;
let repoDir: string;
let repo: Repository;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'chainvault-writer-'));
  repoDir = join(work, 'repo');
  // Chunks of 64 KiB to 1 MiB, so a stream of a few hundred KiB pieces is cut across their boundaries.
  repo = await Repository.openOrInit(new LocalBackend(repoDir), { chunkSizes: { min: 64 * KiB, avg: 256 * KiB, max: MiB } });
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

const commit = (writer: ReturnType<Repository['startBackup']>): Promise<Manifest> =>
  writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

async function* pieces(...parts: Buffer[]): AsyncIterable<Uint8Array> {
  for (const part of parts) yield new Uint8Array(part);
}

describe('writeFile', () => {
  const stream = [randomBytes(700 * 1024), randomBytes(700 * 1024), randomBytes(100)];
  it.each([
    ['a string', 'exports/deep/genesis.json', '{"chainId": 1337, "name": "ünïcödé"}', Buffer.from('{"chainId": 1337, "name": "ünïcödé"}')],
    ['a Buffer', 'exports/deep/state.bin', Buffer.from([0, 1, 2, 255]), Buffer.from([0, 1, 2, 255])],
    ['a Uint8Array', 'exports/deep/raw.bin', new Uint8Array([9, 8, 7]), Buffer.from([9, 8, 7])],
    ['an async iterable crossing chunk boundaries', 'exports/deep/blocks.rlp', pieces(...stream), Buffer.concat(stream)],
    ['empty content', 'exports/deep/empty', '', Buffer.alloc(0)],
  ])('stores %s so read() returns the same bytes, under parent directories', async (_, path, content, expected) => {
    const writer = repo.startBackup();
    const written = await writer.writeFile(path, content);
    const sha256 = createHash('sha256').update(expected).digest('hex');
    expect(written).toEqual({ size: expected.length, sha256 });
    const manifest = await commit(writer);

    expect(manifest.entries.map((e) => [e.path, e.type])).toEqual([
      ['.', 'directory'],
      ['exports', 'directory'],
      ['exports/deep', 'directory'],
      [path, 'file'],
    ]);
    const entry = manifest.entries[3];
    expect(entry).toMatchObject({ size: expected.length, sha256 });
    if (entry.type !== 'file') throw new Error('not a file');
    // An empty file has no chunks; 1.4 MB spans several.
    if (expected.length === 0) expect(entry.chunks).toEqual([]);
    else if (expected.length > MiB) expect(entry.chunks.length).toBeGreaterThan(1);
    else expect(entry.chunks).toHaveLength(1);
    const reader = await repo.openBackup(manifest.backupId);
    expect((await readAll(reader.read(path))).equals(expected)).toBe(true);

    // Cut points depend on the content only: the same bytes given whole are the same chunks, stored once.
    const again = repo.startBackup();
    await again.writeFile('copy', expected);
    const copy = await commit(again);
    expect(copy.entries.find((e) => e.path === 'copy')).toMatchObject({ chunks: entry.chunks });
    expect(copy.stats).toMatchObject({ chunksAdded: 0, storedBytes: 0 });
  });

  it('keeps the mode and mtime it is given, and they survive a restore', async () => {
    const writer = repo.startBackup();
    const mtime = new Date('2024-02-29T12:34:56.789Z');
    await writer.writeFile('config/node.toml', 'port = 30303\n', { mode: 0o640, mtime });
    const manifest = await commit(writer);
    const reader = await repo.openBackup(manifest.backupId);
    expect((await reader.list()).find((e) => e.path === 'config/node.toml')).toMatchObject({ mode: 0o640, mtime, size: 13 });

    await reader.extractTree(join(work, 'restored'));
    const info = await stat(join(work, 'restored/config/node.toml'));
    expect(info.mode & 0o7777).toBe(0o640);
    expect(info.mtime).toEqual(mtime);
  });

  it('refuses paths that could escape a restore target', async () => {
    const writer = repo.startBackup();
    for (const path of ['../outside', '/etc/passwd', 'a/../../b', 'a//b']) {
      await expect(writer.writeFile(path, 'x')).rejects.toMatchObject({ name: 'RepositoryError', code: 'INVALID_PATH' });
    }
  });
});

describe('adding the same path twice', () => {
  it('throws DUPLICATE_PATH for two writes of one file', async () => {
    const writer = repo.startBackup();
    await writer.writeFile('export/blocks.rlp', 'first');
    await expect(writer.writeFile('export/blocks.rlp', 'second')).rejects.toMatchObject({ name: 'RepositoryError', code: 'DUPLICATE_PATH' });
    const reader = await repo.openBackup((await commit(writer)).backupId);
    expect((await readAll(reader.read('export/blocks.rlp'))).toString()).toBe('first');
  });

  it('throws DUPLICATE_PATH when a tree and a single file collide', async () => {
    const source = join(work, 'source');
    await mkdir(join(source, 'db'), { recursive: true });
    await writeFile(join(source, 'db/CURRENT'), 'MANIFEST-1\n');
    const writer = repo.startBackup();
    await writer.addTree(source, { as: 'node-1' });
    await expect(writer.addFile(join(source, 'db/CURRENT'), 'node-1/db/CURRENT')).rejects.toMatchObject({ code: 'DUPLICATE_PATH' });
    await expect(writer.addTree(source, { as: 'node-1' })).rejects.toMatchObject({ code: 'DUPLICATE_PATH' });
  });

  it('refuses a file inside a path that is already a file', async () => {
    const writer = repo.startBackup();
    await writer.writeFile('state', 'a file');
    await expect(writer.writeFile('state/inner', 'x')).rejects.toMatchObject({ code: 'INVALID_PATH' });
  });
});

describe('addTree', () => {
  it('places a tree under `as` and leaves out what the filter rejects', async () => {
    const source = join(work, 'source');
    await mkdir(join(source, 'chaindata'), { recursive: true });
    await mkdir(join(source, 'logs'));
    await writeFile(join(source, 'chaindata/000001.ldb'), 'data');
    await writeFile(join(source, 'logs/node.log'), 'noise');
    await writeFile(join(source, 'LOCK'), '');
    const writer = repo.startBackup();
    const summary = await writer.addTree(source, { as: 'nodes/validator-1', filter: (path) => path !== 'logs' && path !== 'LOCK' });
    const manifest = await commit(writer);
    expect(manifest.entries.map((e) => e.path)).toEqual(['.', 'nodes', 'nodes/validator-1', 'nodes/validator-1/chaindata', 'nodes/validator-1/chaindata/000001.ldb']);
    expect(summary).toEqual({ files: 1, directories: 1, symlinks: 0, bytes: 4 });
  });

  it('refuses a source that is not a directory, or is missing', async () => {
    await writeFile(join(work, 'plain'), 'x');
    const writer = repo.startBackup();
    await expect(writer.addTree(join(work, 'plain'))).rejects.toMatchObject({ code: 'INVALID_PATH' });
    await expect(writer.addTree(join(work, 'missing'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('cancelling a backup', () => {
  it('stops with ABORTED when the signal is aborted mid-backup, and leaves no backup behind', async () => {
    const source = join(work, 'source');
    await writeSampleTree(source, { bigFileBytes: 3 * MiB });
    const controller = new AbortController();
    const seen: string[] = [];
    const writer = repo.startBackup({
      backupId: 'cancelled',
      signal: controller.signal,
      onProgress: (progress) => {
        seen.push(progress.currentPath ?? '');
        controller.abort();
      },
    });
    await expect(writer.addTree(source)).rejects.toMatchObject({ name: 'RepositoryError', code: 'ABORTED' });
    // It stopped after the first chunk instead of reading the whole tree.
    expect(new Set(seen).size).toBe(1);
    await expect(commit(writer)).rejects.toMatchObject({ code: 'ABORTED' });
    expect(await repo.listBackups()).toEqual([]);
    expect(await repo.hasBackup('cancelled')).toBe(false);
    expect(await readdir(repoDir)).not.toContain('manifests');
    expect(await readdir(repoDir)).not.toContain('index');
  });
});
