/**
 * Checking a whole repository: each pack is read once, and damage is reported with every
 * backup and file it hurts, while intact backups stay clean.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBackend } from './local-backend';
import { packKey } from './blob-store';
import { Repository } from './repository';
import { leaveFailedBackup } from './spec-helpers';

const KiB = 1024;

describe('Repository.check', () => {
  let work: string;
  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-check-'));
  });
  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('names every backup and file a damaged chunk hurts, and nothing else', async () => {
    const repoDir = join(work, 'repo');
    const repository = await Repository.openOrInit(new LocalBackend(repoDir), {
      chunkSizes: { min: 4 * KiB, avg: 16 * KiB, max: 64 * KiB },
      packSize: 64 * KiB,
      compression: 'none',
    });
    const source = join(work, 'source');
    await mkdir(source);
    await writeFile(join(source, 'shared.bin'), randomBytes(40 * KiB));
    const backup = async () => {
      const writer = repository.startBackup();
      await writer.addTree(source);
      return writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
    };
    const one = await backup();
    await writeFile(join(source, 'only-in-two.bin'), randomBytes(200 * KiB));
    const two = await backup();

    const clean = await repository.check({ readData: true });
    expect(clean.backups).toEqual({ [one.backupId]: [], [two.backupId]: [] });

    // Damage a chunk of shared.bin: both backups use it. Then a chunk only the second uses.
    const sharedChunk = one.entries.find((e) => e.path === 'shared.bin' && e.type === 'file');
    const id = sharedChunk && sharedChunk.type === 'file' ? sharedChunk.chunks[0] : '';
    const where = repository.chunkLocation(id)!;
    const packFile = join(repoDir, packKey(where.pack));
    const bytes = await readFile(packFile);
    bytes[where.offset + 5] ^= 0xff;
    await writeFile(packFile, bytes);

    const damaged = await repository.check({ readData: true });
    expect(damaged.backups[one.backupId]).toEqual([expect.stringMatching(/^file "shared.bin": chunk .* is damaged/)]);
    expect(damaged.backups[two.backupId]).toEqual([expect.stringMatching(/^file "shared.bin": chunk .* is damaged/)]);
    expect(damaged.general).toEqual([]);
  });

  it('reports what a failed backup left, in packs and bytes, as unreferenced data and not as damage, until a prune removes it', async () => {
    const repoDir = join(work, 'repo');
    const small = { chunkSizes: { min: 4 * KiB, avg: 16 * KiB, max: 64 * KiB }, packSize: 128 * KiB, compression: 'none' as const };
    const created = await Repository.openOrInit(new LocalBackend(repoDir), small);
    const writer = created.startBackup();
    await writer.writeFile('kept.bin', randomBytes(100 * KiB));
    const kept = await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
    const clean = await (await Repository.open(new LocalBackend(repoDir))).check({ readData: false });
    expect(clean.unreferenced).toEqual({ packs: 0, bytes: 0, unindexedPacks: 0, unindexedBytes: 0 });

    const failed = await leaveFailedBackup(repoDir, 500 * KiB);
    expect(failed.packs).toBeGreaterThan(2);
    const repository = await Repository.open(new LocalBackend(repoDir));
    const report = await repository.check({ readData: true });
    // Uncompressed and unencrypted: the stored bytes are the 500 KiB the failed backup read.
    expect(report.unreferenced).toEqual({ packs: failed.packs, bytes: 500 * KiB, unindexedPacks: failed.packs, unindexedBytes: 500 * KiB });
    expect(report.backups).toEqual({ [kept.backupId]: [] });
    expect(report.general).toEqual([]);

    // A deleted backup's own packs count too; the next backup adopted the failed one's packs into its
    // index, so now they are all indexed, and still used by nobody.
    const second = repository.startBackup();
    await second.writeFile('kept.bin', randomBytes(0));
    await second.writeFile('deleted.bin', randomBytes(200 * KiB));
    const deleted = await second.commit({ createdAt: new Date(), labels: {}, metadata: {} });
    await repository.deleteBackup(deleted.backupId);
    await repository.refreshIndex();
    const both = await repository.check({ readData: false });
    expect(both.unreferenced).toMatchObject({ unindexedPacks: 0, unindexedBytes: 0 });
    expect(both.unreferenced!.packs).toBeGreaterThan(failed.packs);
    expect(both.unreferenced!.bytes).toBe(700 * KiB);

    const pruned = await repository.prune();
    expect(pruned.bytesFreed).toBe(both.unreferenced!.bytes);
    await repository.refreshIndex();
    expect((await repository.check({ readData: true })).unreferenced).toEqual({ packs: 0, bytes: 0, unindexedPacks: 0, unindexedBytes: 0 });
  });

  it('says nothing about unreferenced data when a manifest cannot be read, and counts the shared locks held', async () => {
    const repoDir = join(work, 'repo');
    const repository = await Repository.openOrInit(new LocalBackend(repoDir), { compression: 'none' });
    const writer = repository.startBackup();
    await writer.writeFile('a.bin', randomBytes(10 * KiB));
    const manifest = await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
    await leaveFailedBackup(repoDir, 10 * KiB);
    const lock = await repository.lock('shared', 'a backup still running');
    await writeFile(join(repoDir, 'manifests', manifest.backupId), 'not a manifest');
    await repository.refreshIndex();
    const report = await repository.check({ readData: false });
    await lock.release();
    // Without every manifest nobody can say what is used: the chunks of the unreadable one would look unreferenced.
    expect(report.unreferenced).toBeNull();
    expect(report.backups[manifest.backupId]).toEqual([expect.stringMatching(/is not valid JSON/)]);
    expect(report.sharedLocks).toBe(1);
  });
});
