/**
 * The repository round trip on every backend: a local directory, a real S3 server (s3rver) and
 * a real OpenSSH sshd, plain and encrypted. Two backups, both restored exactly; verify finds a
 * flipped byte in a stored pack and names the file it hurts; prune after a deletion leaves the
 * kept backup whole.
 */
import { compareTrees, startS3rver, startSshd, writeSampleTree, type RunningS3rver, type RunningSshd } from '@chainvault/testing';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RepositoryBackend } from './backend';
import { LocalBackend } from './local-backend';
import type { FileEntry, Manifest } from './manifest';
import { Repository, type RepositoryOptions } from './repository';
import { S3Backend } from './s3-backend';
import { SftpBackend } from './sftp-backend';

const KiB = 1024;
const MiB = 1024 * KiB;

let s3: RunningS3rver;
let sshd: RunningSshd;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'chainvault-backends-'));
  [s3, sshd] = await Promise.all([startS3rver(), startSshd()]);
});

afterAll(async () => {
  await Promise.all([s3?.stop(), sshd?.stop()]);
  await rm(work, { recursive: true, force: true });
});

/** A fresh, empty repository location on one backend, and where an object's bytes sit on this machine's disk. */
interface Location {
  backend: RepositoryBackend;
  fileOf(key: string): Promise<string>;
}

const fresh = () => `repo-${randomBytes(6).toString('hex')}`;

const backends: [string, () => Location][] = [
  [
    'a local directory',
    () => {
      const dir = join(work, fresh());
      return { backend: new LocalBackend(dir), fileOf: async (key) => join(dir, key) };
    },
  ],
  [
    'an S3 bucket (s3rver)',
    () => {
      const prefix = `repos/${fresh()}`;
      const backend = new S3Backend({ bucket: s3.bucket, prefix, endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
      return { backend, fileOf: (key) => s3rverFile(`${prefix}/${key}`) };
    },
  ],
  [
    'an SFTP server (OpenSSH sshd)',
    () => {
      const path = join(sshd.root, fresh());
      const backend = new SftpBackend({ host: sshd.host, port: sshd.port, username: sshd.username, privateKey: sshd.privateKey, hostKeySha256: sshd.hostKeySha256, path });
      // The SFTP server runs on this machine: its files are the repository's objects.
      return { backend, fileOf: async (key) => join(path, key) };
    },
  ],
];

/**
 * s3rver keeps an object as `<its directory>/<bucket>/<key>._S3rver_object`. The launcher does
 * not say which temporary directory is its own, so this finds the one that holds the key
 * (keys carry a random repository prefix, so no other server's directory can).
 */
async function s3rverFile(objectKey: string): Promise<string> {
  const parts = objectKey.split('/');
  const name = `${parts.pop()}._S3rver_object`;
  for (const dir of (await readdir(tmpdir())).filter((entry) => entry.startsWith('chainvault-s3rver-'))) {
    const file = join(tmpdir(), dir, s3.bucket, ...parts, name);
    if (await stat(file).then((info) => info.isFile(), () => false)) return file;
  }
  throw new Error(`no s3rver directory under ${tmpdir()} holds ${objectKey}`);
}

const modes: [string, Pick<RepositoryOptions, 'passphrase' | 'scrypt'>][] = [
  ['plain', {}],
  ['encrypted', { passphrase: 'a passphrase for every backend', scrypt: { N: 2 ** 10, r: 8, p: 1 } }],
];

/** Small chunks and packs, so a few MiB make many packs and pruning has something to sort. */
const SMALL = { chunkSizes: { min: 16 * KiB, avg: 64 * KiB, max: 256 * KiB }, packSize: 512 * KiB };

async function backUp(repo: Repository, source: string, previous: Manifest | null): Promise<Manifest> {
  const writer = repo.startBackup({ previous });
  await writer.addTree(source);
  return writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
}

async function restore(repo: Repository, backupId: string, target: string): Promise<string> {
  await (await repo.openBackup(backupId)).extractTree(target);
  return target;
}

function fileEntry(manifest: Manifest, path: string): FileEntry {
  const entry = manifest.entries.find((e) => e.path === path);
  if (entry?.type !== 'file') throw new Error(`the manifest has no file "${path}"`);
  return entry;
}

/** Flips one bit in the middle of a chunk's stored bytes, in the file that holds its pack. */
async function flipByteOf(repo: Repository, location: Location, chunkId: string): Promise<void> {
  const where = repo.chunkLocation(chunkId);
  if (!where) throw new Error(`chunk ${chunkId} is in no pack`);
  const file = await location.fileOf(`data/${where.pack.slice(0, 2)}/${where.pack}`);
  const bytes = await readFile(file);
  bytes[where.offset + (where.length >> 1)] ^= 0x01;
  await writeFile(file, bytes);
}

/** The files verify's problems name. */
const namedFiles = (problems: string[]) => [...new Set(problems.map((p) => /^file "(.*?)": /s.exec(p)?.[1] ?? p))].sort();

describe.each(backends)('the repository on %s', (_name, locate) => {
  let location: Location;

  afterEach(async () => {
    await location?.backend.close?.();
  });

  it.each(modes)('%s: backs up twice, restores both exactly, finds a flipped byte, and prunes what only the deleted backup used', async (_mode, options) => {
    location = locate();
    const dir = await mkdtemp(join(work, 'run-'));
    const source = join(dir, 'source');
    const tree = await writeSampleTree(source, { bigFileBytes: 2 * MiB + 7 });
    const repo = await Repository.openOrInit(location.backend, { ...options, ...SMALL });
    expect(repo.encrypted).toBe(options.passphrase !== undefined);

    const first = await backUp(repo, source, null);
    const firstRestored = await restore(repo, first.backupId, join(dir, 'first'));
    expect(await compareTrees(source, firstRestored)).toEqual([]);

    // The second backup sees new content in the big file and a line more in the small one; the rest is unchanged.
    await writeFile(join(source, tree.bigFile), randomBytes(2 * MiB + 7));
    await appendFile(join(source, tree.smallFile), 'block 3\n');
    const second = await backUp(repo, source, first);
    expect(second.stats.filesRead).toBe(2);
    expect(second.stats.filesUnchanged).toBe(first.stats.filesRead - 2);
    expect(await repo.listBackups()).toEqual([first.backupId, second.backupId].sort());
    expect(await compareTrees(source, await restore(repo, second.backupId, join(dir, 'second')))).toEqual([]);
    // The first backup still restores as it was, after the second was written beside it.
    expect(await compareTrees(firstRestored, await restore(repo, first.backupId, join(dir, 'first-again')))).toEqual([]);

    // Verify re-reads what each backup uses from the backend; another process opening the repository sees the same.
    const reopened = await Repository.open(location.backend, { passphrase: options.passphrase });
    for (const manifest of [first, second]) {
      expect((await reopened.verify(manifest.backupId, { readData: true })).problems).toEqual([]);
    }

    // A flipped byte in the stored bytes of the new big file's last chunk (which no other file has) is found and named.
    const damaged = fileEntry(second, tree.bigFile).chunks.at(-1)!;
    await flipByteOf(repo, location, damaged);
    const afterDamage = await repo.verify(second.backupId, { readData: true });
    expect(namedFiles(afterDamage.problems)).toEqual([tree.bigFile]);
    // Structure alone does not read the data, and the first backup's packs are untouched.
    expect((await repo.verify(second.backupId, { readData: false })).problems).toEqual([]);
    expect((await repo.verify(first.backupId, { readData: true })).problems).toEqual([]);
    await flipByteOf(repo, location, damaged);
    expect((await repo.verify(second.backupId, { readData: true })).problems).toEqual([]);

    // Deleting the first backup leaves its old big file unused; prune removes it and keeps everything the second needs.
    await repo.deleteBackup(first.backupId);
    const pruned = await repo.prune();
    expect(pruned).toMatchObject({ backups: 1, dryRun: false });
    // About 1 MiB of the old big file was its own (its first MiB is the block the repeated file still holds).
    expect(pruned.bytesFreed).toBeGreaterThan(512 * KiB);
    expect(pruned.packsDeleted + pruned.packsRepacked).toBeGreaterThan(0);
    // On the backend: the packs are the ones kept and written, under one new index.
    expect(await location.backend.list('data')).toHaveLength(pruned.packsBefore - pruned.packsDeleted - pruned.packsRepacked + pruned.packsWritten);
    expect(await location.backend.list('index')).toHaveLength(1);
    expect(await repo.listBackups()).toEqual([second.backupId]);

    const afterPrune = await Repository.open(location.backend, { passphrase: options.passphrase });
    expect((await afterPrune.verify(second.backupId, { readData: true })).problems).toEqual([]);
    expect(await compareTrees(source, await restore(afterPrune, second.backupId, join(dir, 'second-after-prune')))).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  }, 120_000);
});
