/**
 * Directory trees for backup round-trip tests: one that holds every kind of entry a node's
 * data directory can (odd names, modes, symlinks, a large file), and an exact comparison.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, readlink, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const MiB = 1024 * 1024;

export interface SampleTreeOptions {
  /** Size of the large random file. Default: 5 MiB and a bit, so it ends in a short chunk. */
  bigFileBytes?: number;
}

/** Where the interesting entries of a sample tree are, as `/`-separated paths relative to its root. */
export interface SampleTree {
  /** Random bytes; its first MiB is also the block `repeatedFile` repeats. */
  bigFile: string;
  /** One 1 MiB block written three times: stored once by a content-addressed repository. */
  repeatedFile: string;
  /** A small file with content no other file has, to change or damage in tests. */
  smallFile: string;
  emptyFile: string;
  emptyDirectory: string;
  /** Mode of the tree's root directory. */
  rootMode: number;
}

/**
 * Writes the sample tree into `dir` (created if missing; should be empty). The tree has
 * nested and empty directories, an empty file, a large file, a block repeated across files,
 * relative, absolute and dangling symlinks, names with spaces, unicode, a newline, a
 * backslash, a leading dash and only dots, and modes 0600, 0755, 0444 and a 0700 directory.
 */
export async function writeSampleTree(dir: string, options: SampleTreeOptions = {}): Promise<SampleTree> {
  const bigFileBytes = options.bigFileBytes ?? 5 * MiB + 123;
  await mkdir(dir, { recursive: true });
  const file = async (path: string, content: string | Buffer, mode = 0o644) => {
    await writeFile(join(dir, path), content);
    await chmod(join(dir, path), mode);
  };

  await mkdir(join(dir, 'data/chain/deep/er/still'), { recursive: true });
  await file('data/chain/000001.log', 'block 1\nblock 2\n');
  await file('data/chain/deep/er/still/leaf.txt', 'a leaf four directories down\n');
  await file('data/CURRENT', 'MANIFEST-000001\n');

  const block = randomBytes(Math.min(MiB, bigFileBytes));
  const big = await open(join(dir, 'data/big.bin'), 'w');
  try {
    await big.write(block);
    for (let left = bigFileBytes - block.length; left > 0; left -= MiB) await big.write(randomBytes(Math.min(MiB, left)));
  } finally {
    await big.close();
  }
  await file('data/repeated.bin', Buffer.concat([block, block, block]));

  await mkdir(join(dir, 'empty-dir'));
  await file('empty-file', '');

  await mkdir(join(dir, 'links'));
  await symlink('../data/chain/000001.log', join(dir, 'links/relative'));
  await symlink('../empty-dir', join(dir, 'links/to-directory'));
  await symlink('does/not/exist', join(dir, 'links/dangling'));
  await symlink('/nonexistent/chainvault/absolute', join(dir, 'links/absolute-dangling'));

  await mkdir(join(dir, 'odd'));
  for (const name of ['with space.txt', 'ünïcödé 日本語.txt', 'new\nline.txt', '-leading-dash', 'back\\slash', '...', 'quote"and\'apostrophe']) {
    await file(`odd/${name}`, `content of ${JSON.stringify(name)}\n`);
  }

  await mkdir(join(dir, 'modes/private-dir'), { recursive: true });
  await file('modes/secret.key', 'only the owner reads this\n', 0o600);
  await file('modes/run.sh', '#!/bin/sh\necho hello\n', 0o755);
  await file('modes/read-only', 'nobody writes this\n', 0o444);
  await file('modes/private-dir/inside', 'inside a 0700 directory\n');
  // A time with nanoseconds set and long before the test ran, so a restore cannot match it by accident.
  await utimes(join(dir, 'modes/run.sh'), 978_307_200.123456, 978_307_200.123456);
  await chmod(join(dir, 'modes/private-dir'), 0o700);

  const rootMode = 0o750;
  await chmod(dir, rootMode);
  return {
    bigFile: 'data/big.bin',
    repeatedFile: 'data/repeated.bin',
    smallFile: 'data/chain/000001.log',
    emptyFile: 'empty-file',
    emptyDirectory: 'empty-dir',
    rootMode,
  };
}

export interface CompareTreesOptions {
  /** Largest mtime difference that still counts as equal. Default: 1000 ns (1 µs). */
  mtimeToleranceNs?: bigint;
}

interface TreeEntry {
  type: 'file' | 'directory' | 'symlink' | 'other';
  mode: number;
  size: bigint;
  mtimeNs: bigint;
  full: string;
}

async function listTree(root: string): Promise<Map<string, TreeEntry>> {
  const entries = new Map<string, TreeEntry>();
  const visit = async (full: string, path: string): Promise<void> => {
    const info = await lstat(full, { bigint: true });
    const type = info.isSymbolicLink() ? 'symlink' : info.isDirectory() ? 'directory' : info.isFile() ? 'file' : 'other';
    entries.set(path, { type, mode: Number(info.mode & 0o7777n), size: info.size, mtimeNs: info.mtimeNs, full });
    if (type === 'directory') {
      for (const name of (await readdir(full)).sort()) await visit(join(full, name), path === '.' ? name : `${path}/${name}`);
    }
  };
  await visit(root, '.');
  return entries;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const data of createReadStream(path)) hash.update(data as Buffer);
  return hash.digest('hex');
}

/**
 * Compares two trees entry by entry, roots included: paths, types, file content, permission
 * bits, symlink targets and mtimes. Returns one line per difference; empty means equal.
 */
export async function compareTrees(a: string, b: string, options: CompareTreesOptions = {}): Promise<string[]> {
  const tolerance = options.mtimeToleranceNs ?? 1000n;
  const [left, right] = await Promise.all([listTree(a), listTree(b)]);
  const differences: string[] = [];
  const show = (path: string) => JSON.stringify(path);
  for (const [path, x] of left) {
    const y = right.get(path);
    if (!y) {
      differences.push(`${show(path)}: only in ${a}`);
      continue;
    }
    if (x.type !== y.type) {
      differences.push(`${show(path)}: ${x.type} in ${a}, ${y.type} in ${b}`);
      continue;
    }
    // Linux ignores a symlink's own mode, so only the target's is meaningful.
    if (x.type !== 'symlink' && x.mode !== y.mode) {
      differences.push(`${show(path)}: mode ${x.mode.toString(8)} vs ${y.mode.toString(8)}`);
    }
    const drift = x.mtimeNs > y.mtimeNs ? x.mtimeNs - y.mtimeNs : y.mtimeNs - x.mtimeNs;
    if (drift > tolerance) differences.push(`${show(path)}: mtime ${x.mtimeNs} ns vs ${y.mtimeNs} ns (off by ${drift} ns)`);
    if (x.type === 'symlink') {
      const [tx, ty] = await Promise.all([readlink(x.full), readlink(y.full)]);
      if (tx !== ty) differences.push(`${show(path)}: symlink to ${JSON.stringify(tx)} vs ${JSON.stringify(ty)}`);
    } else if (x.type === 'file') {
      if (x.size !== y.size) differences.push(`${show(path)}: size ${x.size} vs ${y.size}`);
      else if ((await sha256Of(x.full)) !== (await sha256Of(y.full))) differences.push(`${show(path)}: content differs`);
    }
  }
  for (const path of right.keys()) {
    if (!left.has(path)) differences.push(`${show(path)}: only in ${b}`);
  }
  return differences;
}
