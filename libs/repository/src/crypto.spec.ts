import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { compareTrees, writeSampleTree } from '@chainvault/testing';
import { LocalBackend, Repository, type Manifest, type RepositoryOptions } from './index';
import { fileEntry, readAll } from './spec-helpers';
import { seal, sealInto, unseal, unsealPieces } from './crypto';
import { RepositoryError } from './repository.errors';

const KiB = 1024;
/** A cheap scrypt for repositories created here; keys added later use the real cost. */
const FAST = { scrypt: { N: 2 ** 10, r: 8, p: 1 } };
const PASSPHRASE = 'correct horse battery staple';

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'chainvault-crypto-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

const details = { createdAt: new Date(), labels: {}, metadata: {} };

/** Every file under `dir` with its bytes, keyed by its path relative to `dir`. */
async function allFiles(dir: string): Promise<Map<string, Buffer>> {
  const found = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) found.set(relative(dir, join(entry.parentPath, entry.name)), await readFile(join(entry.parentPath, entry.name)));
  }
  return found;
}

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

// Content no compressor or coincidence produces, in a file whose name is just as distinctive.
const SECRET_LINE = `validator withdrawal mnemonic ${randomBytes(16).toString('hex')}\n`;
const SECRET = Buffer.from(SECRET_LINE.repeat(64));
const SECRET_NAME = `keystore-${randomBytes(8).toString('hex')}.json`;

/** A repository in `work/<name>` holding one backup of the secret file; compression off, so only encryption can hide it. */
async function repositoryWithSecret(name: string, options: RepositoryOptions): Promise<{ dir: string; repo: Repository; manifest: Manifest }> {
  const dir = join(work, name);
  const repo = await Repository.openOrInit(new LocalBackend(dir), { compression: 'none', ...options });
  const writer = repo.startBackup();
  await writer.writeFile(`validators/${SECRET_NAME}`, SECRET);
  await writer.writeFile('validators/other.bin', randomBytes(64 * KiB));
  return { dir, repo, manifest: await writer.commit(details) };
}

describe('an encrypted repository', () => {
  it('holds no plaintext: no file content, file name or content hash appears in any byte it stores', async () => {
    const { dir, repo } = await repositoryWithSecret('encrypted', { passphrase: PASSPHRASE, ...FAST });
    expect(repo.encrypted).toBe(true);
    expect(repo.config.encryption).toEqual({ cipher: 'aes-256-gcm', blobIds: 'hmac-sha256' });
    const needles = [Buffer.from(SECRET_LINE.trim()), Buffer.from(SECRET_NAME), Buffer.from(sha256(SECRET))];
    const stored = await allFiles(dir);
    expect([...stored.keys()].filter((key) => key.startsWith('data/')).length).toBeGreaterThan(0);
    for (const [key, bytes] of stored) {
      for (const needle of needles) expect({ key, found: bytes.includes(needle) }).toEqual({ key, found: false });
    }

    // The same scan finds all three in a plain repository.
    const plain = await allFiles((await repositoryWithSecret('plain', {})).dir);
    for (const needle of needles) expect([...plain.values()].some((bytes) => bytes.includes(needle))).toBe(true);
  });

  it('names chunks with a keyed hash: not the SHA-256 of their content, and different in another repository', async () => {
    const path = `validators/${SECRET_NAME}`;
    const { manifest } = await repositoryWithSecret('one', { passphrase: PASSPHRASE, ...FAST });
    const { manifest: other } = await repositoryWithSecret('two', { passphrase: PASSPHRASE, ...FAST });
    const { manifest: plain } = await repositoryWithSecret('plain', {});
    // 4.6 KiB is one chunk: in a plain repository its id is the file's SHA-256.
    expect(fileEntry(plain, path).chunks).toEqual([sha256(SECRET)]);
    expect(fileEntry(manifest, path).chunks).toHaveLength(1);
    expect(fileEntry(manifest, path).chunks[0]).not.toBe(sha256(SECRET));
    expect(fileEntry(other, path).chunks[0]).not.toBe(fileEntry(manifest, path).chunks[0]);
    // The manifest, which is sealed, still records the plain SHA-256 a restore checks.
    expect(fileEntry(manifest, path).sha256).toBe(sha256(SECRET));
  });

  it('opens only with its passphrase: none or a wrong one is WRONG_PASSPHRASE, the right one restores exactly', async () => {
    const source = join(work, 'source');
    await writeSampleTree(source, { bigFileBytes: 700 * KiB });
    const dir = join(work, 'repo');
    const created = await Repository.openOrInit(new LocalBackend(dir), { passphrase: PASSPHRASE, ...FAST });
    const writer = created.startBackup();
    await writer.addTree(source);
    const manifest = await writer.commit(details);

    await expect(Repository.open(new LocalBackend(dir))).rejects.toMatchObject({
      name: 'RepositoryError',
      code: 'WRONG_PASSPHRASE',
      message: expect.stringContaining('is encrypted: give its passphrase'),
    });
    for (const wrong of ['correct horse battery stapler', 'x']) {
      await expect(Repository.open(new LocalBackend(dir), { passphrase: wrong })).rejects.toMatchObject({
        name: 'RepositoryError',
        code: 'WRONG_PASSPHRASE',
        message: expect.stringContaining('passphrase does not open'),
      });
    }

    const repo = await Repository.open(new LocalBackend(dir), { passphrase: PASSPHRASE });
    expect(await repo.listBackups()).toEqual([manifest.backupId]);
    expect(await repo.readManifest(manifest.backupId)).toEqual(manifest);
    expect((await repo.verify(manifest.backupId, { readData: true })).problems).toEqual([]);
    const restored = join(work, 'restored');
    await (await repo.openBackup(manifest.backupId)).extractTree(restored);
    expect(await compareTrees(source, restored)).toEqual([]);
  });

  it('changePassphrase: the old passphrase stops working, the new one opens it, and no data, index or manifest is rewritten', async () => {
    const { dir, repo, manifest } = await repositoryWithSecret('repo', { passphrase: PASSPHRASE, ...FAST });
    const before = await allFiles(dir);
    const keysBefore = [...before.keys()].filter((key) => key.startsWith('keys/'));
    expect(keysBefore).toHaveLength(1);

    await repo.changePassphrase('a new and longer passphrase');

    await expect(Repository.open(new LocalBackend(dir), { passphrase: PASSPHRASE })).rejects.toMatchObject({ code: 'WRONG_PASSPHRASE' });
    const reopened = await Repository.open(new LocalBackend(dir), { passphrase: 'a new and longer passphrase' });
    expect((await readAll((await reopened.openBackup(manifest.backupId)).read(`validators/${SECRET_NAME}`))).equals(SECRET)).toBe(true);

    const after = await allFiles(dir);
    const keysAfter = [...after.keys()].filter((key) => key.startsWith('keys/'));
    expect(keysAfter).toHaveLength(1);
    expect(keysAfter).not.toEqual(keysBefore);
    const objects = (files: Map<string, Buffer>) =>
      new Map([...files].filter(([key]) => !key.startsWith('keys/') && !key.startsWith('tmp/')).map(([key, bytes]) => [key, sha256(bytes)]));
    expect([...objects(before).keys()].some((key) => key.startsWith('data/'))).toBe(true);
    expect(objects(after)).toEqual(objects(before));
  });

  it('addKey adds a second passphrase; both open the repository', async () => {
    const { dir, repo, manifest } = await repositoryWithSecret('repo', { passphrase: PASSPHRASE, ...FAST });
    const id = await repo.addKey('the operator’s own passphrase');
    expect(await readdir(join(dir, 'keys'))).toContain(id);
    for (const passphrase of [PASSPHRASE, 'the operator’s own passphrase']) {
      const opened = await Repository.open(new LocalBackend(dir), { passphrase });
      expect((await readAll((await opened.openBackup(manifest.backupId)).read(`validators/${SECRET_NAME}`))).equals(SECRET)).toBe(true);
    }
    await expect(Repository.open(new LocalBackend(dir), { passphrase: 'neither' })).rejects.toMatchObject({ code: 'WRONG_PASSPHRASE' });
  });

  it('reports a flipped byte in an encrypted chunk for the file that uses it, and never restores it', async () => {
    const { dir, repo, manifest } = await repositoryWithSecret('repo', { passphrase: PASSPHRASE, ...FAST });
    const path = `validators/${SECRET_NAME}`;
    const where = (await Repository.open(new LocalBackend(dir), { passphrase: PASSPHRASE })).chunkLocation(fileEntry(manifest, path).chunks[0])!;
    const packFile = join(dir, 'data', where.pack.slice(0, 2), where.pack);
    const bytes = await readFile(packFile);
    bytes[where.offset + (where.length >> 1)] ^= 0x01;
    await writeFile(packFile, bytes);

    const result = await repo.verify(manifest.backupId, { readData: true });
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatch(new RegExp(`^file "${path}": .*fails authentication`));
    await expect(readAll((await repo.openBackup(manifest.backupId)).read(path))).rejects.toMatchObject({ code: 'CORRUPT' });
  });
});

describe('a plain repository', () => {
  it('refuses a passphrase, saying it is not encrypted, and has no keys to add', async () => {
    const dir = join(work, 'repo');
    const repo = await Repository.openOrInit(new LocalBackend(dir));
    expect(repo.encrypted).toBe(false);
    for (const open of [() => Repository.open(new LocalBackend(dir), { passphrase: PASSPHRASE }), () => Repository.openOrInit(new LocalBackend(dir), { passphrase: PASSPHRASE })]) {
      await expect(open()).rejects.toMatchObject({ name: 'RepositoryError', code: 'WRONG_PASSPHRASE', message: expect.stringContaining('is not encrypted') });
    }
    await expect(repo.addKey(PASSPHRASE)).rejects.toMatchObject({ code: 'WRONG_PASSPHRASE' });
  });
});

describe('sealing a piece at a time', () => {
  const key = randomBytes(32);
  // Sizes around the 64 KiB pieces the ciphers are fed: none, less than one, exactly one, several and a rest.
  it.each([0, 1000, 64 * 1024, 3 * 64 * 1024 + 17])('sealInto writes what unseal reads, and unsealPieces gives it back in order (%i bytes)', (bytes) => {
    const plaintext = randomBytes(bytes);
    const into = Buffer.alloc(bytes + 28 + 5);
    const length = sealInto(key, plaintext, into);
    expect(length).toBe(bytes + 28);
    const same = (data: Buffer) => data.equals(plaintext);
    expect(same(unseal(key, into.subarray(0, length), 'test object'))).toBe(true);
    const pieces: Buffer[] = [];
    unsealPieces(key, into.subarray(0, length), 'test object', (piece) => pieces.push(Buffer.from(piece)));
    expect(same(Buffer.concat(pieces))).toBe(true);
    // seal()'s own output opens the same way.
    const sealed = seal(key, plaintext);
    const again: Buffer[] = [];
    unsealPieces(key, sealed, 'test object', (piece) => again.push(Buffer.from(piece)));
    expect(same(Buffer.concat(again))).toBe(true);
  });

  it('fails a damaged object as CORRUPT once all of it is read, and refuses a slot too small', () => {
    const plaintext = randomBytes(200 * 1024);
    const sealed = seal(key, plaintext);
    sealed[100_000] ^= 1;
    expect(() => unsealPieces(key, sealed, 'chunk x', () => undefined)).toThrow(new RepositoryError('CORRUPT', 'chunk x fails authentication: it was damaged or altered'));
    expect(() => unsealPieces(key, sealed.subarray(0, 20), 'chunk y', () => undefined)).toThrow(/chunk y is too short to be an encrypted object/);
    expect(() => sealInto(key, plaintext, Buffer.alloc(plaintext.length + 27))).toThrow(RangeError);
  });
});
