/**
 * Prune removes what no backup uses and nothing a backup needs, refuses to run beside a
 * backup, and leaves a valid repository wherever it is interrupted.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareTrees } from '@chainvault/testing';
import type { ObjectData, RepositoryBackend } from './backend';
import { LocalBackend } from './local-backend';
import { Repository, type RepositoryOptions } from './repository';
import { RepositoryLock } from './repository-lock';
import { RepositoryError } from './repository.errors';
import { leaveFailedBackup } from './spec-helpers';

const KiB = 1024;
const small: RepositoryOptions = { chunkSizes: { min: 4 * KiB, avg: 16 * KiB, max: 64 * KiB }, packSize: 256 * KiB, compression: 'none' };

async function listAll(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for (const name of await readdir(d, { withFileTypes: true })) {
      if (name.isDirectory()) await walk(join(d, name.name), `${rel}${name.name}/`);
      else out.push(`${rel}${name.name}`);
    }
  };
  await walk(dir, '');
  return out.sort();
}

async function backup(repository: Repository, dir: string) {
  const writer = repository.startBackup();
  await writer.addTree(dir);
  return writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
}

describe('prune', () => {
  let work: string;
  let repoDir: string;
  let source: string;

  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-prune-'));
    repoDir = join(work, 'repo');
    source = join(work, 'source');
    await mkdir(source);
  });

  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('frees the data only a deleted backup used, and the kept backup still verifies and restores', async () => {
    const repository = await Repository.openOrInit(new LocalBackend(repoDir), small);
    await writeFile(join(source, 'shared.bin'), randomBytes(600 * KiB));
    await writeFile(join(source, 'old-only.bin'), randomBytes(900 * KiB));
    const first = await backup(repository, source);
    await rm(join(source, 'old-only.bin'));
    await writeFile(join(source, 'new.bin'), randomBytes(300 * KiB));
    const second = await backup(repository, source);

    await repository.deleteBackup(first.backupId);
    const before = await listAll(repoDir);
    const dry = await repository.prune({ dryRun: true });
    expect(await listAll(repoDir)).toEqual(before);
    // Most of the 900 KiB only the deleted backup used; packs mostly still in use are kept whole.
    expect(dry.bytesFreed).toBeGreaterThan(600 * KiB);

    const result = await repository.prune();
    expect(result).toMatchObject({ backups: 1, dryRun: false });
    expect(result.bytesFreed).toBe(dry.bytesFreed);
    expect(result.packsDeleted + result.packsRepacked).toBeGreaterThan(0);
    // Repacking every pack with any waste frees exactly the rest.
    const rest = await repository.prune({ repackThreshold: 0 });
    expect(result.bytesFreed + rest.bytesFreed).toBe(900 * KiB);

    const reopened = await Repository.open(new LocalBackend(repoDir));
    expect((await reopened.verify(second.backupId, { readData: true })).problems).toEqual([]);
    const restored = join(work, 'restored');
    await (await reopened.openBackup(second.backupId)).extractTree(restored);
    expect(await compareTrees(source, restored)).toEqual([]);
    // Nothing unused is left: a second prune has nothing to do.
    expect((await reopened.prune()).bytesFreed).toBe(0);
  });

  it('will not run while a backup holds the repository, and loses nothing that backup needs', async () => {
    const repository = await Repository.openOrInit(new LocalBackend(repoDir), small);
    await writeFile(join(source, 'a.bin'), randomBytes(700 * KiB));
    const old = await backup(repository, source);
    await repository.deleteBackup(old.backupId);

    // A backup starts: it holds the shared lock and reuses chunks the deleted backup wrote.
    const lock = await repository.lock('shared', 'backup of node a');
    const writer = repository.startBackup();
    await writer.addTree(source);
    await expect(repository.prune()).rejects.toMatchObject({ code: 'LOCKED', message: expect.stringMatching(/locked by backup of node a/) });
    const manifest = await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
    await lock.release();

    await repository.prune();
    expect((await repository.verify(manifest.backupId, { readData: true })).problems).toEqual([]);
  });

  it('refuses a shared lock while prune holds the exclusive one, and ignores stale locks', async () => {
    const backend = new LocalBackend(repoDir);
    const repository = await Repository.openOrInit(backend, small);
    const exclusive = await repository.lock('exclusive', 'prune');
    await expect(repository.lock('shared', 'backup')).rejects.toMatchObject({ code: 'LOCKED' });
    await exclusive.release();

    // A lock left by a process that no longer exists on this host, and one nobody refreshed for long.
    const old = new Date(Date.now() - 3600_000).toISOString();
    await backend.put('locks/dead-process', Buffer.from(JSON.stringify({ exclusive: true, host: require('node:os').hostname(), pid: 2 ** 22 + 12345, purpose: 'prune', createdAt: old, refreshedAt: new Date().toISOString() })));
    await backend.put('locks/not-refreshed', Buffer.from(JSON.stringify({ exclusive: true, host: 'elsewhere', pid: 1, purpose: 'prune', createdAt: old, refreshedAt: old })));
    const shared = await repository.lock('shared', 'backup');
    expect((await RepositoryLock.live(backend)).map((l) => l.key)).toEqual([shared.key]);
    await shared.release();
  });

  // With room, prune takes its usual path; on a full destination, its old indexes go before the
  // new one is written. Either way a crash anywhere loses nothing the kept backup needs.
  it.each([
    ['with room to spare', false],
    ['on a full destination', true],
  ])('leaves a repository that verifies wherever it is interrupted, and a later prune finishes the job (%s)', async (_, full) => {
    const seed = await Repository.openOrInit(new LocalBackend(repoDir), small);
    await writeFile(join(source, 'keep.bin'), randomBytes(500 * KiB));
    await writeFile(join(source, 'drop.bin'), randomBytes(500 * KiB));
    const dropped = await backup(seed, source);
    await rm(join(source, 'drop.bin'));
    const kept = await backup(seed, source);
    await seed.deleteBackup(dropped.backupId);
    // A backup that failed before its index: its packs are named by no index, and used by nothing.
    // On the full destination there is none, so the room must come from the deleted backup's packs.
    if (!full) await leaveFailedBackup(repoDir, 600 * KiB);
    const pristine = join(work, 'pristine');
    await mkdir(pristine);
    const { cp } = await import('node:fs/promises');
    await cp(repoDir, pristine, { recursive: true });
    // The disk, full or not; what the interrupted prune freed stays free for the next one.
    const disk = async () => (full ? QuotaBackend.full(new LocalBackend(repoDir)) : new LocalBackend(repoDir));

    // Count the storage writes and deletes a full prune makes, then stop it after each one in turn.
    let steps = 0;
    await (await Repository.open(countingBackend(await disk(), () => (steps += 1)))).prune();
    expect(steps).toBeGreaterThan(3);

    for (let stopAt = 1; stopAt < steps; stopAt += 1) {
      await rm(repoDir, { recursive: true, force: true });
      await cp(pristine, repoDir, { recursive: true });
      let done = 0;
      const storage = await disk();
      const failing = countingBackend(storage, () => {
        done += 1;
        if (done === stopAt) throw new Error(`simulated crash at step ${stopAt}`);
      });
      await expect((await Repository.open(failing)).prune()).rejects.toThrow(/simulated crash/);
      const after = await Repository.open(storage);
      expect({ stopAt, problems: (await after.verify(kept.backupId, { readData: true })).problems }).toEqual({ stopAt, problems: [] });
      await after.prune();
      expect({ stopAt, problems: (await after.verify(kept.backupId, { readData: true })).problems }).toEqual({ stopAt, problems: [] });
      // On the full destination the half-used packs could not be copied; with the room the prune made, the next one does it.
      if (full) await after.prune();
      expect((await after.prune()).bytesFreed).toBe(0);
    }
  });
});

describe('prune on a full destination', () => {
  let work: string;
  let repoDir: string;

  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-prune-full-'));
    repoDir = join(work, 'repo');
  });

  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function keptBackup(bytes: number) {
    const repository = await Repository.openOrInit(new LocalBackend(repoDir), small);
    const writer = repository.startBackup();
    await writer.writeFile('kept.bin', randomBytes(bytes));
    return writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
  }

  it('deletes the packs of a failed backup before it writes anything, and frees the space back to what the kept backup needs', async () => {
    const kept = await keptBackup(300 * KiB);
    const needed = await storedBytes(repoDir);
    const packsBefore = new Set((await listAll(repoDir)).filter((k) => k.startsWith('data/')));
    const { packs: failedPacks } = await leaveFailedBackup(repoDir, 900 * KiB);
    expect(failedPacks).toBeGreaterThan(1);
    const failed = (await listAll(repoDir)).filter((k) => k.startsWith('data/') && !packsBefore.has(k));
    // The disk is full: a lock still fits, the new index of the kept packs does not.
    const storage = await QuotaBackend.full(new LocalBackend(repoDir));
    const repository = await Repository.open(storage);

    const result = await repository.prune();
    expect(result).toMatchObject({ packsDeleted: failedPacks, packsRepacked: 0, packsNotRepacked: 0 });
    // The failed backup's packs go first; only then is anything written.
    expect(storage.operations.slice(0, failedPacks).sort()).toEqual(failed.map((k) => `delete ${k}`).sort());
    expect(storage.operations[failedPacks]).toMatch(/^put index\//);
    expect(result.bytesFreed).toBeGreaterThanOrEqual(900 * KiB);
    // Only the kept backup's data is left (its index file was rewritten, a few bytes either way).
    expect(Math.abs((await storedBytes(repoDir)) - needed)).toBeLessThan(2 * KiB);
    const reopened = await Repository.open(new LocalBackend(repoDir));
    expect((await reopened.verify(kept.backupId, { readData: true })).problems).toEqual([]);
    expect((await reopened.prune()).bytesFreed).toBe(0);
  });

  it('when only deleted backups hold the space, lets the old indexes go before it writes the new one', async () => {
    const repository = await Repository.openOrInit(new LocalBackend(repoDir), small);
    const source = join(work, 'source');
    await mkdir(source);
    await writeFile(join(source, 'kept.bin'), randomBytes(300 * KiB));
    const kept = await backup(repository, source);
    await rm(join(source, 'kept.bin'));
    await writeFile(join(source, 'deleted.bin'), randomBytes(700 * KiB));
    const deleted = await backup(repository, source);
    await repository.deleteBackup(deleted.backupId);

    const full = await Repository.open(await QuotaBackend.full(new LocalBackend(repoDir)));
    const result = await full.prune();
    expect(result.bytesFreed).toBeGreaterThanOrEqual(700 * KiB);
    const reopened = await Repository.open(new LocalBackend(repoDir));
    expect((await reopened.verify(kept.backupId, { readData: true })).problems).toEqual([]);
    // One index names everything kept again: nothing is left to adopt from pack headers.
    expect((await readdir(join(repoDir, 'index'))).length).toBe(1);
    expect((await reopened.prune()).bytesFreed).toBe(0);
  });

  it('leaves half-empty packs whole when there is no room to copy them, and still frees the rest', async () => {
    const repository = await Repository.openOrInit(new LocalBackend(repoDir), { ...small, packSize: 1024 * KiB });
    const source = join(work, 'source');
    await mkdir(source);
    // Both files share one pack; once the backup of both is deleted, it is 40% used.
    await writeFile(join(source, 'kept.bin'), randomBytes(400 * KiB));
    await writeFile(join(source, 'deleted.bin'), randomBytes(600 * KiB));
    const deleted = await backup(repository, source);
    await rm(join(source, 'deleted.bin'));
    const kept = await backup(repository, source);
    await repository.deleteBackup(deleted.backupId);
    await leaveFailedBackup(repoDir, 300 * KiB);
    const dry = await repository.prune({ dryRun: true });
    expect(dry.packsRepacked).toBeGreaterThan(0);

    // Room for the new index once the failed backup's pack is gone, not for a copied pack.
    const storage = await QuotaBackend.full(new LocalBackend(repoDir), 64 * KiB);
    const result = await (await Repository.open(storage)).prune();
    expect(result).toMatchObject({ packsRepacked: 0, packsNotRepacked: dry.packsRepacked, packsWritten: 0 });
    expect(result.bytesFreed).toBeGreaterThanOrEqual(300 * KiB);
    expect(result.bytesFreed).toBeLessThan(dry.bytesFreed);
    const reopened = await Repository.open(new LocalBackend(repoDir));
    expect((await reopened.verify(kept.backupId, { readData: true })).problems).toEqual([]);
    // With room again, the next prune repacks what this one could not.
    expect((await reopened.prune()).packsRepacked).toBe(dry.packsRepacked);
    expect((await reopened.verify(kept.backupId, { readData: true })).problems).toEqual([]);
  });

  it('stops with NO_SPACE saying how much its index needs when deleting cannot make room, and loses nothing', async () => {
    const repository = await Repository.openOrInit(new LocalBackend(repoDir), small);
    const source = join(work, 'source');
    await mkdir(source);
    // Many chunks make a large index; the deleted backup frees almost nothing.
    await writeFile(join(source, 'kept.bin'), randomBytes(2 * 1024 * KiB));
    const kept = await backup(repository, source);
    await writeFile(join(source, 'tiny.bin'), randomBytes(KiB));
    const deleted = await backup(repository, source);
    await repository.deleteBackup(deleted.backupId);
    // The kept backup's index is lost: its packs are found from their headers, and the new index must name them all.
    for (const name of await readdir(join(repoDir, 'index'))) {
      const { readFile } = await import('node:fs/promises');
      if (!(await readFile(join(repoDir, 'index', name), 'utf8')).includes(fileChunk(deleted, 'tiny.bin'))) await rm(join(repoDir, 'index', name));
    }

    const full = await Repository.open(await QuotaBackend.full(new LocalBackend(repoDir)));
    const error = await full.prune().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RepositoryError);
    expect(error).toMatchObject({
      code: 'NO_SPACE',
      message: expect.stringMatching(/^prune cannot write its new index on the destination at .*: the index needs \d+\.\d KiB and .* does not say how much space it has left; free some space on the destination and run prune again/),
      space: { neededBytes: expect.any(Number), freeBytes: null },
    });
    expect((error as RepositoryError).space!.neededBytes).toBeGreaterThan(10 * KiB);
    // It gave up before touching the index it could not replace: nothing has to be found from pack headers again.
    expect(await readdir(join(repoDir, 'index'))).toHaveLength(1);
    const reopened = await Repository.open(new LocalBackend(repoDir));
    expect((await reopened.verify(kept.backupId, { readData: true })).problems).toEqual([]);
    // Given room, it finishes.
    expect((await reopened.prune()).packsDeleted).toBe(1);
    expect((await reopened.verify(kept.backupId, { readData: true })).problems).toEqual([]);
  });
});

function fileChunk(manifest: { entries: { path: string; type: string; chunks?: string[] }[] }, path: string): string {
  return manifest.entries.find((e) => e.path === path)!.chunks![0];
}

/** Bytes of the objects in a repository directory (what a prune should bring back down). */
async function storedBytes(dir: string): Promise<number> {
  const { stat } = await import('node:fs/promises');
  let total = 0;
  for (const key of await listAll(dir)) if (!key.startsWith('locks/')) total += (await stat(join(dir, key))).size;
  return total;
}

/**
 * A backend with a byte quota, like a small disk: a write that would pass it fails with NO_SPACE
 * and takes nothing; deletes give their bytes back.
 */
class QuotaBackend implements RepositoryBackend {
  private used = 0;
  private readonly sizes = new Map<string, number>();
  /** Puts and deletes, in order (locks left out). */
  readonly operations: string[] = [];

  private constructor(
    private readonly inner: RepositoryBackend,
    private limit: number,
  ) {}

  /** The backend as it is, with `slack` bytes left: room for a lock (a few hundred bytes), not for an index. */
  static async full(inner: RepositoryBackend, slack = 512): Promise<QuotaBackend> {
    const quota = new QuotaBackend(inner, 0);
    for (const key of await inner.list('')) {
      const size = (await inner.get(key)).length;
      quota.sizes.set(key, size);
      quota.used += size;
    }
    quota.limit = quota.used + slack;
    return quota;
  }

  get location(): string {
    return this.inner.location;
  }

  get(key: string, range?: { offset: number; length: number }): Promise<Buffer> {
    return this.inner.get(key, range);
  }

  has(key: string): Promise<boolean> {
    return this.inner.has(key);
  }

  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }

  async put(key: string, data: ObjectData): Promise<void> {
    const size = Array.isArray(data) ? (data as Uint8Array[]).reduce((n, d) => n + d.byteLength, 0) : (data as Uint8Array).byteLength;
    const after = this.used - (this.sizes.get(key) ?? 0) + size;
    if (!key.startsWith('locks/')) this.operations.push(`put ${key}`);
    if (after > this.limit) throw new RepositoryError('NO_SPACE', `no space left while writing ${key} to ${this.location}`);
    await this.inner.put(key, data);
    this.used = after;
    this.sizes.set(key, size);
  }

  async delete(key: string): Promise<void> {
    if (!key.startsWith('locks/')) this.operations.push(`delete ${key}`);
    await this.inner.delete(key);
    this.used -= this.sizes.get(key) ?? 0;
    this.sizes.delete(key);
  }
}

/** A backend that calls `step` before every put and delete of data, indexes and locks' removal. */
function countingBackend(inner: RepositoryBackend, step: () => void): RepositoryBackend {
  return {
    location: inner.location,
    get: (key, range) => inner.get(key, range),
    has: (key) => inner.has(key),
    list: (prefix) => inner.list(prefix),
    put: async (key, data) => {
      if (!key.startsWith('locks/')) step();
      return inner.put(key, data);
    },
    delete: async (key) => {
      if (!key.startsWith('locks/')) step();
      return inner.delete(key);
    },
  };
}
