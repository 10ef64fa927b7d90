import { execFile } from 'node:child_process';
import { chmod, lstat, lutimes, mkdtemp, readdir, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { compareTrees, writeSampleTree } from './tree';

// The helpers are the yardstick of every round-trip test: a comparison that misses a
// difference would let a broken restore pass.

let work: string;
let a: string;
let b: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'chainvault-testing-'));
  a = join(work, 'a');
  b = join(work, 'b');
  await writeSampleTree(a, { bigFileBytes: 300_000 });
  // GNU cp -a keeps everything compareTrees looks at, mtimes to the nanosecond.
  await promisify(execFile)('cp', ['-a', a, b]);
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('writeSampleTree', () => {
  it('writes every kind of entry a round trip must keep', async () => {
    const tree = await writeSampleTree(join(work, 'c'), { bigFileBytes: 1024 * 1024 + 5 });
    const c = join(work, 'c');
    expect((await lstat(join(c, tree.bigFile))).size).toBe(1024 * 1024 + 5);
    expect((await lstat(join(c, tree.repeatedFile))).size).toBe(3 * 1024 * 1024);
    expect((await lstat(join(c, tree.emptyFile))).size).toBe(0);
    expect(await readdir(join(c, tree.emptyDirectory))).toEqual([]);
    expect((await lstat(c)).mode & 0o7777).toBe(tree.rootMode);
    expect((await lstat(join(c, 'links/dangling'))).isSymbolicLink()).toBe(true);
    expect((await lstat(join(c, 'modes/private-dir'))).mode & 0o7777).toBe(0o700);
    expect(await readdir(join(c, 'odd'))).toContain('new\nline.txt');
  });
});

describe('compareTrees', () => {
  it('finds no difference between a tree and an exact copy', async () => {
    expect(await compareTrees(a, b)).toEqual([]);
  });

  it.each<[string, () => Promise<unknown>, string]>([
    ['a missing file', () => unlink(join(b, 'odd/with space.txt')), '"odd/with space.txt": only in'],
    ['an extra file', () => writeFile(join(b, 'empty-dir/new'), ''), '"empty-dir/new": only in'],
    ['a file where a directory was', () => rm(join(b, 'empty-dir'), { recursive: true }).then(() => writeFile(join(b, 'empty-dir'), '')), '"empty-dir": directory in'],
    ['changed content of the same size', () => writeFile(join(b, 'data/CURRENT'), 'MANIFEST-000002\n'), '"data/CURRENT": content differs'],
    ['a different size', () => writeFile(join(b, 'data/CURRENT'), 'M\n'), '"data/CURRENT": size'],
    ['a changed file mode', () => chmod(join(b, 'modes/secret.key'), 0o644), '"modes/secret.key": mode 600 vs 644'],
    ['a changed root mode', () => chmod(b, 0o755), '".": mode 750 vs 755'],
    ['a different symlink target', () => unlink(join(b, 'links/dangling')).then(() => symlink('elsewhere', join(b, 'links/dangling'))), '"links/dangling": symlink to'],
    ['an mtime 2 µs off', () => shiftMtime(join(b, 'modes/run.sh'), 2000n), '"modes/run.sh": mtime'],
    ['a directory mtime 2 µs off', () => shiftMtime(join(b, 'odd'), 2000n), '"odd": mtime'],
  ])('reports %s', async (_, change, expected) => {
    await change();
    // A change also moves mtimes; what matters is that the change itself is named.
    expect(await compareTrees(a, b)).toEqual(expect.arrayContaining([expect.stringContaining(expected)]));
  });

  it('accepts an mtime within its tolerance', async () => {
    await shiftMtime(join(b, 'modes/run.sh'), 2000n);
    expect(await compareTrees(a, b, { mtimeToleranceNs: 5000n })).toEqual([]);
  });
});

async function shiftMtime(path: string, byNs: bigint): Promise<void> {
  const info = await lstat(path, { bigint: true });
  const ns = info.mtimeNs + byNs;
  // utimes works in (truncated) microseconds: aim at the middle of the wanted one.
  await lutimes(path, info.atime, Number(ns / 1_000_000_000n) + (Number((ns / 1000n) % 1_000_000n) + 0.5) / 1e6);
}
