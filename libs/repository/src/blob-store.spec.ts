import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareTrees, writeSampleTree } from '@chainvault/testing';
import { LocalBackend, Repository, RepositoryError, type FileEntry, type Manifest } from './index';
import { mountTmpfs } from './spec-helpers';

const KiB = 1024;
const MiB = 1024 * KiB;
/** Chunks of about 64 KiB in packs of 256 KiB, so a few MiB make many packs. */
const SMALL = { chunkSizes: { min: 16 * KiB, avg: 64 * KiB, max: 256 * KiB }, packSize: 256 * KiB };

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'chainvault-blob-store-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A local backend whose uploads a test can wait for: the process "dies" once they have landed. */
class SettlingBackend extends LocalBackend {
  private readonly inFlight = new Set<Promise<void>>();

  override async put(key: string, data: Uint8Array): Promise<void> {
    const upload = super.put(key, data);
    this.inFlight.add(upload);
    try {
      await upload;
    } finally {
      this.inFlight.delete(upload);
    }
  }

  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}

/** A local backend on which the process dies just before the manifest is written. */
class DiesBeforeManifestBackend extends LocalBackend {
  override async put(key: string, data: Uint8Array): Promise<void> {
    if (key.startsWith('manifests/')) throw new Error('killed');
    return super.put(key, data);
  }
}

const details = { createdAt: new Date(), labels: {}, metadata: {} };

async function backUp(repo: Repository, source: string, previous: Manifest | null = null): Promise<Manifest> {
  const writer = repo.startBackup({ previous });
  await writer.addTree(source);
  return writer.commit(details);
}

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

const files = (manifest: Manifest): FileEntry[] => manifest.entries.filter((e): e is FileEntry => e.type === 'file');

/** The files verify's problems name (one problem per damaged chunk a file uses). */
const namedFiles = (problems: string[]) => [...new Set(problems.map((p) => /^file "(.*?)": /s.exec(p)?.[1] ?? p))].sort();

/** Pack ids on storage. */
async function packsOnDisk(repoDir: string): Promise<string[]> {
  const ids: string[] = [];
  for (const prefix of await readdir(join(repoDir, 'data')).catch(() => [])) ids.push(...(await readdir(join(repoDir, 'data', prefix))));
  return ids.sort();
}

/** Pack ids the index files of a plain repository list. */
async function indexedPacks(repoDir: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const name of await readdir(join(repoDir, 'index')).catch(() => [])) {
    const index = JSON.parse(await readFile(join(repoDir, 'index', name), 'utf8')) as { packs: { id: string }[] };
    for (const pack of index.packs) ids.add(pack.id);
  }
  return ids;
}

const packPath = (repoDir: string, pack: string) => join(repoDir, 'data', pack.slice(0, 2), pack);

describe('a backup killed before it committed', () => {
  it('is invisible, leaves earlier backups verifiable, and its uploaded packs are adopted, reused and indexed by the next backup', async () => {
    const repoDir = join(work, 'repo');
    const backend = new SettlingBackend(repoDir);
    const repo = await Repository.openOrInit(backend, SMALL);
    const earlier = repo.startBackup();
    await earlier.writeFile('earlier.bin', randomBytes(600 * KiB));
    const kept = await earlier.commit(details);
    const packsBefore = await packsOnDisk(repoDir);

    const source = join(work, 'source');
    await writeSampleTree(source, { bigFileBytes: 3 * MiB });
    const abandoned = repo.startBackup({ backupId: 'abandoned' });
    await abandoned.addTree(source);
    // Without the packs it left, the next backup would store all of this again.
    expect(abandoned.currentStats.storedBytes).toBeGreaterThan(3 * MiB);
    // The process dies here: the packs it started uploading have landed, the last one was never closed.
    await backend.settled();

    const orphans = (await packsOnDisk(repoDir)).filter((id) => !packsBefore.includes(id));
    expect(orphans.length).toBeGreaterThan(5);
    const indexed = await indexedPacks(repoDir);
    expect(orphans.filter((id) => indexed.has(id))).toEqual([]);
    expect(await repo.listBackups()).toEqual([kept.backupId]);
    expect(await repo.hasBackup('abandoned')).toBe(false);
    await expect(repo.readManifest('abandoned')).rejects.toMatchObject({ name: 'RepositoryError', code: 'NOT_FOUND' });
    expect((await repo.verify(kept.backupId, { readData: true })).problems).toEqual([]);

    // A new process, as after a crash: nothing is remembered but what is on storage.
    const reopened = await Repository.open(new LocalBackend(repoDir));
    expect((await reopened.verify(kept.backupId, { readData: true })).problems).toEqual([]);
    const manifest = await backUp(reopened, source);
    expect(manifest.stats.chunksReused).toBeGreaterThan(0);
    // Only what was still in the pack being filled when the process died is stored again.
    expect(manifest.stats.storedBytes).toBeLessThan(SMALL.packSize);

    const indexedAfter = await indexedPacks(repoDir);
    expect(orphans.filter((id) => !indexedAfter.has(id))).toEqual([]);
    expect([...indexedAfter].sort()).toEqual(await packsOnDisk(repoDir));
    expect((await reopened.verify(manifest.backupId, { readData: true })).problems).toEqual([]);
    const restored = join(work, 'restored');
    await (await Repository.open(new LocalBackend(repoDir))).openBackup(manifest.backupId).then((reader) => reader.extractTree(restored));
    expect(await compareTrees(source, restored)).toEqual([]);
  });

  it('between its index and its manifest leaves no backup, and the next backup stores nothing again', async () => {
    const repoDir = join(work, 'repo');
    const source = join(work, 'source');
    await writeSampleTree(source, { bigFileBytes: MiB });
    const dying = await Repository.openOrInit(new DiesBeforeManifestBackend(repoDir), SMALL);
    const writer = dying.startBackup({ backupId: 'killed' });
    await writer.addTree(source);
    await expect(writer.commit(details)).rejects.toThrow('killed');

    const repo = await Repository.open(new LocalBackend(repoDir));
    expect(await repo.listBackups()).toEqual([]);
    const manifest = await backUp(repo, source);
    expect(manifest.stats).toMatchObject({ chunksAdded: 0, storedBytes: 0 });
    await (await repo.openBackup(manifest.backupId)).extractTree(join(work, 'restored'));
    expect(await compareTrees(source, join(work, 'restored'))).toEqual([]);
  });
});

describe('a damaged pack shared by two backups', () => {
  let repoDir: string;
  let repo: Repository;
  let first: Manifest;
  let second: Manifest;
  let tree: Awaited<ReturnType<typeof writeSampleTree>>;
  /** The first pack written: the chunk of data/CURRENT, then the first chunks of data/big.bin. */
  let pack: string;
  beforeEach(async () => {
    const source = join(work, 'source');
    tree = await writeSampleTree(source, { bigFileBytes: MiB });
    repoDir = join(work, 'repo');
    repo = await Repository.openOrInit(new LocalBackend(repoDir), SMALL);
    first = await backUp(repo, source);
    await writeFile(join(source, tree.smallFile), 'changed after the first backup\n');
    second = await backUp(repo, source, first);
    const current = files(first).find((e) => e.path === 'data/CURRENT')!;
    pack = repo.chunkLocation(current.chunks[0])!.pack;
  });

  /** Files of `manifest` with a chunk in `pack`. */
  const inPack = (manifest: Manifest) => files(manifest).filter((e) => e.chunks.some((id) => repo.chunkLocation(id)!.pack === pack)).map((e) => e.path).sort();

  it('with one flipped byte, verify of each backup names exactly the files that use the damaged chunk, and the rest of the pack still restores', async () => {
    expect(inPack(first)).toEqual(['data/CURRENT', tree.bigFile, tree.repeatedFile].sort());
    expect(inPack(second)).toEqual(inPack(first));
    const damaged = files(first).find((e) => e.path === 'data/CURRENT')!.chunks[0];
    // Found through a second Repository, from the index on storage.
    const where = (await Repository.open(new LocalBackend(repoDir))).chunkLocation(damaged)!;
    expect(where.pack).toBe(pack);
    const bytes = await readFile(packPath(repoDir, pack));
    bytes[where.offset + (where.length >> 1)] ^= 0x80;
    await writeFile(packPath(repoDir, pack), bytes);

    for (const manifest of [first, second]) {
      const result = await repo.verify(manifest.backupId, { readData: true });
      expect(namedFiles(result.problems)).toEqual(['data/CURRENT']);
      const reader = await repo.openBackup(manifest.backupId);
      await expect(readAll(reader.read('data/CURRENT'))).rejects.toMatchObject({ code: 'CORRUPT', message: expect.stringContaining('data/CURRENT') });
      const big = await readAll(reader.read(tree.bigFile));
      expect(big.equals(await readFile(join(work, 'source', tree.bigFile)))).toBe(true);
    }
  });

  it('when its file is deleted, verify without readData names every file with a chunk in it as missing, in both backups', async () => {
    await rm(packPath(repoDir, pack));
    for (const manifest of [first, second]) {
      const result = await repo.verify(manifest.backupId, { readData: false });
      expect(namedFiles(result.problems)).toEqual(inPack(manifest));
      for (const problem of result.problems) expect(problem).toMatch(new RegExp(`pack ${pack} is missing$`));
      expect(namedFiles((await repo.verify(manifest.backupId, { readData: true })).problems)).toEqual(inPack(manifest));
    }
  });
});

describe('a backup on a full destination', () => {
  /** Waits until no upload is in flight: a failed backup's other uploads finish on their own. */
  async function uploadsLanded(backend: LocalBackend): Promise<void> {
    for (let i = 0; i < 100 && (await backend.list('tmp/')).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
  }

  it('on a small local file system, stops before the last MiB with NO_SPACE naming what it needed and what was free, so a prune can still run', async () => {
    const tmpfs = await mountTmpfs(4 * MiB);
    if (!tmpfs) return;
    try {
      const backend = new LocalBackend(join(tmpfs.dir, 'repo'));
      const repo = await Repository.openOrInit(backend, { ...SMALL, compression: 'none' });
      const kept = repo.startBackup();
      await kept.writeFile('kept.bin', randomBytes(100 * KiB));
      const committed = await kept.commit(details);

      const writer = repo.startBackup();
      const error = await writer.writeFile('big.bin', randomBytes(8 * MiB)).catch((e: unknown) => e);
        expect(error).toMatchObject({
        name: 'RepositoryError',
        code: 'NO_SPACE',
        message: expect.stringMatching(
          new RegExp(`^no room on the destination at ${tmpfs.dir}/repo for the next pack: it needs [\\d.]+ [KM]iB \\(a pack of [\\d.]+ KiB, .*and 1\\.0 MiB kept free so that a prune can run\\) and [\\d.]+ [KM]iB of 4\\.0 MiB is free$`),
        ),
        space: { totalBytes: 4 * MiB, freeBytes: expect.any(Number), neededBytes: expect.any(Number), packsWritten: expect.any(Number) },
      });
      const space = (error as RepositoryError).space!;
      expect(space.freeBytes!).toBeLessThan(space.neededBytes);
      expect(space.packsWritten!).toBeGreaterThan(5);
      await uploadsLanded(backend);
      const { statfs } = await import('node:fs/promises');
      const after = await statfs(tmpfs.dir);
      expect(after.bavail * after.bsize).toBeGreaterThanOrEqual(MiB);

      // The room left is enough for a check to report the leftovers and a prune to remove them.
      const reopened = await Repository.open(new LocalBackend(join(tmpfs.dir, 'repo')));
      const report = await reopened.check({ readData: false });
      expect(report.unreferenced!.unindexedPacks).toBeGreaterThanOrEqual(space.packsWritten!);
      expect((await reopened.prune()).packsDeleted).toBe(report.unreferenced!.packs);
      expect((await reopened.verify(committed.backupId, { readData: true })).problems).toEqual([]);
    } finally {
      await tmpfs.unmount();
    }
  });

  it('that runs out while writing a pack says how big the pack was, and that the backend does not tell its free space', async () => {
    const repoDir = join(work, 'repo');
    const local = new LocalBackend(repoDir);
    let packs = 0;
    const full = Object.assign(Object.create(null) as object, {
      location: 'sftp://backup@vault:22/srv/repo',
      get: local.get.bind(local),
      has: local.has.bind(local),
      list: local.list.bind(local),
      delete: local.delete.bind(local),
      put: async (key: string, data: Uint8Array) => {
        if (key.startsWith('data/') && ++packs > 3) throw new RepositoryError('NO_SPACE', `no space left while writing ${key}`);
        return local.put(key, data);
      },
    });
    const repo = await Repository.openOrInit(full as LocalBackend, { ...SMALL, compression: 'none' });
    const writer = repo.startBackup();
    const error = await writer.writeFile('big.bin', randomBytes(4 * MiB)).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'NO_SPACE',
      message: expect.stringMatching(/^no space left on the destination at sftp:\/\/backup@vault:22\/srv\/repo for a pack of \d+\.\d KiB: sftp:\/\/backup@vault:22\/srv\/repo does not say how much space it has left$/),
      space: { freeBytes: null, totalBytes: null },
    });
    // The fourth pack failed; the three before it, uploaded alongside it, had all landed.
    const { packsWritten, bytesWritten } = (error as RepositoryError).space!;
    expect(packsWritten).toBe(3);
    expect(bytesWritten).toBeGreaterThanOrEqual(3 * SMALL.packSize);
  });
});
