/**
 * A plain-directory artifact store for the conformance kit: each backup is a directory of
 * files as the plugin gave them. It stands in for the host's repository so that plugin
 * authors can run round trips without a chainvault server.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, cp, lstat, lutimes, mkdir, readdir, readlink, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type {
  AddTreeOptions,
  ArtifactEntry,
  ArtifactSink,
  ArtifactSource,
  ExtractOptions,
  TreeSummary,
  WriteFileOptions,
} from '../artifacts';

function inside(root: string, path: string): string {
  const full = resolve(root, path);
  if (full !== root && !full.startsWith(root + sep)) throw new Error(`path escapes the store: ${path}`);
  return full;
}

async function summarize(root: string): Promise<TreeSummary> {
  const summary: TreeSummary = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
  for (const entry of await listTree(root)) {
    if (entry.type === 'file') {
      summary.files += 1;
      summary.bytes += entry.size;
    } else if (entry.type === 'symlink') summary.symlinks += 1;
    else summary.directories += 1;
  }
  return summary;
}

async function listTree(root: string): Promise<ArtifactEntry[]> {
  const entries: ArtifactEntry[] = [];
  // A backup that stored nothing (an incremental run with nothing new) lists as empty, as the host's does.
  if (!(await stat(root).catch(() => null))) return entries;
  const walk = async (dir: string) => {
    for (const name of (await readdir(dir)).sort()) {
      const full = join(dir, name);
      const info = await lstat(full);
      const path = relative(root, full).split(sep).join('/');
      const base = { path, size: 0, mode: info.mode & 0o7777, mtime: info.mtime };
      if (info.isSymbolicLink()) entries.push({ ...base, type: 'symlink', linkTarget: await readlink(full) });
      else if (info.isDirectory()) {
        entries.push({ ...base, type: 'directory' });
        await walk(full);
      } else {
        const hash = createHash('sha256');
        await pipeline(createReadStream(full), hash);
        entries.push({ ...base, type: 'file', size: info.size, sha256: hash.digest('hex') });
      }
    }
  };
  await walk(root);
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Seconds for lutimes, aimed at the middle of the microsecond libuv truncates to (as the host's repository does). */
function nsToSeconds(ns: bigint): number {
  const micros = ns / 1000n;
  return Number(micros / 1_000_000n) + (Number(micros % 1_000_000n) + 0.5) / 1e6;
}

/**
 * Gives every entry `cp` copied from `from` to `to` its source's mode and mtime. `cp` keeps file
 * mtimes only to the millisecond, and neither directory nor symlink mtimes nor the mode of a
 * directory that already existed; the contract promises all of them.
 */
async function copyMetadata(from: string, to: string): Promise<void> {
  const target = await lstat(to, { bigint: true }).catch(() => undefined);
  if (!target) return; // Left out by a filter.
  const source = await lstat(from, { bigint: true });
  if (source.isDirectory() && target.isDirectory()) {
    for (const name of await readdir(from)) await copyMetadata(join(from, name), join(to, name));
  }
  if (!source.isSymbolicLink()) await chmod(to, Number(source.mode & 0o7777n));
  await lutimes(to, nsToSeconds(source.atimeNs), nsToSeconds(source.mtimeNs));
}

/** One backup's content in a directory. Both sides of the contract: a sink and a source. */
export class DirectoryArtifacts implements ArtifactSink, ArtifactSource {
  constructor(readonly root: string) {}

  async addTree(localDirectory: string, options: AddTreeOptions = {}): Promise<TreeSummary> {
    const destination = inside(this.root, options.as ?? '.');
    const source = resolve(localDirectory);
    await cp(source, destination, {
      recursive: true,
      preserveTimestamps: true,
      verbatimSymlinks: true,
      filter: options.filter
        ? async (from) => {
            if (from === source) return true;
            const rel = relative(source, from).split(sep).join('/');
            return options.filter!(rel, (await lstat(from)).isDirectory());
          }
        : undefined,
    });
    await copyMetadata(source, destination);
    return summarize(destination);
  }

  async addFile(localPath: string, as: string): Promise<void> {
    const destination = inside(this.root, as);
    await mkdir(dirname(destination), { recursive: true });
    await cp(localPath, destination, { preserveTimestamps: true });
    await copyMetadata(localPath, destination);
  }

  async writeFile(
    as: string,
    content: AsyncIterable<Uint8Array> | Uint8Array | string,
    options: WriteFileOptions = {},
  ): Promise<{ size: number; sha256: string }> {
    const destination = inside(this.root, as);
    await mkdir(dirname(destination), { recursive: true });
    const chunks = typeof content === 'string' || content instanceof Uint8Array ? [Buffer.from(content)] : content;
    await pipeline(Readable.from(chunks), createWriteStream(destination, { mode: options.mode ?? 0o644 }));
    const info = await stat(destination);
    const hash = createHash('sha256');
    await pipeline(createReadStream(destination), hash);
    return { size: info.size, sha256: hash.digest('hex') };
  }

  list(): Promise<ArtifactEntry[]> {
    return listTree(this.root);
  }

  async *read(path: string): AsyncIterable<Uint8Array> {
    yield* createReadStream(inside(this.root, path));
  }

  async extractTree(targetDirectory: string, options: ExtractOptions = {}): Promise<TreeSummary> {
    const from = inside(this.root, options.from ?? '.');
    await mkdir(targetDirectory, { recursive: true });
    await cp(from, targetDirectory, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    await copyMetadata(from, targetDirectory);
    return summarize(targetDirectory);
  }
}
