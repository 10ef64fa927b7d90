/**
 * Repositories written by format version 2 stay readable. `__fixtures__/format-v2` holds two
 * tiny repositories (plain, and encrypted with the passphrase below) written by the code of
 * December 2026, each with two backups; this opens them with today's code and restores them byte
 * for byte. It must never be regenerated: a change that breaks it breaks users' repositories,
 * and needs a new format version with a migration instead.
 */
import { createHash } from 'node:crypto';
import { cp, lstat, mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBackend } from './local-backend';
import { Repository } from './repository';

const FIXTURES = join(__dirname, '__fixtures__', 'format-v2');
const PASSPHRASE = 'format v2 fixture passphrase';
/** Every entry's mtime when the fixture was written. */
const MTIME_MS = Date.parse('2026-12-01T12:00:00.000Z');

type Expected = { path: string; type: 'directory'; mode: number } | { path: string; type: 'file'; mode: number; content: Buffer } | { path: string; type: 'symlink'; target: string };

function noise(tag: string, bytes: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 0; i * 32 < bytes; i += 1) blocks.push(createHash('sha256').update(`${tag}:${i}`).digest());
  return Buffer.concat(blocks).subarray(0, bytes);
}

const genesis = Buffer.from(
  JSON.stringify({ config: { chainId: 1337 }, alloc: Object.fromEntries(Array.from({ length: 24 }, (_, i) => [`0x${String(i).padStart(40, '0')}`, { balance: '1000000000000000000000' }])) }, null, 2),
);

/** What the first backup holds. */
function firstTree(): Expected[] {
  return [
    { path: 'chain', type: 'directory', mode: 0o755 },
    { path: 'chain/000001.sst', type: 'file', mode: 0o644, content: noise('format-v2:sst1', 5000) },
    { path: 'chain/CURRENT', type: 'file', mode: 0o644, content: Buffer.from('MANIFEST-000002\n') },
    { path: 'chain/empty.log', type: 'file', mode: 0o644, content: Buffer.alloc(0) },
    { path: 'genesis.json', type: 'file', mode: 0o644, content: genesis },
    { path: 'keystore', type: 'directory', mode: 0o700 },
    { path: 'keystore/key.json', type: 'file', mode: 0o600, content: Buffer.from('{"address":"0x0000000000000000000000000000000000000001","crypto":"not a real key"}\n') },
    { path: 'latest', type: 'symlink', target: 'chain/000001.sst' },
  ];
}

/** The second: 300 bytes appended to the first SST file, and a new one. */
function secondTree(): Expected[] {
  const tree = firstTree().map((e) => (e.path === 'chain/000001.sst' && e.type === 'file' ? { ...e, content: Buffer.concat([e.content, noise('format-v2:append', 300)]) } : e));
  tree.splice(2, 0, { path: 'chain/000002.sst', type: 'file', mode: 0o644, content: noise('format-v2:sst2', 2000) });
  return tree;
}

/** Every difference between the restored directory and what it should hold. */
async function differences(dir: string, expected: Expected[]): Promise<string[]> {
  const problems: string[] = [];
  const found: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      found.push(path);
      if ((await lstat(join(dir, path))).isDirectory()) await walk(path);
    }
  };
  await walk('');
  const paths = expected.map((e) => e.path);
  if (JSON.stringify(found.sort()) !== JSON.stringify([...paths].sort())) problems.push(`entries: ${found.join(', ')}; expected ${paths.join(', ')}`);
  for (const entry of expected) {
    const full = join(dir, entry.path);
    const info = await lstat(full).catch(() => null);
    if (!info) continue;
    if (entry.type === 'symlink') {
      if (!info.isSymbolicLink() || (await readlink(full)) !== entry.target) problems.push(`${entry.path}: not a link to ${entry.target}`);
      continue;
    }
    if ((info.mode & 0o7777) !== entry.mode) problems.push(`${entry.path}: mode ${(info.mode & 0o7777).toString(8)}, expected ${entry.mode.toString(8)}`);
    if (info.mtimeMs !== MTIME_MS) problems.push(`${entry.path}: mtime ${new Date(info.mtimeMs).toISOString()}`);
    if (entry.type === 'file' && !(await readFile(full)).equals(entry.content)) problems.push(`${entry.path}: content differs`);
    if (entry.type === 'directory' && !info.isDirectory()) problems.push(`${entry.path}: not a directory`);
  }
  return problems;
}

describe.each([
  ['a plain', 'plain', undefined],
  ['an encrypted', 'encrypted', PASSPHRASE],
])('%s repository written by format version 2', (_label, name, passphrase) => {
  let work: string;
  let repoDir: string;

  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-format-v2-'));
    // A copy: opening and verifying must not be able to change the committed fixture.
    repoDir = join(work, 'repository');
    await cp(join(FIXTURES, name), repoDir, { recursive: true });
  });

  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('opens, verifies, and restores both backups byte for byte, with modes, times and links', async () => {
    const repository = await Repository.open(new LocalBackend(repoDir), { passphrase });
    expect(repository.encrypted).toBe(Boolean(passphrase));
    expect(await repository.listBackups()).toEqual(['format-v2-first', 'format-v2-second']);
    const check = await repository.check({ readData: true });
    expect(check.backups).toEqual({ 'format-v2-first': [], 'format-v2-second': [] });
    expect(check.general).toEqual([]);
    for (const [backupId, tree] of [
      ['format-v2-first', firstTree()],
      ['format-v2-second', secondTree()],
    ] as const) {
      const target = join(work, backupId);
      await (await repository.openBackup(backupId)).extractTree(target);
      expect(await differences(target, tree)).toEqual([]);
    }
  });

  it('takes a new backup beside the old ones and restores it', async () => {
    const repository = await Repository.open(new LocalBackend(repoDir), { passphrase });
    const previous = await repository.readManifest('format-v2-second');
    const source = join(work, 'source');
    await (await repository.openBackup('format-v2-second')).extractTree(source);
    const writer = repository.startBackup({ backupId: 'today', previous });
    await writer.addTree(source);
    const manifest = await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
    // Nothing changed since the old backup: every file is taken from it, nothing stored again.
    expect(manifest.stats.chunksAdded).toBe(0);
    const target = join(work, 'today');
    await (await Repository.open(new LocalBackend(repoDir), { passphrase })).openBackup('today').then((reader) => reader.extractTree(target));
    expect(await differences(target, secondTree())).toEqual([]);
  });
});

it('refuses the encrypted fixture with a wrong passphrase', async () => {
  await expect(Repository.open(new LocalBackend(join(FIXTURES, 'encrypted')), { passphrase: 'not the passphrase' })).rejects.toMatchObject({ code: 'WRONG_PASSPHRASE' });
});
