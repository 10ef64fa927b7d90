import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareTrees, writeSampleTree } from '@chainvault/testing';
import { LocalBackend, Repository, type FileEntry, type Manifest } from './index';
import { fileEntry, readAll } from './spec-helpers';

const KiB = 1024;
const MiB = 1024 * KiB;

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

const files = (manifest: Manifest): FileEntry[] => manifest.entries.filter((e): e is FileEntry => e.type === 'file');

/** Keys of the objects under `prefix` of a local repository, as the format names them. */
async function keysUnder(repoDir: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  const walk = async (dir: string, key: string): Promise<void> => {
    let names: import('node:fs').Dirent[];
    try {
      names = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of names) {
      if (entry.isDirectory()) await walk(join(dir, entry.name), `${key}/${entry.name}`);
      else keys.push(`${key}/${entry.name}`);
    }
  };
  await walk(join(repoDir, prefix), prefix);
  return keys.sort();
}

/** An index file of a plain repository, as stored. */
interface StoredIndex {
  version: number;
  packs: { id: string; blobs: { id: string; offset: number; length: number; rawLength: number; encoding: string }[] }[];
}

async function readIndex(repoDir: string, key: string): Promise<StoredIndex> {
  return JSON.parse(await readFile(join(repoDir, key), 'utf8')) as StoredIndex;
}

const packPath = (repoDir: string, pack: string) => join(repoDir, 'data', pack.slice(0, 2), pack);

/** Flips one bit in the middle of the chunk's stored bytes, found through a second Repository on the same directory. */
async function damageChunk(repoDir: string, id: string): Promise<void> {
  const where = (await Repository.open(new LocalBackend(repoDir))).chunkLocation(id);
  if (!where) throw new Error(`chunk ${id} is in no pack`);
  const path = packPath(repoDir, where.pack);
  const data = await readFile(path);
  data[where.offset + (where.length >> 1)] ^= 0x01;
  await writeFile(path, data);
}

/** The files verify's problems name (one problem per damaged chunk a file uses). */
const namedFiles = (problems: string[]) => [...new Set(problems.map((p) => /^file "(.*?)": /s.exec(p)?.[1] ?? p))].sort();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('Repository.openOrInit and open', () => {
  it('creates a version 2 repository (content-defined chunks, 16 MiB packs, brotli, not encrypted) in an empty or missing directory, and reopens the same one', async () => {
    const location = join(work, 'new-repo');
    const created = await Repository.openOrInit(new LocalBackend(location));
    expect(created.config).toEqual({
      format: 'chainvault-repository',
      version: 2,
      id: expect.stringMatching(UUID),
      createdAt: expect.any(String),
      chunking: { algorithm: 'fastcdc-gear-v1', min: 512 * KiB, avg: MiB, max: 8 * MiB },
      packSize: 16 * MiB,
      compression: 'brotli',
      encryption: null,
    });
    expect(created.encrypted).toBe(false);
    const stored = JSON.parse(await readFile(join(location, 'chainvault-repository.json'), 'utf8'));
    expect(stored).toEqual(created.config);
    // A plain repository has no keys; the rest of the layout appears with the first backup.
    expect((await readdir(location)).sort()).toEqual(['chainvault-repository.json', 'tmp']);

    const reopened = await Repository.openOrInit(new LocalBackend(location));
    expect(reopened.config.id).toBe(created.config.id);
    expect(await reopened.listBackups()).toEqual([]);
  });

  it('records the chunk sizes, pack size and compression it was created with, and ignores them when reopening', async () => {
    const options = { chunkSizes: { min: 16 * KiB, avg: 64 * KiB, max: 256 * KiB }, packSize: 256 * KiB, compression: 'none' as const };
    const created = await Repository.openOrInit(new LocalBackend(work), options);
    expect(created.config).toMatchObject({ chunking: { algorithm: 'fastcdc-gear-v1', ...options.chunkSizes }, packSize: 256 * KiB, compression: 'none' });
    const reopened = await Repository.openOrInit(new LocalBackend(work), { packSize: MiB, compression: 'brotli' });
    expect(reopened.config).toEqual(created.config);
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

  it('open() does not create a repository, and refuses a version 1 repository and a newer one', async () => {
    await expect(Repository.open(new LocalBackend(work))).rejects.toMatchObject({ code: 'NOT_A_REPOSITORY' });
    expect(await readdir(work)).toEqual([]);

    await Repository.openOrInit(new LocalBackend(work));
    const configPath = join(work, 'chainvault-repository.json');
    const config = JSON.parse(await readFile(configPath, 'utf8'));
    for (const version of [1, 3]) {
      await writeFile(configPath, JSON.stringify({ ...config, version }));
      await expect(Repository.open(new LocalBackend(work))).rejects.toMatchObject({
        code: 'UNSUPPORTED_VERSION',
        message: expect.stringContaining(`version ${version}`),
      });
    }
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
    // The 5 MiB file is cut into several chunks of 512 KiB to 8 MiB whose plaintexts add up to it.
    const big = fileEntry(manifest, tree.bigFile);
    expect(big.chunks.length).toBeGreaterThan(1);
    expect(big.chunks.reduce((sum, id) => sum + repo.chunkLocation(id)!.rawLength, 0)).toBe(big.size);

    const restored = join(work, 'restored');
    const extracted = await (await repo.openBackup(manifest.backupId)).extractTree(restored);
    expect(await compareTrees(source, restored)).toEqual([]);
    expect(extracted).toEqual(added);
    expect((await stat(restored)).mode & 0o7777).toBe(tree.rootMode);
  });

  it('stores identical data once, in packs at data/<aa>/<random 256-bit name> listed by an index at index/<uuid>', async () => {
    const source = join(work, 'source');
    const tree = await writeSampleTree(source, { bigFileBytes: 2 * MiB + 7 });
    const repoDir = join(work, 'repo');
    // Chunks of about 64 KiB, so the three copies of one 1 MiB block line up on the same chunks.
    const repo = await Repository.openOrInit(new LocalBackend(repoDir), { chunkSizes: { min: 16 * KiB, avg: 64 * KiB, max: 256 * KiB }, packSize: 512 * KiB });
    const manifest = await backUp(repo, source);

    // The repeated file is one block three times, and that block also opens the big file.
    const repeated = fileEntry(manifest, tree.repeatedFile);
    expect(new Set(repeated.chunks).size).toBeLessThan(repeated.chunks.length);
    expect(repeated.chunks[0]).toBe(fileEntry(manifest, tree.bigFile).chunks[0]);
    expect(manifest.stats.chunksReused).toBeGreaterThan(0);
    expect(manifest.stats.logicalBytes - manifest.stats.storedBytes).toBeGreaterThanOrEqual(2 * MiB);

    // Packs: 256-bit names, under the first two hex digits of the name.
    const packKeys = await keysUnder(repoDir, 'data');
    expect(packKeys.length).toBeGreaterThan(1);
    const packs = new Map<string, Buffer>();
    for (const key of packKeys) {
      const id = key.split('/')[2];
      expect(key).toMatch(/^data\/([0-9a-f]{2})\/\1[0-9a-f]{62}$/);
      packs.set(id, await readFile(join(repoDir, key)));
    }

    // One index, for the one backup, listing every pack and every chunk the manifest names.
    const indexKeys = await keysUnder(repoDir, 'index');
    expect(indexKeys).toHaveLength(1);
    expect(indexKeys[0].slice('index/'.length)).toMatch(UUID);
    const index = await readIndex(repoDir, indexKeys[0]);
    expect(index.packs.map((p) => p.id).sort()).toEqual([...packs.keys()].sort());
    const blobs = index.packs.flatMap((p) => p.blobs.map((b) => ({ ...b, pack: p.id })));
    const referenced = new Set(files(manifest).flatMap((e) => e.chunks));
    expect(blobs.map((b) => b.id).sort()).toEqual([...referenced].sort());
    expect(blobs).toHaveLength(manifest.stats.chunksAdded);
    expect(blobs.reduce((sum, b) => sum + b.length, 0)).toBe(manifest.stats.storedBytes);

    // A plain repository's chunks can be checked with sha256sum: a raw blob is the chunk itself.
    for (const blob of blobs.filter((b) => b.encoding === 'raw')) {
      const bytes = packs.get(blob.pack)!.subarray(blob.offset, blob.offset + blob.length);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(blob.id);
    }
    // Each pack ends with its own header (JSON, then its length as 4 bytes little-endian), matching the index.
    for (const record of index.packs) {
      const data = packs.get(record.id)!;
      const headerLength = data.readUInt32LE(data.length - 4);
      const header = JSON.parse(data.subarray(data.length - 4 - headerLength, data.length - 4).toString('utf8'));
      expect(header.blobs).toEqual(record.blobs);
    }

    expect(JSON.parse(await readFile(join(repoDir, 'manifests', manifest.backupId), 'utf8'))).toEqual(manifest);
    expect((await readdir(repoDir)).sort()).toEqual(['chainvault-repository.json', 'data', 'index', 'manifests', 'tmp']);
  });
});

describe('an incremental backup', () => {
  it('reads only the changed file, stores only its new chunk in one new pack, and both backups restore their own version', async () => {
    const source = join(work, 'source');
    const tree = await writeSampleTree(source, { bigFileBytes: MiB + 1 });
    const repoDir = join(work, 'repo');
    const repo = await Repository.openOrInit(new LocalBackend(repoDir));
    const first = await backUp(repo, source);
    const packsBefore = await keysUnder(repoDir, 'data');
    const indexesBefore = await keysUnder(repoDir, 'index');

    const changed = 'block 1\nblock 2\nblock 3 appended after the first backup\n';
    await writeFile(join(source, tree.smallFile), changed);
    const second = await backUp(repo, source, first);

    expect(second.parent).toBe(first.backupId);
    expect(second.stats).toMatchObject({
      filesRead: 1,
      bytesRead: Buffer.byteLength(changed),
      filesUnchanged: files(second).length - 1,
      chunksAdded: 1,
      // Under 128 bytes a chunk is stored as it is: brotli would not make it smaller.
      storedBytes: Buffer.byteLength(changed),
    });
    const newPacks = (await keysUnder(repoDir, 'data')).filter((key) => !packsBefore.includes(key));
    const newIndexes = (await keysUnder(repoDir, 'index')).filter((key) => !indexesBefore.includes(key));
    expect(newPacks).toHaveLength(1);
    expect(newIndexes).toHaveLength(1);
    const index = await readIndex(repoDir, newIndexes[0]);
    expect(index.packs.map((p) => `data/${p.id.slice(0, 2)}/${p.id}`)).toEqual(newPacks);
    expect(index.packs[0].blobs.map((b) => b.id)).toEqual(fileEntry(second, tree.smallFile).chunks);

    const restored = join(work, 'restored');
    await (await repo.openBackup(second.backupId)).extractTree(restored);
    expect(await compareTrees(source, restored)).toEqual([]);
    const older = await readAll((await repo.openBackup(first.backupId)).read(tree.smallFile));
    expect(older.toString()).toBe('block 1\nblock 2\n');
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
    // 1 MiB packs: each holds one or two large chunks and the small files around them.
    repo = await Repository.openOrInit(new LocalBackend(repoDir), { packSize: MiB });
    manifest = await backUp(repo, join(work, 'source'));
  });

  it('passes an intact backup, reading every chunk it uses once', async () => {
    const result = await repo.verify(manifest.backupId, { readData: true });
    expect(result.problems).toEqual([]);
    const chunks = new Set(files(manifest).flatMap((e) => e.chunks));
    expect(result.files).toBe(files(manifest).length);
    expect(result.chunks).toBe(chunks.size);
    expect(result.packs).toBe((await keysUnder(repoDir, 'data')).length);
    expect(result.bytesRead).toBe([...chunks].reduce((sum, id) => sum + repo.chunkLocation(id)!.rawLength, 0));
    expect((await repo.verify(manifest.backupId, { readData: false })).problems).toEqual([]);
  });

  it('with readData, names only the file whose chunk has one flipped byte, and a restore of it fails as CORRUPT', async () => {
    const damaged = fileEntry(manifest, tree.smallFile).chunks[0];
    const where = repo.chunkLocation(damaged)!;
    // The pack also holds other files' chunks: they are not blamed.
    expect(files(manifest).filter((e) => e.path !== tree.smallFile && e.chunks.some((id) => repo.chunkLocation(id)!.pack === where.pack)).length).toBeGreaterThan(0);
    await damageChunk(repoDir, damaged);

    const result = await repo.verify(manifest.backupId, { readData: true });
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toContain(`"${tree.smallFile}"`);
    expect(result.problems[0]).toContain(`chunk ${damaged} is damaged`);

    const reader = await repo.openBackup(manifest.backupId);
    await expect(readAll(reader.read(tree.smallFile))).rejects.toMatchObject({ code: 'CORRUPT' });
    const restored = join(work, 'restored');
    await expect(reader.extractTree(restored)).rejects.toMatchObject({ name: 'RepositoryError', code: 'CORRUPT' });
    // Nothing damaged is left looking like restored data: neither the file nor a partial copy.
    // (Files are restored a few at a time, so entries after it may have been started.)
    const left = await readdir(join(restored, 'data/chain'));
    expect(left.filter((name) => tree.smallFile.endsWith(`/${name}`) || name.includes('chainvault-partial'))).toEqual([]);
  });

  it('without readData, names exactly the files with a chunk in a missing pack; a restore fails as CORRUPT', async () => {
    const chunks = fileEntry(manifest, tree.bigFile).chunks;
    const pack = repo.chunkLocation(chunks[chunks.length - 1])!.pack;
    await rm(packPath(repoDir, pack));
    const hurt = files(manifest)
      .filter((e) => e.chunks.some((id) => repo.chunkLocation(id)!.pack === pack))
      .map((e) => e.path);
    expect(hurt).toContain(tree.bigFile);

    const result = await repo.verify(manifest.backupId, { readData: false });
    expect(namedFiles(result.problems)).toEqual(hurt.sort());
    for (const problem of result.problems) expect(problem).toContain(`pack ${pack} is missing`);
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
