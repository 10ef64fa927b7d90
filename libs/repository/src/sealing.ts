/**
 * Sealing threads: a chunk's id (SHA-256, or HMAC-SHA-256 when encrypted), its compression and
 * encryption for a backup, and the reverse with the id checked for a restore or a verify, on
 * worker threads (sealing-worker.ts) rather than the main thread.
 *
 * Why threads of our own rather than WebCrypto on the thread pool: WebCrypto copies every input
 * on the calling thread before its job starts, so a backup of 1 GiB spent about 1.6 s of the main
 * thread copying for its ids and its encryption alone, on top of cutting and hashing. Chunks cut
 * from shared memory (`sharedBuffer`) reach a thread without a copy, and what a thread makes
 * comes back without one.
 *
 * One pool serves the process; its threads keep the process alive only while they have work.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BlobEncoding, CompressionName } from './compression';
import type { ChunkSizes } from './content-chunker';
import type { MasterKey } from './crypto';
import { RepositoryError, type RepositoryErrorCode } from './repository.errors';

/** The compiled thread: next to this file when built, in dist/ when this file runs from source (tests). */
const WORKER_FILE = existsSync(join(__dirname, 'sealing-worker.js')) ? join(__dirname, 'sealing-worker.js') : join(__dirname, '..', 'dist', 'sealing-worker.js');

interface Keys {
  data: Uint8Array;
  id: Uint8Array;
}

export type SealingRequest = { seq: number; data: Uint8Array } & (
  | { op: 'id'; key: Keys | null; sha256: boolean }
  /** The sealed chunk is written into `into` (room for the chunk and its nonce and tag), and its length answered. */
  | { op: 'seal'; key: Keys | null; compression: CompressionName; into: Uint8Array }
  /**
   * A small file read by the thread itself (no round trips through the thread pool for its open,
   * read and close), named, hashed and sealed; `changed` when it is empty or has grown to `limit`.
   */
  | { op: 'read-name-seal'; path: string; key: Keys | null; compression: CompressionName; limit: number }
  /** A small chunk named (and hashed, with `sha256`) and sealed in one go; the sealed bytes handed back. */
  | { op: 'name-and-seal'; key: Keys | null; compression: CompressionName; sha256: boolean }
  /**
   * Opens and checks a stored chunk; its plaintext is written into `into` when given, handed back
   * when `keep`, else only checked (a verify).
   */
  | { op: 'open'; key: Keys | null; encoding: BlobEncoding; rawLength: number; id: string; what: string; into: Uint8Array | null; keep: boolean }
  /**
   * Restores a file of at most one chunk from a pack on this machine, all on the thread: the
   * chunk read, opened and checked, the file checked against its size and SHA-256, written to
   * `partial` (never over anything), renamed to `full`, given its mode and time.
   */
  | { op: 'restore-file'; key: Keys | null; chunk: LocalChunk | null; file: RestoredFile }
  /**
   * A folder's entries, sorted by name, each looked up (lstat) on the thread: one request per
   * folder instead of a promise and a thread-pool round trip per entry.
   */
  | { op: 'list'; path: string }
  /**
   * The next piece of file `file` to cut; the thread keeps the file's chunker and hash until `last`.
   * A chunk that spans this piece and the one before is joined into `join` (a slot of `sizes.max`).
   */
  | { op: 'cut'; file: number; sizes: ChunkSizes; last: boolean; join: Uint8Array }
);

/** A chunk in a pack file on this machine, and what to say when it cannot be read. */
export interface LocalChunk {
  id: string;
  encoding: BlobEncoding;
  rawLength: number;
  packFile: string;
  offset: number;
  length: number;
  packId: string;
  /** How the pack is named when it is missing (as the backend names it). */
  missing: string;
}

export interface RestoredFile {
  path: string;
  size: number;
  sha256: string;
  partial: string;
  full: string;
  mode: number;
  mtimeSeconds: number;
}

/**
 * A folder's entries as `list` answers them: per entry its kind (file, directory, symlink, other),
 * mode, size and mtime in nanoseconds, or the error code its lookup failed with.
 */
export interface FolderListing {
  names: string[];
  kinds: Uint8Array;
  modes: Uint32Array;
  sizes: BigInt64Array;
  mtimesNs: BigInt64Array;
  /** Lookups that failed (the entry vanished, or cannot be read), by index. */
  errors: Record<number, { code?: string; message: string }>;
}

export const ENTRY_KINDS = ['file', 'directory', 'symlink', 'other'] as const;

export type SealingReply = { seq: number } & (
  | { id: string; sha256?: string }
  | { length: number; encoding: BlobEncoding }
  | { id: string; sha256?: string; sealed: Uint8Array; encoding: BlobEncoding; size?: number }
  | { changed: true }
  | { listing: FolderListing }
  | { plaintext?: Uint8Array }
  /** `joined`: the index of the chunk that lies in the request's `join` slot, or -1 when it was not needed. */
  | { chunks: Uint8Array[]; joined: number }
  | { error: { code?: RepositoryErrorCode; errno?: string; message: string } }
);

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Memory of the given size that the sealing threads read without a copy. */
export function sharedBuffer(size: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(size));
}

/** What sealing adds to a chunk at most: its nonce and tag (compression is kept only when it shrinks the chunk). */
const SEAL_OVERHEAD = 12 + 16;

/**
 * Slots of shared memory that sealed chunks are written into, kept for reuse once written out:
 * a fresh buffer for every chunk costs its pages' faults, and each one the main thread lets go
 * of counts towards the garbage collector's next full collection (with a server's heap, about a
 * second and a half of a 1 GiB backup went to those collections).
 */
export class SharedSlots {
  private readonly spare = new Map<number, SharedArrayBuffer[]>();
  private spareBytes = 0;
  private lastTaken = 0;
  private idleTimer: NodeJS.Timeout | null = null;

  /** `idleMs`: spare slots are let go of when none has been taken for this long (a server at rest keeps none). */
  constructor(
    private readonly keepBytes: number,
    private readonly idleMs = 30_000,
  ) {}

  /** Bytes of spare slots kept now. */
  get keptBytes(): number {
    return this.spareBytes;
  }

  /**
   * A slot of at least `size` bytes. Sizes are powers of two from 64 KiB, so slots are reused
   * across chunk sizes; a spare one up to four times as large is taken before new memory is.
   */
  take(size: number): Buffer {
    this.lastTaken = Date.now();
    const capacity = 2 ** Math.max(16, Math.ceil(Math.log2(Math.max(size, 1))));
    for (let larger = capacity; larger <= capacity * 4; larger *= 2) {
      const kept = this.spare.get(larger)?.pop();
      if (kept) {
        this.spareBytes -= larger;
        return Buffer.from(kept);
      }
    }
    return Buffer.from(new SharedArrayBuffer(capacity));
  }

  /**
   * Gives back the slot `view` lies in; its bytes must no longer be needed. Spare slots of other
   * sizes make way for it: a verify's pack-sized slots after a restore's chunk-sized ones would
   * otherwise each be new memory, left to the collectors of every thread that saw them (a 1 GiB
   * verify after a restore peaked at 1.4-1.8 GiB).
   */
  give(view: Uint8Array): void {
    const memory = view.buffer;
    if (!(memory instanceof SharedArrayBuffer) || memory.byteLength > this.keepBytes) return;
    while (this.spareBytes + memory.byteLength > this.keepBytes) {
      const other = [...this.spare].find(([size, list]) => size !== memory.byteLength && list.length > 0);
      if (!other) return;
      other[1].pop();
      this.spareBytes -= other[0];
    }
    const list = this.spare.get(memory.byteLength) ?? [];
    list.push(memory);
    this.spare.set(memory.byteLength, list);
    this.spareBytes += memory.byteLength;
    this.watchIdle();
  }

  /** Lets go of every spare slot (the collectors free them once no thread holds them). */
  letGo(): void {
    this.spare.clear();
    this.spareBytes = 0;
  }

  private watchIdle(): void {
    if (this.idleTimer) return;
    const check = () => {
      const idle = Date.now() - this.lastTaken;
      if (idle < this.idleMs) {
        this.idleTimer = setTimeout(check, this.idleMs - idle).unref();
        return;
      }
      this.idleTimer = null;
      this.letGo();
    };
    this.idleTimer = setTimeout(check, this.idleMs).unref();
  }
}

/**
 * The process's slots: enough for what one backup has in flight, so that a long one reuses them
 * instead of taking new memory: the packs being written (blob-store.ts, 4) and the one being
 * filled, 16 MiB each of chunks in slots up to twice their size, and the chunks being cut and
 * sealed. With less (128 MiB), a backup of 4 GiB dropped 25 slots and took 330 MiB of new ones.
 */
export const slots = new SharedSlots(192 * 1024 * 1024);

/**
 * Chunks a cutter joined (they spanned two pieces) and the slots they lie in. Joined into new
 * memory each, they were a quarter of what a backup of 4 GiB allocated, left to the collectors of
 * two threads: the process grew by 200 MiB over one of 1 GiB.
 */
const joinSlots = new WeakMap<Buffer, Buffer>();

/** A chunk from a cutter is stored (or no longer needed): the slot it was joined into, if any, takes the next one. */
export function chunkDone(chunk: Buffer): void {
  const slot = joinSlots.get(chunk);
  if (!slot) return;
  joinSlots.delete(chunk);
  slots.give(slot);
}

/** `data` in shared memory: as it is when it is there already, else copied there once. */
export function inSharedMemory(data: Uint8Array): Buffer {
  if (data.buffer instanceof SharedArrayBuffer) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const shared = sharedBuffer(data.byteLength);
  shared.set(data);
  return shared;
}

/** `data` as the sealing threads can take it: shared memory as it is, else a copy (handed over) of just the view. */
function shareable(data: Uint8Array): { data: Uint8Array; transfer: ArrayBuffer[] } {
  if (data.buffer instanceof SharedArrayBuffer) return { data, transfer: [] };
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  return { data: copy, transfer: [copy.buffer] };
}

interface Thread {
  worker: Worker;
  outstanding: Set<number>;
  /** Files being cut here: other work goes to threads that are not cutting, unless they are much busier. */
  cutting: number;
}

/** What a file being cut counts for, in requests waiting, when a thread is chosen. */
const CUTTING_WEIGHT = 8;
const load = (t: Thread) => t.outstanding.size + CUTTING_WEIGHT * t.cutting;

export class SealingPool {
  private readonly threads: Thread[] = [];
  private readonly waiting = new Map<number, { resolve: (reply: SealingReply) => void; reject: (error: Error) => void }>();
  private seq = 0;
  private files = 0;

  constructor(private readonly size = Math.max(1, Math.min(4, availableParallelism()))) {}

  /** The chunk's id, and with `sha256` its SHA-256 (a file that is one chunk is named and hashed in one go). */
  async id(data: Uint8Array, master: MasterKey | null, sha256 = false): Promise<{ id: string; sha256?: string }> {
    const reply = (await this.ask({ op: 'id', key: keysOf(master), data, sha256 })) as { id: string; sha256?: string };
    return reply.sha256 === undefined ? { id: reply.id } : { id: reply.id, sha256: reply.sha256 };
  }

  /** A small file read, named, hashed and sealed on a thread (see the request); null when it was empty or reached `limit` bytes. */
  async readNameSeal(path: string, master: MasterKey | null, compression: CompressionName, limit: number): Promise<{ id: string; sha256: string; size: number; sealed: Buffer; encoding: BlobEncoding } | null> {
    const reply = (await this.send({ op: 'read-name-seal', path, key: keysOf(master), compression, limit, data: new Uint8Array(0) }, [])) as
      | { id: string; sha256: string; size: number; sealed: Uint8Array; encoding: BlobEncoding }
      | { changed: true };
    if ('changed' in reply) return null;
    return { id: reply.id, sha256: reply.sha256, size: reply.size, sealed: Buffer.from(reply.sealed.buffer, reply.sealed.byteOffset, reply.sealed.byteLength), encoding: reply.encoding };
  }

  /** A small chunk's id (and SHA-256, with `sha256`) and its sealed bytes, in one request; `data` is copied or handed over. */
  async nameAndSeal(data: Uint8Array, master: MasterKey | null, compression: CompressionName, sha256 = false): Promise<{ id: string; sha256?: string; sealed: Buffer; encoding: BlobEncoding }> {
    const reply = (await this.ask({ op: 'name-and-seal', key: keysOf(master), data, compression, sha256 })) as { id: string; sha256?: string; sealed: Uint8Array; encoding: BlobEncoding };
    const sealed = Buffer.from(reply.sealed.buffer, reply.sealed.byteOffset, reply.sealed.byteLength);
    return reply.sha256 === undefined ? { id: reply.id, sealed, encoding: reply.encoding } : { id: reply.id, sha256: reply.sha256, sealed, encoding: reply.encoding };
  }

  /**
   * Cuts one file into content-defined chunks on one thread, which then takes other work only
   * when the others are busier. Pieces may be given before the previous ones are cut (they are
   * cut in order). A file given up before its last piece must still be ended (`last` with an
   * empty piece), so the thread lets go of it.
   */
  cutter(sizes: ChunkSizes): (piece: Uint8Array, last: boolean) => Promise<Buffer[]> {
    const thread = this.leastBusy();
    thread.cutting += 1;
    const file = ++this.files;
    let ended = false;
    return async (piece, last) => {
      if (last && !ended) {
        ended = true;
        thread.cutting -= 1;
      }
      // In shared memory, so the chunks that come back are views on it, not copies.
      const join = slots.take(sizes.max);
      let reply: { chunks: Uint8Array[]; joined: number };
      try {
        reply = (await this.send({ op: 'cut', file, sizes, data: inSharedMemory(piece), last, join }, [], thread)) as typeof reply;
      } catch (error) {
        slots.give(join);
        throw error;
      }
      const chunks = reply.chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength));
      if (reply.joined < 0) slots.give(join);
      else joinSlots.set(chunks[reply.joined], join);
      return chunks;
    };
  }

  /**
   * The chunk as stored: compressed when that pays, then sealed when the repository is encrypted.
   * It lies in a slot of `slots`: give it back there once it is written.
   */
  async seal(data: Uint8Array, master: MasterKey | null, compression: CompressionName): Promise<{ sealed: Buffer; encoding: BlobEncoding }> {
    const into = slots.take(data.byteLength + SEAL_OVERHEAD);
    try {
      const reply = (await this.ask({ op: 'seal', key: keysOf(master), data, compression, into })) as { length: number; encoding: BlobEncoding };
      return { sealed: into.subarray(0, reply.length), encoding: reply.encoding };
    } catch (error) {
      slots.give(into);
      throw error;
    }
  }

  /**
   * A stored chunk opened, decompressed and checked against its id and length (CORRUPT, naming
   * `what`, when it does not match). With `into: 'slot'` the plaintext lies in a slot of `slots`
   * (give it back once written); with 'none' it is only checked, and nothing comes back. `stored`
   * is handed over when it owns all of its memory: the caller must not use it afterwards.
   */
  async open(stored: Buffer, master: MasterKey | null, blob: { id: string; encoding: BlobEncoding; rawLength: number }, what: string, into: 'owned' | 'slot' | 'none' = 'owned'): Promise<Buffer> {
    const slot = into === 'slot' ? slots.take(blob.rawLength) : null;
    const request = { op: 'open' as const, key: keysOf(master), id: blob.id, encoding: blob.encoding, rawLength: blob.rawLength, what, into: slot, keep: into === 'owned' };
    const whole = stored.byteOffset === 0 && stored.byteLength === stored.buffer.byteLength && !(stored.buffer instanceof SharedArrayBuffer);
    try {
      const reply = (await (whole ? this.send({ ...request, data: stored }, [stored.buffer as ArrayBuffer]) : this.ask({ ...request, data: stored }))) as { plaintext?: Uint8Array };
      if (slot) return slot.subarray(0, blob.rawLength);
      return reply.plaintext ? Buffer.from(reply.plaintext.buffer, reply.plaintext.byteOffset, reply.plaintext.byteLength) : Buffer.alloc(0);
    } catch (error) {
      if (slot) slots.give(slot);
      throw error;
    }
  }

  /** A folder's entries, sorted by name and looked up, on a thread (see the request). */
  async list(path: string): Promise<FolderListing> {
    const reply = (await this.send({ op: 'list', path, data: new Uint8Array(0) }, [])) as { listing: FolderListing };
    return reply.listing;
  }

  /** Restores a file of at most one chunk from a local pack on a thread (see the request). */
  async restoreFile(chunk: LocalChunk | null, master: MasterKey | null, file: RestoredFile): Promise<void> {
    await this.send({ op: 'restore-file', key: keysOf(master), chunk, file, data: new Uint8Array(0) }, []);
  }

  /** Stops the threads; what they were asked and had not answered fails, and the next request starts new ones. */
  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }

  private ask(request: DistributiveOmit<SealingRequest, 'seq'>): Promise<SealingReply> {
    const { data, transfer } = shareable(request.data);
    return this.send({ ...request, data }, transfer);
  }

  private send(request: DistributiveOmit<SealingRequest, 'seq'>, transfer: ArrayBuffer[], to?: Thread): Promise<SealingReply> {
    const seq = ++this.seq;
    let thread = to && this.threads.includes(to) ? to : undefined;
    if (to && !thread) return Promise.reject(new RepositoryError('IO', 'the sealing thread cutting this file stopped'));
    thread ??= this.leastBusy();
    return new Promise<SealingReply>((resolve, reject) => {
      this.waiting.set(seq, { resolve, reject });
      if (thread.outstanding.size === 0) thread.worker.ref();
      thread.outstanding.add(seq);
      thread.worker.postMessage({ ...request, seq }, transfer);
    }).then((reply) => {
      if ('error' in reply) {
        // A file system error keeps its code (ENOENT, EACCES, ENOSPC), for whoever describes it.
        if (reply.error.errno) throw Object.assign(new Error(reply.error.message), { code: reply.error.errno });
        throw new RepositoryError(reply.error.code ?? 'IO', reply.error.message);
      }
      return reply;
    });
  }

  private leastBusy(): Thread {
    if (this.threads.length < this.size) {
      const idle = this.threads.find((t) => load(t) === 0);
      if (idle) return idle;
      return this.start();
    }
    return this.threads.reduce((best, t) => (load(t) < load(best) ? t : best));
  }

  private start(): Thread {
    if (!existsSync(WORKER_FILE)) throw new RepositoryError('IO', `the repository's sealing thread ${WORKER_FILE} is missing: build @chainvault/repository`);
    const thread: Thread = { worker: new Worker(WORKER_FILE), outstanding: new Set(), cutting: 0 };
    thread.worker.unref();
    thread.worker.on('message', (reply: SealingReply) => {
      thread.outstanding.delete(reply.seq);
      if (thread.outstanding.size === 0) thread.worker.unref();
      const waiter = this.waiting.get(reply.seq);
      this.waiting.delete(reply.seq);
      waiter?.resolve(reply);
    });
    const lost = (error: Error) => {
      const at = this.threads.indexOf(thread);
      if (at >= 0) this.threads.splice(at, 1);
      for (const seq of thread.outstanding) {
        this.waiting.get(seq)?.reject(new RepositoryError('IO', `a sealing thread stopped: ${error.message}`, { cause: error }));
        this.waiting.delete(seq);
      }
      thread.outstanding.clear();
    };
    thread.worker.on('error', lost);
    thread.worker.on('exit', (code) => lost(new Error(`it exited with code ${code}`)));
    this.threads.push(thread);
    return thread;
  }
}

/** Keys in memory of their own size: a view on Node's shared 8 KiB pool would send the whole pool with every chunk. */
const compactKeys = new WeakMap<MasterKey, Keys>();
function keysOf(master: MasterKey | null): Keys | null {
  if (!master) return null;
  let keys = compactKeys.get(master);
  if (!keys) {
    keys = { data: new Uint8Array(master.data), id: new Uint8Array(master.id) };
    compactKeys.set(master, keys);
  }
  return keys;
}

/** The process's pool. */
export const sealing = new SealingPool();
