import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareTrees, writeSampleTree } from '@chainvault/testing';
import { LocalBackend, Repository, type FileEntry, type Manifest } from './index';

const MiB = 1024 * 1024;

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'chainvault-repository-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

async function backUp(repo: Repository, source: string, previous: Manifest | null = null): Promise<Manifest> {
  const writer = repo.startBackup({ previous });
  await writer.addTree(source);
  return writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
}

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

function fileEntry(manifest: Manifest, path: string): FileEntry {
  const entry = manifest.entries.find((e) => e.path === path);
  if (entry?.type !== 'file') throw new Error(`the manifest has no file "${path}"`);
  return entry;
}

function chunkFile(repoDir: string, id: string): string {
  return join(repoDir, 'chunks', id.slice(0, 2), id);
}

async function chunkFiles(repoDir: string): Promise<string[]> {
  const names: string[] = [];
  for (const prefix of await readdir(join(repoDir, 'chunks'))) {
    for (const name of await readdir(join(repoDir, 'chunks', prefix))) names.push(`${prefix}/${name}`);
  }
  return names;
}

describe('Repository.openOrInit and open', () => {
  it('creates a version 1 repository with 1 MiB fixed-size chunks in an empty or missing directory, and reopens the same one', async () => {
    const location = join(work, 'new-repo');
    const created = await Repository.openOrInit(new LocalBackend(location));
    expect(created.config).toMatchObject({
      format: 'chainvault-repository',
      version: 1,
      chunking: { algorithm: 'fixed', size: MiB },
      hash: 'sha256',
    });
    const stored = JSON.parse(await readFile(join(location, 'chainvault-repository.json'), 'utf8'));
    expect(stored).toEqual(created.config);

    const reopened = await Repository.openOrInit(new LocalBackend(location));
    expect(reopened.config.id).toBe(created.config.id);
    expect(await reopened.listBackups()).toEqual([]);
  });

  it('initialises a location that holds only the tmp/ left by an init that crashed', async () => {
    await mkdir(join(work, 'tmp'));
    await writeFile(join(work, 'tmp', 'abandoned.tmp'), 'half a config');
    const repo = await Repository.openOrInit(new LocalBackend(work));
    expect(repo.config.format).toBe('chainvault-repository');
  });

  it('refuses a non-empty directory that is not a repository, and writes nothing into it', async () => {
    await writeFile(join(work, 'notes.txt'), 'someone else’s data');
    await expect(Repository.openOrInit(new LocalBackend(work))).rejects.toMatchObject({ name: 'RepositoryError', code: 'NOT_A_REPOSITORY' });
    expect(await readdir(work)).toEqual(['notes.txt']);
  });

  it('open() does not create a repository, and refuses a newer format version', async () => {
    await expect(Repository.open(new LocalBackend(work))).rejects.toMatchObject({ code: 'NOT_A_REPOSITORY' });
    expect(await readdir(work)).toEqual([]);

    await Repository.openOrInit(new LocalBackend(work));
    const configPath = join(work, 'chainvault-repository.json');
    await writeFile(configPath, JSON.stringify({ ...JSON.parse(await readFile(configPath, 'utf8')), version: 2 }));
    await expect(Repository.open(new LocalBackend(work))).rejects.toMatchObject({ code: 'UNSUPPORTED_VERSION' });
  });
});

describe('a backup round trip', () => {
  it('restores a tree exactly: paths, types, bytes, modes, symlink targets, mtimes and the root directory', async () => {
    const source = join(work, 'source');
    const tree = await writeSampleTree(source);
    const repoDir = join(work, 'repo');
    const repo = await Repository.openOrInit(new LocalBackend(repoDir));

    const writer = repo.startBackup();
    const added = await writer.addTree(source);
    const manifest = await writer.commit({ createdAt: new Date(), labels: { plugin: 'directory' }, metadata: { height: 42 } });
    expect(await repo.listBackups()).toEqual([manifest.backupId]);
    expect(await repo.readManifest(manifest.backupId)).toEqual(manifest);
    expect(manifest).toMatchObject({ parent: null, labels: { plugin: 'directory' }, metadata: { height: 42 } });
    // The big file spans several 1 MiB chunks and ends in a short one.
    expect(fileEntry(manifest, tree.bigFile).chunks).toHaveLength(6);

    const restored = join(work, 'restored');
    const extracted = await (await repo.openBackup(manifest.backupId)).extractTree(restored);
    expect(await compareTrees(source, restored)).toEqual([]);
    expect(extracted).toEqual(added);
    expect((await stat(restored)).mode & 0o7777).toBe(tree.rootMode);
  });

  it('stores identical data once and lays chunks out as chunks/<first two hex digits>/<sha256>', async () => {
    const source = join(work, 'source');
    const tree = await writeSampleTree(source, { bigFileBytes: 2 * MiB + 7 });
    const repoDir = join(work, 'repo');
    const manifest = await backUp(await Repository.openOrInit(new LocalBackend(repoDir)), source);

    // The repeated file is one block three times, and that block also opens the big file.
    const repeated = fileEntry(manifest, tree.repeatedFile);
    expect(new Set(repeated.chunks).size).toBe(1);
    expect(repeated.chunks[0]).toBe(fileEntry(manifest, tree.bigFile).chunks[0]);
    expect(manifest.stats.chunksReused).toBeGreaterThanOrEqual(3);
    expect(manifest.stats.logicalBytes - manifest.stats.storedBytes).toBeGreaterThanOrEqual(3 * MiB);

    const files = await chunkFiles(repoDir);
    const referenced = new Set(manifest.entries.flatMap((e) => (e.type === 'file' ? e.chunks : [])));
    expect(files.map((f) => f.split('/')[1]).sort()).toEqual([...referenced].sort());
    let onDisk = 0;
    for (const name of files) {
      const data = await readFile(join(repoDir, 'chunks', name));
      const id = createHash('sha256').update(data).digest('hex');
      expect(name).toBe(`${id.slice(0, 2)}/${id}`);
      onDisk += data.length;
    }
    expect(onDisk).toBe(manifest.stats.storedBytes);
    expect(manifest.stats.chunksAdded).toBe(files.length);
  });
});

describe('an incremental backup', () => {
  it('reads only the changed file, stores only its new chunk, and both backups restore their own version', async () => {
    const source = join(work, 'source');
    const tree = await writeSampleTree(source, { bigFileBytes: MiB + 1 });
    const repoDir = join(work, 'repo');
    const repo = await Repository.openOrInit(new LocalBackend(repoDir));
    const first = await backUp(repo, source);
    const chunksBefore = (await chunkFiles(repoDir)).length;

    const changed = 'block 1\nblock 2\nblock 3 appended after the first backup\n';
    await writeFile(join(source, tree.smallFile), changed);
    const second = await backUp(repo, source, first);

    const fileCount = second.entries.filter((e) => e.type === 'file').length;
    expect(second.parent).toBe(first.backupId);
    expect(second.stats).toMatchObject({
      filesRead: 1,
      bytesRead: Buffer.byteLength(changed),
      filesUnchanged: fileCount - 1,
      chunksAdded: 1,
      storedBytes: Buffer.byteLength(changed),
    });
    expect(await chunkFiles(repoDir)).toHaveLength(chunksBefore + 1);

    const restored = join(work, 'restored');
    await (await repo.openBackup(second.backupId)).extractTree(restored);
    expect(await compareTrees(source, restored)).toEqual([]);
    const older = await readAll((await repo.openBackup(first.backupId)).read(tree.smallFile));
    expect(older.toString()).toBe('block 1\nblock 2\n');
  });
});

describe('a backup that is never committed', () => {
  it('is invisible, and the next backup reuses the chunks it wrote', async () => {
    const source = join(work, 'source');
    await writeSampleTree(source, { bigFileBytes: MiB + 1 });
    const repoDir = join(work, 'repo');
    const repo = await Repository.openOrInit(new LocalBackend(repoDir));
    const abandoned = repo.startBackup({ backupId: 'abandoned' });
    await abandoned.addTree(source);
    expect((await chunkFiles(repoDir)).length).toBeGreaterThan(0);

    expect(await repo.listBackups()).toEqual([]);
    expect(await repo.hasBackup('abandoned')).toBe(false);
    await expect(repo.readManifest('abandoned')).rejects.toMatchObject({ name: 'RepositoryError', code: 'NOT_FOUND' });

    // A new process, as after a crash: nothing is remembered but what is on storage.
    const reopened = await Repository.open(new LocalBackend(repoDir));
    const manifest = await backUp(reopened, source);
    expect(manifest.stats.chunksReused).toBeGreaterThan(0);
    expect(manifest.stats).toMatchObject({ chunksAdded: 0, storedBytes: 0 });
    expect(await reopened.listBackups()).toEqual([manifest.backupId]);
    const restored = join(work, 'restored');
    await (await reopened.openBackup(manifest.backupId)).extractTree(restored);
    expect(await compareTrees(source, restored)).toEqual([]);
  });
});

describe('verify', () => {
  let repoDir: string;
  let repo: Repository;
  let manifest: Manifest;
  let tree: Awaited<ReturnType<typeof writeSampleTree>>;
  beforeEach(async () => {
    tree = await writeSampleTree(join(work, 'source'), { bigFileBytes: 2 * MiB + 9 });
    repoDir = join(work, 'repo');
    repo = await Repository.openOrInit(new LocalBackend(repoDir));
    manifest = await backUp(repo, join(work, 'source'));
  });

  it('passes an intact backup, reading every byte of every file', async () => {
    const result = await repo.verify(manifest.backupId, { readData: true });
    expect(result.problems).toEqual([]);
    expect(result.files).toBe(manifest.entries.filter((e) => e.type === 'file').length);
    expect(result.bytesRead).toBe(manifest.stats.logicalBytes);
    expect((await repo.verify(manifest.backupId, { readData: false })).problems).toEqual([]);
  });

  it('with readData, names the file whose chunk has one flipped byte, and a restore of it fails as CORRUPT', async () => {
    const path = chunkFile(repoDir, fileEntry(manifest, tree.smallFile).chunks[0]);
    const data = await readFile(path);
    data[3] ^= 0x01;
    await writeFile(path, data);

    const result = await repo.verify(manifest.backupId, { readData: true });
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toContain(`"${tree.smallFile}"`);

    const reader = await repo.openBackup(manifest.backupId);
    await expect(readAll(reader.read(tree.smallFile))).rejects.toMatchObject({ code: 'CORRUPT' });
    const restored = join(work, 'restored');
    await expect(reader.extractTree(restored)).rejects.toMatchObject({ name: 'RepositoryError', code: 'CORRUPT' });
    // Nothing damaged is left looking like restored data.
    expect(await readdir(join(restored, 'data/chain'))).toEqual([]);
  });

  it('without readData, names the file whose chunk file is missing; a restore fails as CORRUPT', async () => {
    const chunks = fileEntry(manifest, tree.bigFile).chunks;
    await rm(chunkFile(repoDir, chunks[chunks.length - 1]));

    const result = await repo.verify(manifest.backupId, { readData: false });
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatch(new RegExp(`"${tree.bigFile}".*missing`));
    await expect((await repo.openBackup(manifest.backupId)).extractTree(join(work, 'restored'))).rejects.toMatchObject({ code: 'CORRUPT' });
  });

  it('reports a backup that does not exist instead of passing it', async () => {
    const result = await repo.verify('no-such-backup', { readData: true });
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toContain('no-such-backup');
  });

  it('stops with ABORTED when its signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(repo.verify(manifest.backupId, { readData: true, signal: controller.signal })).rejects.toMatchObject({ code: 'ABORTED' });
  });
});

describe('deleteBackup', () => {
  it('removes the backup from the list and keeps the chunks another backup needs', async () => {
    const source = join(work, 'source');
    await writeSampleTree(source, { bigFileBytes: 1000 });
    const repo = await Repository.openOrInit(new LocalBackend(join(work, 'repo')));
    const first = await backUp(repo, source);
    const second = await backUp(repo, source, first);
    await repo.deleteBackup(first.backupId);
    expect(await repo.listBackups()).toEqual([second.backupId]);
    expect((await repo.verify(second.backupId, { readData: true })).problems).toEqual([]);
  });
});
