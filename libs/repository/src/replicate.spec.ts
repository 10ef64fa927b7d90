/**
 * Replication: a backup copied to a second repository (with its own key) restores identical
 * there, sends only chunks the target lacks, and is all-or-nothing.
 */
import { compareTrees, writeSampleTree } from '@chainvault/testing';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBackend } from './local-backend';
import { copyBackup } from './replicate';
import { Repository, type RepositoryOptions } from './repository';

const KiB = 1024;
const sizes: RepositoryOptions = { chunkSizes: { min: 16 * KiB, avg: 64 * KiB, max: 256 * KiB }, packSize: 512 * KiB };

describe('copyBackup', () => {
  let work: string;
  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-replicate-'));
  });
  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('copies a backup into an encrypted repository with other keys; it restores identical there, and a second copy sends only what is new', async () => {
    const source = join(work, 'source');
    await writeSampleTree(source, { bigFileBytes: 2 * 1024 * KiB });
    const primary = await Repository.openOrInit(new LocalBackend(join(work, 'primary')), sizes);
    const secondary = await Repository.openOrInit(new LocalBackend(join(work, 'secondary')), { ...sizes, passphrase: 'replica passphrase' });

    const first = primary.startBackup();
    await first.addTree(source);
    const one = await first.commit({ createdAt: new Date(), labels: { policyId: 'p' }, metadata: { height: 1 } });
    const copied = await copyBackup(primary, secondary, one.backupId);
    expect(copied.copied).toBe(true);
    expect(copied.chunksSent).toBeGreaterThan(0);

    const restored = join(work, 'restored-1');
    await (await secondary.openBackup(one.backupId)).extractTree(restored);
    expect(await compareTrees(source, restored)).toEqual([]);
    expect((await secondary.readManifest(one.backupId)).metadata).toEqual({ height: 1 });
    expect((await secondary.verify(one.backupId, { readData: true })).problems).toEqual([]);

    // Copying again does nothing; a later backup sends only its new chunks.
    expect((await copyBackup(primary, secondary, one.backupId)).copied).toBe(false);
    await appendFile(join(source, 'appended.log'), randomBytes(100 * KiB));
    const second = primary.startBackup({ previous: one });
    await second.addTree(source);
    const two = await second.commit({ createdAt: new Date(), labels: {}, metadata: {} });
    const again = await copyBackup(primary, secondary, two.backupId);
    expect(again.chunksPresent).toBeGreaterThan(again.chunksSent);
    expect(again.bytesSent).toBeLessThan(300 * KiB);
  });

  it('leaves no backup in the target when the source is damaged', async () => {
    const source = join(work, 'source');
    await writeFile(join(work, 'x'), '');
    await writeSampleTree(source, { bigFileBytes: 1024 * KiB });
    const primary = await Repository.openOrInit(new LocalBackend(join(work, 'primary')), { ...sizes, compression: 'none' });
    const writer = primary.startBackup();
    await writer.addTree(source);
    const manifest = await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
    // Damage one pack of the source.
    const prefixes = await readdir(join(work, 'primary', 'data'));
    const pack = join(work, 'primary', 'data', prefixes[0], (await readdir(join(work, 'primary', 'data', prefixes[0])))[0]);
    const { readFile } = await import('node:fs/promises');
    const bytes = await readFile(pack);
    bytes[10] ^= 0xff;
    await writeFile(pack, bytes);

    const secondary = await Repository.openOrInit(new LocalBackend(join(work, 'secondary')), sizes);
    await expect(copyBackup(primary, secondary, manifest.backupId)).rejects.toMatchObject({ code: 'CORRUPT' });
    expect(await secondary.hasBackup(manifest.backupId)).toBe(false);
  });
});
