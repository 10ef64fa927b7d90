/**
 * Writes one backup: takes files from the plugin (the SDK's ArtifactSink), stores their
 * chunks, and on commit writes the manifest, last.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { AddTreeOptions, ArtifactSink, TreeSummary, WriteFileOptions } from '@chainvault/plugin-sdk';
import type { BlobPut, BlobWriter } from './blob-store';
import { contentDefinedChunks, type ChunkSizes } from './content-chunker';
import {
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  comparePaths,
  normalizeArchivePath,
  parentOf,
  type BackupStats,
  type FileEntry,
  type Manifest,
  type ManifestEntry,
} from './manifest';
import { RepositoryError, describeIoError, throwIfAborted } from './repository.errors';

export interface WriteProgress {
  files: number;
  bytes: number;
  currentPath?: string;
}

export interface BackupWriterOptions {
  backupId: string;
  chunkSizes: ChunkSizes;
  /** The previous backup's manifest: files with the same path, size and mtime are not read again. */
  previous: Manifest | null;
  signal?: AbortSignal;
  onProgress?: (progress: WriteProgress) => void;
}

type Stat = import('node:fs').BigIntStats;

const CHUNKS_IN_FLIGHT = 4;
/**
 * Files up to this size are read whole, into a buffer of their own size, and the next few of a
 * folder are read (and looked up) while the current one is stored: a tree of many small files
 * (a Fabric peer's, a geth node's) then waits neither on each read in turn nor on a 1 MiB read
 * buffer per file for the garbage collector. Files are still stored one at a time, in path
 * order, so packs are laid out as before; larger files are streamed, so memory stays flat.
 */
const SMALL_FILE_BYTES = 1024 * 1024;
const READ_AHEAD = 16;

export class BackupWriter implements ArtifactSink {
  private readonly entries = new Map<string, ManifestEntry>();
  private readonly previousFiles = new Map<string, FileEntry>();
  private readonly stats: BackupStats = {
    filesRead: 0,
    filesUnchanged: 0,
    bytesRead: 0,
    logicalBytes: 0,
    storedBytes: 0,
    chunksAdded: 0,
    chunksReused: 0,
  };
  private fileCount = 0;
  /** Bytes of the file being stored that are not yet in `logicalBytes`. */
  private inFlightBytes = 0;

  constructor(
    private readonly blobs: BlobWriter,
    private readonly commitManifest: (manifest: Manifest) => Promise<void>,
    private readonly options: BackupWriterOptions,
  ) {
    for (const entry of options.previous?.entries ?? []) {
      if (entry.type === 'file') this.previousFiles.set(entry.path, entry);
    }
  }

  async addTree(localDirectory: string, options: AddTreeOptions = {}): Promise<TreeSummary> {
    const root = normalizeArchivePath(options.as ?? '.');
    const summary: TreeSummary = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
    const rootStat = await this.lstat(localDirectory);
    if (!rootStat.isDirectory()) throw new RepositoryError('INVALID_PATH', `${localDirectory} is not a directory`);
    this.addParents(root);
    this.record({ path: root, type: 'directory', mode: Number(rootStat.mode & 0o7777n), mtimeNs: rootStat.mtimeNs.toString() });

    const walk = async (dir: string, rel: string): Promise<void> => {
      let names: string[];
      try {
        names = (await readdir(dir)).sort();
      } catch (error) {
        throw describeIoError(error, `reading directory ${dir}`);
      }
      const relativeOf = (name: string) => (rel === '' ? name : `${rel}/${name}`);
      const archivePath = (relative: string) => normalizeArchivePath(root === '.' ? relative : `${root}/${relative}`);
      // The next entries, looked up and (small files that will be read) read ahead of the one being stored.
      // A queue, so what was stored is let go: a folder of 100,000 files keeps at most READ_AHEAD read.
      const pending: { looked: Promise<Stat>; content: Promise<Buffer | null> }[] = [];
      let lookedUp = 0;
      const lookAhead = (j: number) => {
        const relative = relativeOf(names[j]);
        const full = join(dir, names[j]);
        const looked = this.lstat(full);
        const content = looked.then((info) => {
          if (!info.isFile() || info.size > BigInt(SMALL_FILE_BYTES)) return null;
          if (options.filter && !options.filter(relative, false)) return null;
          if (this.unchanged(archivePath(relative), info)) return null;
          return readFile(full);
        });
        // Their failures surface when their entry's turn comes, as before the read-ahead.
        looked.catch(() => undefined);
        content.catch(() => undefined);
        pending.push({ looked, content });
      };
      for (let i = 0; i < names.length; i++) {
        const name = names[i];
        throwIfAborted(this.options.signal);
        const relative = relativeOf(name);
        const full = join(dir, name);
        while (lookedUp < Math.min(names.length, i + READ_AHEAD)) lookAhead(lookedUp++);
        const next = pending.shift();
        if (!next) break;
        const { looked, content } = next;
        const info = await looked;
        if (options.filter && !options.filter(relative, info.isDirectory())) continue;
        const path = root === '.' ? relative : `${root}/${relative}`;
        const base = { path: normalizeArchivePath(path), mode: Number(info.mode & 0o7777n), mtimeNs: info.mtimeNs.toString() };
        if (info.isSymbolicLink()) {
          this.record({ ...base, type: 'symlink', target: await readlink(full) });
          summary.symlinks += 1;
        } else if (info.isDirectory()) {
          this.record({ ...base, type: 'directory' });
          summary.directories += 1;
          await walk(full, relative);
        } else if (info.isFile()) {
          await this.storeLocalFile(full, base.path, info, content);
          summary.files += 1;
          summary.bytes += Number(info.size);
        } else {
          // Sockets, FIFOs and devices are runtime artefacts, not data a node needs back.
          continue;
        }
      }
    };
    await walk(localDirectory, '');
    return summary;
  }

  async addFile(localPath: string, as: string): Promise<void> {
    const path = normalizeArchivePath(as);
    const info = await this.lstat(localPath);
    if (!info.isFile()) throw new RepositoryError('INVALID_PATH', `${localPath} is not a regular file`);
    this.addParents(path);
    await this.storeLocalFile(localPath, path, info);
  }

  async writeFile(
    as: string,
    content: AsyncIterable<Uint8Array> | Uint8Array | string,
    options: WriteFileOptions = {},
  ): Promise<{ size: number; sha256: string }> {
    const path = normalizeArchivePath(as);
    this.addParents(path);
    const stream = typeof content === 'string' || content instanceof Uint8Array ? Readable.from([Buffer.from(content)]) : content;
    const mtime = options.mtime ?? new Date();
    const stored = await this.storeStream(stream, path);
    this.record({
      path,
      type: 'file',
      mode: options.mode ?? 0o644,
      mtimeNs: (BigInt(mtime.getTime()) * 1_000_000n).toString(),
      ...stored,
    });
    return { size: stored.size, sha256: stored.sha256 };
  }

  /**
   * Uploads the last pack, writes the index of this backup's packs, then the manifest — in
   * that order, so a crash at any point leaves a valid repository. Until this returns, the
   * backup does not exist.
   */
  async commit(details: { createdAt: Date; labels: Record<string, unknown>; metadata: Record<string, unknown> }): Promise<Manifest> {
    throwIfAborted(this.options.signal);
    await this.blobs.finish();
    throwIfAborted(this.options.signal);
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      backupId: this.options.backupId,
      createdAt: details.createdAt.toISOString(),
      parent: this.options.previous?.backupId ?? null,
      labels: details.labels,
      metadata: details.metadata,
      entries: [...this.entries.values()].sort((a, b) => comparePaths(a.path, b.path)),
      stats: { ...this.stats },
    };
    await this.commitManifest(manifest);
    return manifest;
  }

  get currentStats(): BackupStats {
    return { ...this.stats };
  }

  /** The previous backup's record of `path`, when the file is as it was then and every chunk is still indexed. */
  private unchanged(path: string, info: Stat): FileEntry | undefined {
    const earlier = this.previousFiles.get(path);
    // Reused only while every chunk is still indexed: a damaged or pruned index means reading again.
    if (earlier && earlier.size === Number(info.size) && earlier.mtimeNs === info.mtimeNs.toString() && earlier.chunks.every((id) => this.blobs.knows(id))) return earlier;
    return undefined;
  }

  /** `content`: the file read ahead (null when it was not). */
  private async storeLocalFile(localPath: string, path: string, info: Stat, content?: Promise<Buffer | null>): Promise<void> {
    const base = { path, type: 'file' as const, mode: Number(info.mode & 0o7777n), mtimeNs: info.mtimeNs.toString() };
    const earlier = this.unchanged(path, info);
    if (earlier) {
      this.record({ ...base, size: earlier.size, sha256: earlier.sha256, chunks: earlier.chunks });
      this.stats.filesUnchanged += 1;
      this.stats.chunksReused += earlier.chunks.length;
      this.reportProgress(path);
      return;
    }
    let stored: { size: number; sha256: string; chunks: string[] };
    try {
      const read = await content;
      stored = await this.storeStream(read ? once(read) : createReadStream(localPath, { highWaterMark: 1024 * 1024 }), path);
    } catch (error) {
      throw describeIoError(error, `backing up ${localPath}`);
    }
    this.stats.filesRead += 1;
    this.stats.bytesRead += stored.size;
    this.record({ ...base, ...stored });
  }

  private async storeStream(stream: AsyncIterable<Uint8Array>, path: string): Promise<{ size: number; sha256: string; chunks: string[] }> {
    const whole = createHash('sha256');
    const chunks: string[] = [];
    let size = 0;
    // A few chunks in flight: their ids and sealing are computed on other threads while this
    // one cuts and hashes the next. Results are taken in order, so the chunk list stays in order.
    const inFlight: Promise<BlobPut>[] = [];
    const settle = async () => {
      const { id, added, storedBytes } = await inFlight.shift()!;
      chunks.push(id);
      if (added) {
        this.stats.chunksAdded += 1;
        this.stats.storedBytes += storedBytes;
      } else {
        this.stats.chunksReused += 1;
      }
    };
    try {
      for await (const chunk of contentDefinedChunks(stream, this.options.chunkSizes)) {
        throwIfAborted(this.options.signal);
        whole.update(chunk);
        size += chunk.length;
        const put = this.blobs.put(chunk);
        put.catch(() => undefined);
        inFlight.push(put);
        if (inFlight.length >= CHUNKS_IN_FLIGHT) await settle();
        this.inFlightBytes = size;
        this.reportProgress(path);
      }
      while (inFlight.length > 0) await settle();
    } finally {
      await Promise.allSettled(inFlight);
    }
    this.inFlightBytes = 0;
    return { size, sha256: whole.digest('hex'), chunks };
  }

  private reportProgress(path: string): void {
    this.options.onProgress?.({ files: this.fileCount, bytes: this.stats.logicalBytes + this.inFlightBytes, currentPath: path });
  }

  private record(entry: ManifestEntry): void {
    const existing = this.entries.get(entry.path);
    if (existing) {
      // A tree added under a directory another call already created may repeat that directory.
      if (existing.type === 'directory' && entry.type === 'directory') {
        this.entries.set(entry.path, entry);
        return;
      }
      throw new RepositoryError('DUPLICATE_PATH', `"${entry.path}" was added to the backup twice`);
    }
    const parent = entry.path === '.' ? undefined : this.entries.get(parentOf(entry.path));
    if (parent && parent.type !== 'directory') {
      throw new RepositoryError('INVALID_PATH', `"${entry.path}" cannot go inside "${parent.path}", which is a ${parent.type}`);
    }
    this.entries.set(entry.path, entry);
    if (entry.type === 'file') {
      this.stats.logicalBytes += entry.size;
      this.fileCount += 1;
    }
  }

  /** Creates directory entries for the parents of `path` that nobody added explicitly. */
  private addParents(path: string): void {
    const now = (BigInt(Date.now()) * 1_000_000n).toString();
    const missing: string[] = [];
    for (let p = path === '.' ? '.' : parentOf(path); !this.entries.has(p); p = parentOf(p)) {
      missing.push(p);
      if (p === '.') break;
    }
    for (const p of missing.reverse()) this.entries.set(p, { path: p, type: 'directory', mode: 0o755, mtimeNs: now });
  }

  private async lstat(path: string): Promise<Stat> {
    try {
      return await lstat(path, { bigint: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new RepositoryError('NOT_FOUND', `${path} does not exist`, { cause: error });
      throw describeIoError(error, `reading ${path}`);
    }
  }
}

/** One buffer as a stream of one piece. */
async function* once(content: Uint8Array): AsyncIterable<Uint8Array> {
  yield content;
}
