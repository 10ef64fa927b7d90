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
});
