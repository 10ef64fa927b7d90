/**
 * Writes one backup: takes files from the plugin (the SDK's ArtifactSink), stores their
 * chunks, and on commit writes the manifest, last.
 */
import { createHash } from 'node:crypto';
import { lstat, open, readlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddTreeOptions, ArtifactSink, TreeSummary, WriteFileOptions } from '@chainvault/plugin-sdk';
import type { BlobPut, BlobWriter } from './blob-store';
import type { ChunkSizes } from './content-chunker';
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
import { chunkDone, ENTRY_KINDS, sealing, sharedBuffer, type FolderListing } from './sealing';

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

/** What the walk reads of an entry's lstat (BigIntStats has it). */
interface Stat {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  mode: bigint;
  size: bigint;
  mtimeNs: bigint;
}

const CHUNKS_IN_FLIGHT = 8;
/**
 * Files up to this size are read whole, into a buffer of their own size, and the next few of a
 * folder are read (and looked up) while the current one is stored: a tree of many small files
 * (a Fabric peer's, a geth node's) then waits neither on each read in turn nor on a 1 MiB read
 * buffer per file for the garbage collector. Files are still stored one at a time, in path
 * order, so packs are laid out as before; larger files are streamed, so memory stays flat.
 */
const SMALL_FILE_BYTES = 1024 * 1024;
const READ_AHEAD = 16;
/**
 * Files shorter than the smallest chunk are one chunk each: a sealing thread reads, names, hashes
 * and seals each in one request (BlobWriter.putFile), issued in path order and not waited for
 * in turn, at most this many at once. The main thread only walks the tree and looks files up.
 */
const SMALL_FILES_IN_FLIGHT = 64;

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
  /** Small files being stored by the sealing threads, oldest first (see SMALL_FILES_IN_FLIGHT). */
  private readonly smallFiles: Promise<void>[] = [];

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
      let listing: FolderListing;
      try {
        listing = await sealing.list(dir);
      } catch (error) {
        throw describeIoError(error, `reading directory ${dir}`);
      }
      const names = listing.names;
      const relativeOf = (name: string) => (rel === '' ? name : `${rel}/${name}`);
      const archivePath = (relative: string) => normalizeArchivePath(root === '.' ? relative : `${root}/${relative}`);
      // The next entries, looked up and (small files that will be read) read ahead of the one being stored.
      // A queue, so what was stored is let go: a folder of 100,000 files keeps at most READ_AHEAD read.
      const pending: { looked: Promise<Stat>; content: Promise<Buffer | null> }[] = [];
      let lookedUp = 0;
      const lookAhead = (j: number) => {
        const relative = relativeOf(names[j]);
        const full = join(dir, names[j]);
        const failed = listing.errors[j];
        const looked = failed ? Promise.reject(lstatError(Object.assign(new Error(failed.message), { code: failed.code }), full)) : Promise.resolve(listedStat(listing, j));
        const content = looked.then((info) => {
          if (!info.isFile() || info.size > BigInt(SMALL_FILE_BYTES)) return null;
          if (options.filter && !options.filter(relative, false)) return null;
          if (this.isOneChunk(info) || this.unchanged(archivePath(relative), info)) return null;
          return readWhole(full, Number(info.size));
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
          if (this.isOneChunk(info) && !this.unchanged(base.path, info)) await this.storeSmallFile(full, base.path, info);
          else await this.storeLocalFile(full, base.path, info, content);
          summary.files += 1;
          summary.bytes += Number(info.size);
        } else {
          // Sockets, FIFOs and devices are runtime artefacts, not data a node needs back.
          continue;
        }
      }
    };
    try {
      await walk(localDirectory, '');
    } catch (error) {
      // The walk's own failure is the one told; the small files in flight are let finish first.
      await Promise.allSettled(this.smallFiles.splice(0));
      throw error;
    }
    await this.smallFilesStored();
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
    const data = typeof content === 'string' || content instanceof Uint8Array ? Buffer.from(content) : content;
    const mtime = options.mtime ?? new Date();
    const stored = await this.storeContent(data, path);
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
    await this.smallFilesStored();
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

  /** Whether a file is shorter than the smallest chunk, so stored as one chunk (an empty file has none). */
  private isOneChunk(info: Stat): boolean {
    return info.size > 0n && info.size < BigInt(this.options.chunkSizes.min);
  }

  /**
   * Stores a file of one chunk on a sealing thread, which reads it (BlobWriter.putFile); its
   * entry is recorded when that is done. A file that has grown or emptied since it was looked
   * up is stored as any other file instead.
   */
  private async storeSmallFile(localPath: string, path: string, info: Stat): Promise<void> {
    throwIfAborted(this.options.signal);
    while (this.smallFiles.length >= SMALL_FILES_IN_FLIGHT) await this.smallFiles.shift();
    const put = this.blobs.putFile(localPath, this.options.chunkSizes.min);
    const stored = put.then(
      async (result) => {
        if (!result) return this.storeLocalFile(localPath, path, info);
        const { id, sha256, size } = result;
        this.stats.filesRead += 1;
        this.stats.bytesRead += size;
        this.countChunk(result);
        this.record({ path, type: 'file', mode: Number(info.mode & 0o7777n), mtimeNs: info.mtimeNs.toString(), size, sha256, chunks: [id] });
        this.reportProgress(path);
      },
      (error: unknown) => {
        throw describeIoError(error, `backing up ${localPath}`);
      },
    );
    // Observed here; the first failure is thrown when the queue is drained (or waited on for room).
    stored.catch(() => undefined);
    this.smallFiles.push(stored);
  }

  private countChunk({ added, storedBytes }: BlobPut): void {
    if (added) {
      this.stats.chunksAdded += 1;
      this.stats.storedBytes += storedBytes;
    } else {
      this.stats.chunksReused += 1;
    }
  }

  /** Waits for every small file in flight; throws the first failure, after all have settled. */
  private async smallFilesStored(): Promise<void> {
    const all = this.smallFiles.splice(0);
    const results = await Promise.allSettled(all);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
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
      stored = await this.storeContent(read ?? new FileBlocks(localPath), path);
    } catch (error) {
      throw describeIoError(error, `backing up ${localPath}`);
    }
    this.stats.filesRead += 1;
    this.stats.bytesRead += stored.size;
    this.record({ ...base, ...stored });
  }

  /**
   * Stores a file's content. The cutting and the whole-file hash run on a sealing thread, the
   * chunks' ids and sealing on the others (sealing.ts), a few chunks in flight while the next
   * piece is read and cut; results are taken in order, so the chunk list stays in order.
   */
  private async storeContent(content: Buffer | AsyncIterable<Uint8Array>, path: string): Promise<{ size: number; sha256: string; chunks: string[] }> {
    const chunks: string[] = [];
    let size = 0;
    // Each put with the offset in the file where its chunk ends.
    const inFlight: { put: Promise<BlobPut>; end: number }[] = [];
    const settle = async () => {
      const { put, end } = inFlight.shift()!;
      const stored = await put;
      // Read blocks whose every chunk is stored can be read into again.
      if (content instanceof FileBlocks) content.release(end);
      chunks.push(stored.id);
      this.countChunk(stored);
    };
    const store = async (chunk: Buffer, sha256 = false): Promise<Promise<BlobPut>> => {
      throwIfAborted(this.options.signal);
      size += chunk.length;
      const put = this.blobs.put(chunk, { sha256 });
      // Stored, the chunk's bytes are no longer needed: a slot it was joined into takes the next one.
      put.then(() => chunkDone(chunk), () => undefined);
      inFlight.push({ put, end: size });
      if (inFlight.length >= CHUNKS_IN_FLIGHT) await settle();
      this.inFlightBytes = size;
      this.reportProgress(path);
      return put;
    };
    let sha256: string;
    try {
      if (Buffer.isBuffer(content) && content.length < this.options.chunkSizes.min) {
        // Shorter than the smallest chunk, the file is one chunk (or none): named and hashed in one go.
        sha256 = content.length === 0 ? createHash('sha256').digest('hex') : ((await (await store(content, true))).sha256 as string);
      } else {
        sha256 = await this.cutAndStore(Buffer.isBuffer(content) ? null : content, Buffer.isBuffer(content) ? content : null, store);
      }
      while (inFlight.length > 0) await settle();
    } finally {
      await Promise.allSettled(inFlight.map((f) => f.put));
    }
    this.inFlightBytes = 0;
    return { size, sha256, chunks };
  }

  /**
   * Cuts a stream (or one buffer) on a sealing thread while this one hashes it whole, the next
   * piece cut while this one's chunks are stored; the file's SHA-256.
   */
  private async cutAndStore(stream: AsyncIterable<Uint8Array> | null, whole: Buffer | null, store: (chunk: Buffer) => Promise<unknown>): Promise<string> {
    const cut = sealing.cutter(this.options.chunkSizes);
    const hash = createHash('sha256');
    let ended = false;
    const cutPiece = (piece: Uint8Array, last: boolean) => {
      ended ||= last;
      const cutting = cut(piece, last);
      cutting.catch(() => undefined);
      hash.update(piece);
      return cutting;
    };
    try {
      let cutting: Promise<Buffer[]> | undefined;
      for await (const piece of whole ? [whole] : coalesced(stream as AsyncIterable<Uint8Array>)) {
        const next = cutPiece(piece, false);
        if (cutting) for (const chunk of await cutting) await store(chunk);
        cutting = next;
      }
      const last = cutPiece(new Uint8Array(0), true);
      if (cutting) for (const chunk of await cutting) await store(chunk);
      for (const chunk of await last) await store(chunk);
      return hash.digest('hex');
    } finally {
      // A file given up half way (an error, a cancel) is let go of by its thread.
      if (!ended) cut(new Uint8Array(0), true).catch(() => undefined);
    }
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
      throw lstatError(error, path);
    }
  }
}

function lstatError(error: unknown, path: string): RepositoryError {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new RepositoryError('NOT_FOUND', `${path} does not exist`, { cause: error });
  return describeIoError(error, `reading ${path}`);
}

/** An entry of a folder listed by a sealing thread, as the walk reads it. */
function listedStat(listing: FolderListing, i: number): Stat {
  const kind = ENTRY_KINDS[listing.kinds[i]];
  return {
    isFile: () => kind === 'file',
    isDirectory: () => kind === 'directory',
    isSymbolicLink: () => kind === 'symlink',
    mode: BigInt(listing.modes[i]),
    size: listing.sizes[i],
    mtimeNs: listing.mtimesNs[i],
  };
}

/** Bytes read at a time from a large file, into shared memory (sealing.ts); larger than the largest default chunk, so few chunks span two reads. */
const READ_BLOCK = 16 * 1024 * 1024;

/** A small file, read whole into shared memory of its size (more, if it grew since it was looked up). */
async function readWhole(path: string, size: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const parts: Buffer[] = [];
    for (let offset = 0; ; ) {
      // One byte more than is left, so that the read of the last bytes also sees the end of the file.
      const part = await readInto(handle, sharedBuffer(Math.min(READ_BLOCK, Math.max(0, size - offset) + 1)), offset);
      offset += part.length;
      if (part.length > 0) parts.push(part);
      if (part.length < READ_BLOCK) break;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  } finally {
    await handle.close();
  }
}

/** Fills `block` from `offset`, or as far as the file goes: the bytes read. */
async function readInto(handle: FileHandle, block: Buffer, offset: number): Promise<Buffer> {
  let filled = 0;
  while (filled < block.length) {
    const { bytesRead } = await handle.read(block, filled, block.length - filled, offset + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return block.subarray(0, filled);
}

/**
 * Read blocks kept for the next file: a new block costs its pages' faults, and each one the
 * main thread lets go of counts towards the garbage collector's next full collection.
 */
const spareBlocks: Buffer[] = [];
const SPARE_BLOCKS = 6;

/**
 * A large file's bytes in blocks of shared memory (sealing.ts), the next block read while the
 * caller works on the current one, to the file's end.
 *
 * A block goes back to `spareBlocks` only when `release` says every chunk that may lie in it is
 * stored: the sealing threads read chunks where they lie. After a failure nothing goes back.
 */
class FileBlocks implements AsyncIterable<Buffer> {
  /** Blocks handed out and not yet released, with the file offset where each ends. */
  private readonly lent: { block: Buffer; end: number }[] = [];

  constructor(private readonly path: string) {}

  /** Every chunk ending at or before `storedUpTo` is stored: the blocks before that offset are free. */
  release(storedUpTo: number): void {
    while (this.lent.length > 0 && this.lent[0].end <= storedUpTo) {
      const { block } = this.lent.shift()!;
      if (spareBlocks.length < SPARE_BLOCKS) spareBlocks.push(block);
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    const handle = await open(this.path, 'r');
    let next: Promise<Buffer> | undefined;
    try {
      let offset = 0;
      const readBlock = async () => {
        const block = spareBlocks.pop() ?? sharedBuffer(READ_BLOCK);
        const data = await readInto(handle, block, offset);
        offset += data.length;
        if (data.length > 0) this.lent.push({ block, end: offset });
        // The read past the end of a file whose size is a multiple of the block: nothing lent, the block is kept.
        else if (spareBlocks.length < SPARE_BLOCKS) spareBlocks.push(block);
        return data;
      };
      next = readBlock();
      for (;;) {
        const data = await next;
        const end = data.length < READ_BLOCK;
        if (!end) {
          next = readBlock();
          next.catch(() => undefined);
        }
        if (data.length > 0) yield data;
        if (end) return;
      }
    } finally {
      // A read still running (the caller stopped early) ends before the file is closed.
      await next?.catch(() => undefined);
      await handle.close();
    }
  }
}

/** Pieces cut at a time: a stream of small pieces (a plugin writing a file) is gathered into this much shared memory first. */
const CUT_PIECE = 4 * 1024 * 1024;

/** The stream's pieces, small ones gathered into shared memory (sealing.ts); pieces already there pass as they are. */
async function* coalesced(stream: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let gathered: Buffer | null = null;
  let filled = 0;
  for await (const piece of stream) {
    if (piece.buffer instanceof SharedArrayBuffer && filled === 0) {
      yield piece;
      continue;
    }
    let at = 0;
    while (at < piece.length) {
      gathered ??= sharedBuffer(CUT_PIECE);
      const taken = Math.min(piece.length - at, CUT_PIECE - filled);
      gathered.set(piece.subarray(at, at + taken), filled);
      filled += taken;
      at += taken;
      if (filled === CUT_PIECE) {
        yield gathered;
        gathered = null;
        filled = 0;
      }
    }
  }
  if (gathered && filled > 0) yield gathered.subarray(0, filled);
}
