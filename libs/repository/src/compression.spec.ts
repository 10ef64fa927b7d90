import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBackend, Repository, type Manifest, type RepositoryOptions } from './index';
import { fileEntry, readAll } from './spec-helpers';

const MiB = 1024 * 1024;
/** RLP-encoded Ethereum mainnet blocks 0–999: read in place, never copied into the project. */
const BLOCKS = '/work/shared/fixtures/ethereum/besu-mainnet-0-999/1000.blocks';
const FAST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'chainvault-compression-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

async function backUpFile(options: RepositoryOptions, localPath: string, as: string): Promise<{ repo: Repository; manifest: Manifest }> {
  const repo = await Repository.openOrInit(new LocalBackend(join(work, 'repo')), options);
  const writer = repo.startBackup();
  await writer.addFile(localPath, as);
  return { repo, manifest: await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} }) };
}

describe('brotli compression', () => {
  it.each([
    ['a plain repository', {}],
    ['an encrypted repository (compressed before it is encrypted)', { passphrase: 'compress then seal', scrypt: FAST_SCRYPT }],
  ])('stores Ethereum blocks in far fewer bytes than their size in %s, and restores them byte-identical', async (_, options: RepositoryOptions) => {
    const size = (await stat(BLOCKS)).size;
    const { repo, manifest } = await backUpFile({ ...options, compression: 'brotli' }, BLOCKS, 'blocks/1000.blocks');
    expect(manifest.stats.logicalBytes).toBe(size);
    // Brotli at quality 1 packs these blocks about 4:1; half is a margin, not a benchmark.
    expect(manifest.stats.storedBytes).toBeLessThan(size / 2);
    const chunks = fileEntry(manifest, 'blocks/1000.blocks').chunks;
    expect(chunks.every((id) => repo.chunkLocation(id)!.encoding === 'brotli')).toBe(true);

    const restored = await readAll((await repo.openBackup(manifest.backupId)).read('blocks/1000.blocks'));
    expect(restored.equals(await readFile(BLOCKS))).toBe(true);
  });

  it('does not shrink the blocks when the repository was created with compression "none"', async () => {
    const { repo, manifest } = await backUpFile({ compression: 'none' }, BLOCKS, 'blocks/1000.blocks');
    expect(manifest.stats.storedBytes).toBe((await stat(BLOCKS)).size);
    expect(fileEntry(manifest, 'blocks/1000.blocks').chunks.every((id) => repo.chunkLocation(id)!.encoding === 'raw')).toBe(true);
  });

  it('stores random data raw: no bigger than it is, and restored byte-identical', async () => {
    const random = randomBytes(3 * MiB + 5);
    const repo = await Repository.openOrInit(new LocalBackend(join(work, 'repo')), { compression: 'brotli' });
    const writer = repo.startBackup();
    await writer.writeFile('state/random.bin', random);
    const manifest = await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
    // Brotli cannot shrink random bytes, so each chunk is kept as it is: not even a frame header is added.
    expect(manifest.stats.storedBytes).toBe(random.length);
    const chunks = fileEntry(manifest, 'state/random.bin').chunks;
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.every((id) => repo.chunkLocation(id)!.encoding === 'raw')).toBe(true);
    expect((await readAll((await repo.openBackup(manifest.backupId)).read('state/random.bin'))).equals(random)).toBe(true);
  });

  it('in an encrypted repository, stores random data raw at its size plus only the per-chunk seal', async () => {
    const random = randomBytes(3 * MiB + 5);
    const repo = await Repository.openOrInit(new LocalBackend(join(work, 'repo')), { passphrase: 'random data', scrypt: FAST_SCRYPT });
    const writer = repo.startBackup();
    await writer.writeFile('state/random.bin', random);
    const manifest = await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
    // Each chunk gains its 12-byte nonce and 16-byte tag, nothing more.
    const chunks = fileEntry(manifest, 'state/random.bin').chunks;
    expect(manifest.stats.storedBytes).toBe(random.length + 28 * chunks.length);
    expect(chunks.every((id) => repo.chunkLocation(id)!.encoding === 'raw')).toBe(true);
  });
});
