/**
 * Proofs that content-defined chunking deduplicates across backups with the default chunk
 * sizes: an append or an insertion stores about one chunk more than the new bytes, not the file.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBackend, Repository, type FileEntry, type Manifest } from './index';

const KiB = 1024;
const MiB = 1024 * KiB;

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'chainvault-dedup-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Appends `bytes` random bytes to `path` (created if missing), 1 MiB at a time, feeding them to `hash`. */
async function appendRandom(path: string, bytes: number, hash?: Hash): Promise<void> {
  const handle = await open(path, 'a');
  try {
    for (let left = bytes; left > 0; left -= MiB) {
      const piece = randomBytes(Math.min(MiB, left));
      hash?.update(piece);
      await handle.write(piece);
    }
  } finally {
    await handle.close();
  }
}

/** Appends bytes `start` to `end` (inclusive; to the end if omitted) of the file `from`. */
async function appendRange(handle: import('node:fs/promises').FileHandle, from: string, start: number, end?: number): Promise<void> {
  for await (const piece of createReadStream(from, { start, end, highWaterMark: MiB })) await handle.write(piece as Buffer);
}

async function backUpFile(repo: Repository, localPath: string, previous: Manifest | null): Promise<Manifest> {
  const writer = repo.startBackup({ previous });
  await writer.addFile(localPath, 'chaindata/ancient.dat');
  return writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
}

function onlyFile(manifest: Manifest): FileEntry {
  const entry = manifest.entries.find((e): e is FileEntry => e.type === 'file');
  if (!entry) throw new Error('the backup holds no file');
  return entry;
}

async function sha256OfBackup(repo: Repository, manifest: Manifest): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of (await repo.openBackup(manifest.backupId)).read('chaindata/ancient.dat')) hash.update(piece);
  return hash.digest('hex');
}

// Compression off: random data is measured as it is, and nothing but dedup can make it smaller.
const plain = () => Repository.openOrInit(new LocalBackend(join(work, 'repo')), { compression: 'none' });

it('after 1% of new data is appended to a 256 MiB file, the next backup stores less than 5% of 256 MiB', async () => {
  const size = 256 * MiB;
  const path = join(work, 'ancient.dat');
  const content = createHash('sha256');
  await appendRandom(path, size, content);
  const repo = await plain();
  const first = await backUpFile(repo, path, null);
  expect(first.stats.storedBytes).toBe(size);

  const appended = Math.round(size / 100);
  await appendRandom(path, appended, content);
  const second = await backUpFile(repo, path, first);

  expect(second.stats).toMatchObject({ filesRead: 1, logicalBytes: size + appended });
  expect(second.stats.storedBytes).toBeLessThan(0.05 * size);
  expect(second.stats.storedBytes).toBeGreaterThanOrEqual(appended);
  // Every chunk but the old last one comes back unchanged.
  expect(second.stats.chunksReused).toBeGreaterThanOrEqual(onlyFile(first).chunks.length - 1);
  expect(await sha256OfBackup(repo, second)).toBe(content.digest('hex'));
}, 120_000);

it('after a few KiB are inserted in the middle of a 64 MiB file, the next backup stores only the chunks around the insertion', async () => {
  const size = 64 * MiB;
  const original = join(work, 'original.dat');
  await appendRandom(original, size);
  const repo = await plain();
  const first = await backUpFile(repo, original, null);

  // The same file with 5 KiB inserted at 32 MiB + 12345, written next to it and renamed over it.
  const middle = size / 2 + 12_345;
  const edited = join(work, 'edited.dat');
  const handle = await open(edited, 'w');
  try {
    await appendRange(handle, original, 0, middle - 1);
    await handle.write(randomBytes(5 * KiB));
    await appendRange(handle, original, middle);
  } finally {
    await handle.close();
  }
  await rename(edited, original);
  const second = await backUpFile(repo, original, first);

  expect(second.stats.logicalBytes).toBe(size + 5 * KiB);
  // The chunk holding the insertion is cut again (about 1 MiB; at most 8 MiB); the others are found again.
  expect(second.stats.storedBytes).toBeLessThan(4 * MiB);
  expect(second.stats.chunksAdded).toBeLessThanOrEqual(3);
  expect(second.stats.chunksReused).toBeGreaterThanOrEqual(onlyFile(first).chunks.length - 3);
  const expected = createHash('sha256');
  for await (const piece of createReadStream(original)) expected.update(piece as Buffer);
  expect(await sha256OfBackup(repo, second)).toBe(expected.digest('hex'));
}, 60_000);
