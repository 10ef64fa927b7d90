/**
 * Reads one backup back (the SDK's ArtifactSource): lists its entries, streams files with
 * every chunk checked against its hash, and extracts trees without ever writing outside the
 * target or over an existing file.
 */
import { createHash } from 'node:crypto';
import { lstat, lutimes, mkdir, open, rename, rm, symlink, utimes, chmod, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { ArtifactEntry, ArtifactSource, ExtractOptions, TreeSummary } from '@chainvault/plugin-sdk';
import type { BlobStore } from './blob-store';
import { checkManifestStructure, normalizeArchivePath, type FileEntry, type Manifest, type ManifestEntry } from './manifest';
import { RepositoryError, describeIoError, throwIfAborted } from './repository.errors';
import { slots } from './sealing';

export interface ReadProgress {
  files: number;
  bytes: number;
}

export interface BackupReaderOptions {
  signal?: AbortSignal;
  onProgress?: (progress: ReadProgress) => void;
}

/**
 * Seconds for utimes. libuv truncates times to the microsecond, and a double holds today's
 * seconds only to about 0.24 µs, so aim at the middle of the wanted microsecond: the file gets
 * the stored mtime truncated to the microsecond, never the one before it.
 */
const FILES_IN_PARALLEL = 3;
/** Files of one chunk or none, written by the sealing threads straight from a local pack (BlobStore.restoreSmallFile). */
const SMALL_FILES_IN_PARALLEL = 32;
const CHUNKS_AHEAD = 4;

function nsToSeconds(ns: string): number {
  const micros = BigInt(ns) / 1000n;
  return Number(micros / 1_000_000n) + (Number(micros % 1_000_000n) + 0.5) / 1e6;
}

export class BackupReader implements ArtifactSource {
  private readonly byPath: Map<string, ManifestEntry>;

  constructor(
    readonly manifest: Manifest,
    private readonly chunks: BlobStore,
    private readonly options: BackupReaderOptions = {},
  ) {
    const problems = checkManifestStructure(manifest);
    if (problems.length > 0) {
      throw new RepositoryError('CORRUPT', `the manifest of backup ${manifest.backupId} is damaged: ${problems.slice(0, 5).join('; ')}`);
    }
    this.byPath = new Map(manifest.entries.map((e) => [e.path, e]));
  }

  async list(): Promise<ArtifactEntry[]> {
    return this.manifest.entries.map((entry) => ({
      path: entry.path,
      type: entry.type,
      size: entry.type === 'file' ? entry.size : 0,
      mode: entry.mode,
      mtime: new Date(Number(BigInt(entry.mtimeNs) / 1_000_000n)),
      sha256: entry.type === 'file' ? entry.sha256 : undefined,
      linkTarget: entry.type === 'symlink' ? entry.target : undefined,
    }));
  }

  async *read(path: string): AsyncIterable<Uint8Array> {
    const entry = this.byPath.get(normalizeArchivePath(path));
    if (!entry || entry.type !== 'file') throw new RepositoryError('NOT_FOUND', `backup ${this.manifest.backupId} has no file "${path}"`);
    yield* this.fileContent(entry);
  }

  /** The chunks of one file, in order, each checked; the whole file is checked at the end. */
  chunksOf(path: string): AsyncIterable<Buffer> {
    const entry = this.byPath.get(normalizeArchivePath(path));
    if (!entry || entry.type !== 'file') throw new RepositoryError('NOT_FOUND', `backup ${this.manifest.backupId} has no file "${path}"`);
    return this.fileContent(entry);
  }

  async extractTree(targetDirectory: string, options: ExtractOptions = {}): Promise<TreeSummary> {
    const from = normalizeArchivePath(options.from ?? '.');
    const root = resolve(targetDirectory);
    const selected = this.manifest.entries.filter(
      (e) => from === '.' || e.path === from || e.path.startsWith(`${from}/`),
    );
    const start = selected.find((e) => e.path === from);
    if (from !== '.' && !start) throw new RepositoryError('NOT_FOUND', `backup ${this.manifest.backupId} has no "${from}"`);
    if (start && start.type !== 'directory') throw new RepositoryError('INVALID_PATH', `"${from}" in backup ${this.manifest.backupId} is a ${start.type}, not a directory to extract`);
    const summary: TreeSummary = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
    const directories: { full: string; entry: ManifestEntry }[] = [];
    // A target that is already there keeps the mode, owner and times its operator gave it
    // (an empty `~/.ssh` stays 0700): only a folder the restore creates takes the backup's.
    const rootExisted = await lstat(root).then(() => true, (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    });
    await mkdir(root, { recursive: true });

    // Files are written a few at a time; a file's directory always exists before it starts,
    // since entries come in path order and directories are created in this loop.
    const writing = new Set<Promise<void>>();
    let failure: unknown = null;
    const startFile = async (entry: FileEntry, full: string) => {
      const small = entry.chunks.length <= 1;
      while (writing.size >= (small ? SMALL_FILES_IN_PARALLEL : FILES_IN_PARALLEL)) await Promise.race(writing);
      if (failure) return;
      const task = this.writeFile(entry, full, small).then(
        () => {
          summary.files += 1;
          summary.bytes += entry.size;
          this.options.onProgress?.({ files: summary.files, bytes: summary.bytes });
        },
        (error: unknown) => {
          failure ??= describeIoError(error, `restoring "${entry.path}" to ${full}`);
        },
      );
      const tracked = task.finally(() => writing.delete(tracked));
      writing.add(tracked);
    };
    for (const entry of selected) {
      if (failure) break;
      throwIfAborted(this.options.signal);
      const relative = from === '.' ? entry.path : entry.path === from ? '.' : entry.path.slice(from.length + 1);
      const full = relative === '.' ? root : resolve(root, relative);
      if (full !== root && !full.startsWith(root + sep)) {
        throw new RepositoryError('INVALID_PATH', `"${entry.path}" would be written outside ${root}`);
      }
      try {
        if (entry.type === 'directory') {
          if (full !== root) await mkdir(full).catch((error: NodeJS.ErrnoException) => this.acceptExistingDirectory(error, full));
          if (full !== root || !rootExisted) directories.push({ full, entry });
          if (full !== root) summary.directories += 1;
        } else if (entry.type === 'symlink') {
          await symlink(entry.target, full).catch((error: NodeJS.ErrnoException) => this.refuseOverwrite(error, full));
          await lutimes(full, nsToSeconds(entry.mtimeNs), nsToSeconds(entry.mtimeNs));
          summary.symlinks += 1;
        } else {
          await startFile(entry, full);
        }
      } catch (error) {
        failure ??= describeIoError(error, `restoring "${entry.path}" to ${full}`);
      }
    }
    await Promise.all(writing);
    if (failure) throw failure;
    // Directories last and deepest first: writing into a directory changes its mtime.
    for (const { full, entry } of directories.reverse()) {
      await chmod(full, entry.mode);
      await utimes(full, nsToSeconds(entry.mtimeNs), nsToSeconds(entry.mtimeNs));
    }
    return summary;
  }

  private async writeFile(entry: FileEntry, full: string, small: boolean): Promise<void> {
    const partial = join(dirname(full), `.${basename(full)}.chainvault-partial`);
    if (small) {
      const file = { path: entry.path, size: entry.size, sha256: entry.sha256, partial, full, mode: entry.mode, mtimeSeconds: nsToSeconds(entry.mtimeNs) };
      if (await this.chunks.restoreSmallFile(entry.chunks[0], file)) return;
    }
    const handle = await open(partial, 'wx', 0o600);
    try {
      // Each chunk lies in a slot of shared memory (sealing.ts), given back once written.
      for await (const data of this.fileContent(entry, true)) {
        try {
          await writeAll(handle, data);
        } finally {
          slots.give(data);
        }
      }
      await handle.close();
    } catch (error) {
      await handle.close().catch(() => undefined);
      await rm(partial, { force: true });
      throw error;
    }
    // Never replace something already in the target: a restore must not destroy data.
    if (await lstat(full).then(() => true, () => false)) {
      await rm(partial, { force: true });
      throw new RepositoryError('TARGET_NOT_EMPTY', `${full} already exists; restore into an empty directory`);
    }
    await rename(partial, full);
    await chmod(full, entry.mode);
    await utimes(full, nsToSeconds(entry.mtimeNs), nsToSeconds(entry.mtimeNs));
  }

  /** `inSlots`: each chunk comes in a slot of `slots`, which the caller gives back. */
  private async *fileContent(entry: FileEntry, inSlots = false): AsyncGenerator<Buffer> {
    const whole = createHash('sha256');
    let size = 0;
    // The next chunks are fetched and decoded while this one is written.
    const ahead: Promise<Buffer>[] = [];
    let next = 0;
    const fetchAhead = () => {
      while (ahead.length < CHUNKS_AHEAD && next < entry.chunks.length) {
        const fetch = inSlots ? this.chunks.getInSlot(entry.chunks[next++]) : this.chunks.get(entry.chunks[next++]);
        fetch.catch(() => undefined);
        ahead.push(fetch);
      }
    };
    for (let i = 0; i < entry.chunks.length; i += 1) {
      throwIfAborted(this.options.signal);
      fetchAhead();
      let data: Buffer;
      try {
        data = await ahead.shift()!;
      } catch (error) {
        if (error instanceof RepositoryError) {
          throw new RepositoryError(error.code === 'NOT_FOUND' ? 'CORRUPT' : error.code, `file "${entry.path}": ${error.message}`, { cause: error });
        }
        throw error;
      }
      whole.update(data);
      size += data.length;
      yield data;
    }
    if (size !== entry.size || whole.digest('hex') !== entry.sha256) {
      throw new RepositoryError('CORRUPT', `file "${entry.path}" does not match its recorded size and SHA-256`);
    }
  }

  private acceptExistingDirectory(error: NodeJS.ErrnoException, full: string): Promise<void> {
    if (error.code !== 'EEXIST') throw error;
    return lstat(full).then((info) => {
      if (!info.isDirectory()) throw new RepositoryError('TARGET_NOT_EMPTY', `${full} already exists and is not a directory`);
    });
  }

  private refuseOverwrite(error: NodeJS.ErrnoException, full: string): never {
    if (error.code === 'EEXIST') throw new RepositoryError('TARGET_NOT_EMPTY', `${full} already exists; restore into an empty directory`);
    throw error;
  }
}

/** Writes all of `data` at the file's position (a write may take less than it is given). */
async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  for (let at = 0; at < data.length; ) {
    const { bytesWritten } = await handle.write(data, at, data.length - at);
    if (bytesWritten === 0) throw Object.assign(new Error('the file system took no more bytes'), { code: 'ENOSPC' });
    at += bytesWritten;
  }
}
