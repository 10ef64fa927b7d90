/**
 * Prune removes what no backup uses and nothing a backup needs, refuses to run beside a
 * backup, and leaves a valid repository wherever it is interrupted.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareTrees } from '@chainvault/testing';
import type { RepositoryBackend } from './backend';
import { LocalBackend } from './local-backend';
import { Repository, type RepositoryOptions } from './repository';
import { RepositoryLock } from './repository-lock';

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

  it('leaves a repository that verifies wherever it is interrupted, and a later prune finishes the job', async () => {
    const seed = await Repository.openOrInit(new LocalBackend(repoDir), small);
    await writeFile(join(source, 'keep.bin'), randomBytes(500 * KiB));
    await writeFile(join(source, 'drop.bin'), randomBytes(500 * KiB));
    const dropped = await backup(seed, source);
    await rm(join(source, 'drop.bin'));
    const kept = await backup(seed, source);
    await seed.deleteBackup(dropped.backupId);
    const pristine = join(work, 'pristine');
    await mkdir(pristine);
    const { cp } = await import('node:fs/promises');
    await cp(repoDir, pristine, { recursive: true });

    // Count the storage writes and deletes a full prune makes, then stop it after each one in turn.
    let steps = 0;
    const counting = countingBackend(new LocalBackend(repoDir), () => (steps += 1));
    await (await Repository.open(counting)).prune();
    expect(steps).toBeGreaterThan(3);

    for (let stopAt = 1; stopAt < steps; stopAt += 1) {
      await rm(repoDir, { recursive: true, force: true });
      await cp(pristine, repoDir, { recursive: true });
      let done = 0;
      const failing = countingBackend(new LocalBackend(repoDir), () => {
        done += 1;
        if (done === stopAt) throw new Error(`simulated crash at step ${stopAt}`);
      });
      await expect((await Repository.open(failing)).prune()).rejects.toThrow(/simulated crash/);
      const after = await Repository.open(new LocalBackend(repoDir));
      expect({ stopAt, problems: (await after.verify(kept.backupId, { readData: true })).problems }).toEqual({ stopAt, problems: [] });
      await after.prune();
      expect({ stopAt, problems: (await after.verify(kept.backupId, { readData: true })).problems }).toEqual({ stopAt, problems: [] });
      expect((await after.prune()).bytesFreed).toBe(0);
    }
  });
});

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
