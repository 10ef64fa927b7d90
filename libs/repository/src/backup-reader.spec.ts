import { chmod, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { LocalBackend, Repository, comparePaths, type Manifest, type ManifestEntry } from './index';

let work: string;
let repoDir: string;
let repo: Repository;
let manifest: Manifest;

/** A small backup: keep/a.txt, keep/b.txt and keep/link -> a.txt. */
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'chainvault-reader-'));
  const source = join(work, 'source');
  await mkdir(join(source, 'keep'), { recursive: true });
  await writeFile(join(source, 'keep/a.txt'), 'alpha\n');
  await writeFile(join(source, 'keep/b.txt'), 'bravo\n');
  await symlink('a.txt', join(source, 'keep/link'));
  repoDir = join(work, 'repo');
  repo = await Repository.openOrInit(new LocalBackend(repoDir));
  const writer = repo.startBackup({ backupId: 'small' });
  await writer.addTree(source);
  manifest = await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Rewrites the stored manifest with extra entries, as an attacker or a bad disk could. */
async function tamper(extra: ManifestEntry[]): Promise<void> {
  // Extra files reuse a.txt's content, so only their paths are wrong.
  const a = manifest.entries.find((e) => e.path === 'keep/a.txt');
  const entries = [...manifest.entries, ...extra.map((e) => (e.type === 'file' ? { ...a, path: e.path } : e))];
  entries.sort((x, y) => comparePaths(x.path, y.path));
  const key = join(repoDir, 'manifests', 'small');
  // The stored manifest is plain JSON in a plain repository: replace that very object.
  expect(JSON.parse(await readFile(key, 'utf8'))).toEqual(manifest);
  await writeFile(key, JSON.stringify({ ...manifest, entries }));
}

const file = (path: string): ManifestEntry => ({ path, type: 'file', mode: 0o644, mtimeNs: '0', size: 6, sha256: '', chunks: [] });

describe('a tampered manifest', () => {
  it.each([
    ['a parent-directory path', [file('../escape')], '../escape'],
    ['a path climbing out of a directory', [file('keep/../../escape')], 'keep/../../escape'],
    ['an absolute path', [file(join(tmpdir(), 'chainvault-escape'))], join(tmpdir(), 'chainvault-escape')],
    [
      'a file under a stored symlink',
      [{ path: 'out', type: 'symlink', mode: 0o777, mtimeNs: '0', target: '..' } as ManifestEntry, file('out/escape')],
      'out/escape',
    ],
  ])('with %s is refused before anything is written', async (_, extra, offending) => {
    await tamper(extra);
    const target = join(work, 'sandbox', 'target');
    await expect(repo.openBackup('small').then((reader) => reader.extractTree(target))).rejects.toMatchObject({
      name: 'RepositoryError',
      code: 'CORRUPT',
      message: expect.stringContaining(offending),
    });
    await expect(stat(join(work, 'sandbox'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(join(tmpdir(), 'chainvault-escape'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await readdir(work)).sort()).toEqual(['repo', 'source']);
    expect((await repo.verify('small', { readData: true })).problems.join('\n')).toContain(offending);
  });

  it('extracting from a path outside the backup is refused', async () => {
    const reader = await repo.openBackup('small');
    await expect(reader.extractTree(join(work, 'target'), { from: '../keep' })).rejects.toMatchObject({ code: 'INVALID_PATH' });
    await expect(reader.extractTree(join(work, 'target'), { from: 'missing' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('extracting into a target that already has content', () => {
  it.each([
    ['a file where the backup has a file', 'keep/b.txt'],
    ['a file where the backup has a symlink', 'keep/link'],
    ['a file where the backup has a directory', 'keep'],
  ])('refuses %s with TARGET_NOT_EMPTY and leaves it unchanged', async (_, path) => {
    const target = join(work, 'target');
    await mkdir(dirname(join(target, path)), { recursive: true });
    await writeFile(join(target, path), 'precious');
    await expect((await repo.openBackup('small')).extractTree(target)).rejects.toMatchObject({ name: 'RepositoryError', code: 'TARGET_NOT_EMPTY' });
    expect(await readFile(join(target, path), 'utf8')).toBe('precious');
    const left = path === 'keep' ? [] : await readdir(join(target, 'keep'));
    expect(left.filter((name) => name.includes('chainvault-partial'))).toEqual([]);
  });

  it('does not follow a symlink planted where the backup has a directory', async () => {
    const target = join(work, 'target');
    const elsewhere = join(work, 'elsewhere');
    await mkdir(target);
    await mkdir(elsewhere);
    await symlink(elsewhere, join(target, 'keep'));
    await expect((await repo.openBackup('small')).extractTree(target)).rejects.toMatchObject({ code: 'TARGET_NOT_EMPTY' });
    expect(await readdir(elsewhere)).toEqual([]);
    expect(await readlink(join(target, 'keep'))).toBe(elsewhere);
  });

  it('restores next to unrelated files that are already there', async () => {
    const target = join(work, 'target');
    await mkdir(target);
    await writeFile(join(target, 'unrelated'), 'stays');
    await (await repo.openBackup('small')).extractTree(target);
    expect(await readFile(join(target, 'unrelated'), 'utf8')).toBe('stays');
    expect(await readFile(join(target, 'keep/b.txt'), 'utf8')).toBe('bravo\n');
  });
});

it('extracts a subtree relative to the path it is taken from', async () => {
  const target = join(work, 'target');
  const summary = await (await repo.openBackup('small')).extractTree(target, { from: 'keep' });
  expect((await readdir(target)).sort()).toEqual(['a.txt', 'b.txt', 'link']);
  expect(await readlink(join(target, 'link'))).toBe('a.txt');
  expect(summary).toEqual({ files: 2, directories: 0, symlinks: 1, bytes: 12 });
});

describe('extracting only part of a backup', () => {
  it('refuses a "from" that names a file, writing nothing next to the target', async () => {
    const { mkdtemp, writeFile, readdir, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { LocalBackend, Repository } = await import('./index');
    const work = await mkdtemp(join(tmpdir(), 'chainvault-from-file-'));
    try {
      const repository = await Repository.openOrInit(new LocalBackend(join(work, 'repo')));
      const writer = repository.startBackup();
      await writeFile(join(work, 'a.txt'), 'a');
      await writer.addFile(join(work, 'a.txt'), 'dir/a.txt');
      const manifest = await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
      const reader = await repository.openBackup(manifest.backupId);
      await expect(reader.extractTree(join(work, 'out', 'target'), { from: 'dir/a.txt' })).rejects.toMatchObject({ code: 'INVALID_PATH' });
      await expect(readdir(join(work, 'out'))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

describe("the target folder's own mode and times", () => {
  const backupTime = new Date('2001-02-03T04:05:06Z');

  /** A backup whose root folder is 0755 and dates from 2001, holding `.ssh/authorized_keys`-like content. */
  async function backupWithRootMode(): Promise<string> {
    const source = join(work, 'home');
    await mkdir(join(source, 'sub'), { recursive: true });
    await writeFile(join(source, 'authorized_keys'), 'ssh-ed25519 AAAA attacker\n');
    await chmod(join(source, 'sub'), 0o750);
    await chmod(source, 0o755);
    await utimes(source, backupTime, backupTime);
    const writer = repo.startBackup({ backupId: 'rooted' });
    await writer.addTree(source);
    await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
    return 'rooted';
  }

  it('are left as they were when the target already existed (an empty 0700 folder stays 0700)', async () => {
    const id = await backupWithRootMode();
    const target = join(work, 'dot-ssh');
    await mkdir(target);
    await chmod(target, 0o700);
    await (await repo.openBackup(id)).extractTree(target);
    const after = await stat(target);
    expect(after.mode & 0o7777).toBe(0o700);
    expect(after.mtime.getTime()).not.toBe(backupTime.getTime());
    // The rest of the tree still gets the backup's modes.
    expect((await stat(join(target, 'sub'))).mode & 0o7777).toBe(0o750);
    expect(await readFile(join(target, 'authorized_keys'), 'utf8')).toContain('attacker');
  });

  it("are the backup root's when the restore creates the target", async () => {
    const id = await backupWithRootMode();
    const target = join(work, 'new', 'target');
    await (await repo.openBackup(id)).extractTree(target);
    const after = await stat(target);
    expect(after.mode & 0o7777).toBe(0o755);
    expect(after.mtime.getTime()).toBe(backupTime.getTime());
  });
});
