/**
 * Blobs (chunks of file content) stored in pack files of several MiB, with an index from blob
 * id to pack and offset. Each blob is compressed (optionally) and then encrypted (when the
 * repository is). A pack ends with its own header, so a pack whose index was never written —
 * a backup killed after uploading it — can be indexed again from the pack alone and reused.
 * The pack and index formats themselves are defined in pack-format.ts.
 */
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RepositoryBackend } from './backend';
import type { BlobEncoding, CompressionName } from './compression';
import { blobId, seal, unseal, type MasterKey } from './crypto';
import { LocalBackend } from './local-backend';
import { indexObject, newIndexKey, newPackId, packIdOf, packKey, packObject, readIndexObject, readPackHeader, type ObjectSealing, type PackBlob, type PackRecord } from './pack-format';
import { RepositoryError, describeFreeSpace, formatBytes } from './repository.errors';
import { inSharedMemory, sealing, slots, type LocalChunk, type RestoredFile } from './sealing';

export { packBytes, packIdOf, packKey, type PackBlob, type PackRecord } from './pack-format';

/** Where a blob is stored: its pack, and the pack header's record of it. */
export interface BlobLocation extends Omit<PackBlob, 'id'> {
  pack: string;
}

/**
 * What is on storage, read once: every index file and every pack, with the blobs each holds.
 * Prune plans from it, check reports from it, and the blob store learns from it.
 */
export interface PackInventory {
  /** Index files read (damaged ones included: they are replaced like the rest). */
  indexKeys: string[];
  /** Bytes of each index file that could be read. */
  indexBytes: Map<string, number>;
  /** Index files that could not be read, with why. */
  damagedIndexes: string[];
  /** Packs on storage whose contents are known (from an index, or from their own header). */
  packs: Map<string, PackBlob[]>;
  /** Packs on storage that no index names: a backup failed or was killed before its index. */
  unindexed: Set<string>;
  /** Packs no index names whose header cannot be read (nothing can use them), with their size. */
  unreadable: Map<string, number>;
  /** Packs an index names that are not on storage, with what the index says they held. */
  missing: Map<string, PackBlob[]>;
}

/** Chainvault's own writes stop short of this much free space, so a prune can still take its lock and write its index. */
export const KEPT_FREE_BYTES = 1024 * 1024;

/** Free and total bytes where a local repository lives; null for backends that cannot tell (S3, SFTP). */
export async function freeSpace(backend: RepositoryBackend): Promise<{ free: number; total: number } | null> {
  if (!(backend instanceof LocalBackend)) return null;
  // The repository directory may not exist yet: ask the file system of its nearest existing parent.
  for (let dir = backend.location; ; dir = dirname(dir)) {
    try {
      const stats = await statfs(dir);
      return { free: stats.bavail * stats.bsize, total: stats.blocks * stats.bsize };
    } catch {
      if (dirname(dir) === dir) return null;
    }
  }
}

export class BlobStore implements ObjectSealing {
  private readonly locations = new Map<string, BlobLocation>();
  private readonly indexedPacks = new Set<string>();
  /** The blobs each pack holds, so a pack is checked without scanning every location. */
  private readonly packBlobs = new Map<string, string[]>();
  /** Packs found on storage without an index, adopted into the next index written. */
  private adopted: PackRecord[] = [];
  /** Index files that could not be read at load, with why. */
  readonly damagedIndexes: string[] = [];

  constructor(
    readonly backend: RepositoryBackend,
    readonly master: MasterKey | null,
    readonly compression: CompressionName,
    readonly packSize: number,
  ) {}

  /** Reads every index file, then indexes packs that no index lists (left by an interrupted backup). */
  async load(): Promise<void> {
    const inventory = await this.readInventory();
    this.damagedIndexes.push(...inventory.damagedIndexes);
    for (const [id, blobs] of inventory.packs) {
      const record = { id, blobs };
      this.learn(record);
      if (inventory.unindexed.has(id)) this.adopted.push(record);
    }
    // Last, so a chunk that is also in a pack on storage is read from there; verify names the
    // missing pack of a chunk that is nowhere else.
    for (const [id, blobs] of inventory.missing) this.learn({ id, blobs });
  }

  /**
   * Reads every index file, then lists the packs, then reads the header of each pack no index
   * names. In that order: a pack is written before the index naming it, so a listing taken after
   * the indexes holds every pack they name unless it was really deleted.
   */
  async readInventory(): Promise<PackInventory> {
    const inventory: PackInventory = { indexKeys: [], indexBytes: new Map(), damagedIndexes: [], packs: new Map(), unindexed: new Set(), unreadable: new Map(), missing: new Map() };
    const named = new Map<string, PackBlob[]>();
    for (const key of await this.backend.list('index/')) {
      inventory.indexKeys.push(key);
      let packs: PackRecord[];
      try {
        const bytes = await this.backend.get(key);
        packs = readIndexObject(bytes, key, this);
        inventory.indexBytes.set(key, bytes.length);
      } catch (error) {
        // A damaged index loses nothing: every pack carries its own header and is indexed from it below.
        inventory.damagedIndexes.push(`${key}: ${(error as Error).message}`);
        continue;
      }
      for (const pack of packs) named.set(pack.id, pack.blobs);
    }
    const present = new Set<string>();
    for (const key of await this.backend.list('data/')) {
      const id = packIdOf(key);
      if (!id) continue;
      present.add(id);
      const blobs = named.get(id);
      if (blobs) {
        inventory.packs.set(id, blobs);
        continue;
      }
      // A pack no index lists is not garbage by itself: a backup running beside another may have
      // reused its blobs before the writer that uploaded it failed. Its own header says what it holds.
      let bytes: Buffer | undefined;
      try {
        bytes = await this.backend.get(key);
        inventory.packs.set(id, readPackHeader(bytes, key, this));
        inventory.unindexed.add(id);
      } catch {
        // Unreadable (truncated, damaged, or removed meanwhile): nothing can use it; prune removes it.
        inventory.unreadable.set(id, bytes?.length ?? 0);
      }
    }
    for (const [id, blobs] of named) if (!present.has(id)) inventory.missing.set(id, blobs);
    return inventory;
  }

  has(id: string): boolean {
    return this.locations.has(id);
  }

  location(id: string): BlobLocation | undefined {
    return this.locations.get(id);
  }

  get packCount(): number {
    return this.indexedPacks.size;
  }

  blobId(plaintext: Uint8Array): string {
    return blobId(plaintext, this.master);
  }

  /** A blob's plaintext, checked against its id. */
  get(id: string): Promise<Buffer> {
    return this.read(id, 'owned');
  }

  /**
   * The same, in a slot of shared memory (sealing.ts) that the caller gives back (`slots.give`)
   * once it has written it out: a restore then reads and decrypts into memory it reuses.
   */
  getInSlot(id: string): Promise<Buffer> {
    return this.read(id, 'slot');
  }

  private async read(id: string, into: 'owned' | 'slot'): Promise<Buffer> {
    const where = this.locations.get(id);
    if (!where) throw new RepositoryError('NOT_FOUND', `chunk ${id} is in no pack of the index`);
    const slot = slots.take(where.length);
    try {
      const stored = await this.backend.get(packKey(where.pack), { offset: where.offset, length: where.length, into: slot });
      if (stored.length !== where.length) throw new RepositoryError('CORRUPT', `pack ${where.pack} is shorter than its index says (chunk ${id})`);
      return await sealing.open(stored, this.master, { id, encoding: where.encoding, rawLength: where.rawLength }, `chunk ${id} in pack ${where.pack}`, into);
    } finally {
      slots.give(slot);
    }
  }

  /**
   * Restores a file of at most one chunk on a sealing thread, straight from its pack, when the
   * pack is on this machine (sealing.ts, 'restore-file'); false when it is not, and the caller
   * streams the file instead.
   */
  async restoreSmallFile(chunkId: string | undefined, file: RestoredFile): Promise<boolean> {
    if (!(this.backend instanceof LocalBackend)) return false;
    let chunk: LocalChunk | null = null;
    if (chunkId !== undefined) {
      const where = this.locations.get(chunkId);
      if (!where) throw new RepositoryError('CORRUPT', `file "${file.path}": chunk ${chunkId} is in no pack of the index`);
      const key = packKey(where.pack);
      chunk = { id: chunkId, encoding: where.encoding, rawLength: where.rawLength, packFile: this.backend.fileOf(key), offset: where.offset, length: where.length, packId: where.pack, missing: this.backend.missing(key) };
    }
    await sealing.restoreFile(chunk, this.master, file);
    return true;
  }

  /** Checks a whole pack: every blob decodes to its id. Returns problems per blob id. */
  async checkPack(packId: string): Promise<Map<string, string>> {
    const problems = new Map<string, string>();
    const ids = (this.packBlobs.get(packId) ?? []).filter((id) => this.locations.get(id)?.pack === packId);
    // The pack up to its last blob, in shared memory the sealing threads read in place.
    const length = Math.max(0, ...ids.map((id) => this.locations.get(id)!).map((w) => w.offset + w.length));
    const slot = slots.take(length);
    try {
      let bytes: Buffer;
      try {
        bytes = await this.backend.get(packKey(packId), { offset: 0, length, into: slot });
      } catch (error) {
        for (const id of this.packBlobs.get(packId) ?? []) problems.set(id, `pack ${packId} cannot be read: ${(error as Error).message}`);
        return problems;
      }
      // Each blob is checked on its own (its id is a hash of its plaintext): damage in one blob, or
      // anywhere else in the pack, must not blame the intact blobs next to it, which still restore.
      // A few at a time, so that every sealing thread has work.
      let next = 0;
      const worker = async () => {
        while (next < ids.length) {
          const id = ids[next++];
          const where = this.locations.get(id)!;
          try {
            const stored = bytes.subarray(where.offset, where.offset + where.length);
            await sealing.open(stored, this.master, { id, encoding: where.encoding, rawLength: where.rawLength }, `chunk ${id} in pack ${packId}`, 'none');
          } catch (error) {
            problems.set(id, (error as Error).message);
          }
        }
      };
      await Promise.all(Array.from({ length: 4 }, worker));
      return problems;
    } finally {
      slots.give(slot);
    }
  }

  newWriter(options: { signal?: AbortSignal } = {}): BlobWriter {
    const adopted = this.adopted;
    this.adopted = [];
    return new BlobWriter(this, adopted, options.signal);
  }

  /** Seals an object's bytes when the repository is encrypted. */
  close(plaintext: Buffer): Buffer {
    return this.master ? seal(this.master.data, plaintext) : plaintext;
  }

  /** Opens an object written by `close`. */
  open(stored: Buffer, what: string): Buffer {
    return this.master ? unseal(this.master.data, stored, what) : stored;
  }

  learn(pack: PackRecord): void {
    this.indexedPacks.add(pack.id);
    this.packBlobs.set(pack.id, pack.blobs.map((b) => b.id));
    for (const blob of pack.blobs) {
      if (!this.locations.has(blob.id)) this.locations.set(blob.id, { pack: pack.id, offset: blob.offset, length: blob.length, rawLength: blob.rawLength, encoding: blob.encoding });
    }
  }
}

/** Chunks smaller than this are named and sealed in one request (decideSmall). */
const SMALL_CHUNK = 64 * 1024;

/** Whether a put's chunk is new, decided in the order of the puts; `sealed` when it is. */
interface Decision {
  id: string;
  sha256?: string;
  sealed: Promise<{ sealed: Buffer; encoding: BlobEncoding }> | null;
}

export interface BlobPut {
  id: string;
  /** The chunk's SHA-256, when the put asked for it. */
  sha256?: string;
  /** False when the repository already held the blob. */
  added: boolean;
  /** Bytes added to storage for it (after compression and encryption). */
  storedBytes: number;
}

const MAX_UPLOADS_IN_FLIGHT = 4;

/** Collects the new blobs of one backup into packs; `finish` writes their index. */
export class BlobWriter {
  private parts: Buffer[] = [];
  private entries: PackBlob[] = [];
  private size = 0;
  private readonly pending = new Set<string>();
  /** The last put's decision (new or known) and its addition to the pack: each put waits for the one before. */
  private decisions: Promise<unknown> = Promise.resolve();
  private additions: Promise<unknown> = Promise.resolve();
  private readonly uploads: Promise<void>[] = [];
  private readonly written: PackRecord[] = [];
  private writtenBytes = 0;
  /** Bytes of the packs being uploaded now, which the free space does not show yet. */
  private uploadingBytes = 0;

  constructor(
    private readonly store: BlobStore,
    private readonly adopted: PackRecord[],
    private readonly signal?: AbortSignal,
  ) {}

  /** True if the blob is stored (or about to be) in the repository. */
  knows(id: string): boolean {
    return this.store.has(id) || this.pending.has(id);
  }

  /**
   * Stores a chunk unless the repository has it. Several puts may be in flight at once: their
   * ids and their sealing run on the sealing threads (sealing.ts) while the caller cuts the next
   * chunk. Whether a chunk is new is decided in the order of the puts, and new chunks are added
   * to the pack in that order, so the same data makes the same packs in every run and a chunk
   * arriving twice is stored once (the first time).
   */
  put(plaintext: Buffer, options: { sha256?: boolean } = {}): Promise<BlobPut> {
    const decided = plaintext.length < SMALL_CHUNK ? this.decideSmall(plaintext, options) : this.decideLarge(plaintext, options);
    this.decisions = decided.catch(() => undefined);
    const added = this.additions.then(async () => this.add(await decided, plaintext.length));
    this.additions = added.catch(() => undefined);
    return added;
  }

  /** A large chunk is named first, and sealed only if it is new (two requests to the threads, on shared memory). */
  private decideLarge(plaintext: Buffer, options: { sha256?: boolean }): Promise<Decision> {
    const { master, compression } = this.store;
    const data = inSharedMemory(plaintext);
    const named = sealing.id(data, master, options.sha256);
    named.catch(() => undefined);
    return this.decisions.then(async () => {
      const { id, sha256 } = await named;
      if (this.knows(id)) return { id, sha256, sealed: null };
      this.pending.add(id);
      const sealed = sealing.seal(data, master, compression);
      sealed.catch(() => undefined);
      return { id, sha256, sealed };
    });
  }

  /**
   * A small chunk (a small file, mostly) is named and sealed in one request, and the sealed copy
   * dropped if the chunk is known: a second round trip would cost more than sealing it.
   */
  private decideSmall(plaintext: Buffer, options: { sha256?: boolean }): Promise<Decision> {
    return this.decideSealed(sealing.nameAndSeal(plaintext, this.store.master, this.store.compression, options.sha256)) as Promise<Decision>;
  }

  /** Whether a chunk named and sealed already is new, in the order of the puts; null for no chunk. */
  private decideSealed(named: Promise<{ id: string; sha256?: string; sealed: Buffer; encoding: BlobEncoding } | null>): Promise<Decision | null> {
    named.catch(() => undefined);
    return this.decisions.then(async () => {
      const result = await named;
      if (!result) return null;
      const { id, sha256, sealed, encoding } = result;
      if (this.knows(id)) return { id, sha256, sealed: null };
      this.pending.add(id);
      return { id, sha256, sealed: Promise.resolve({ sealed, encoding }) };
    });
  }

  /**
   * Stores a small file as one chunk, read, named and sealed on a sealing thread; null (nothing
   * stored) when the file was empty or had grown to `limit` bytes by the time it was read.
   */
  putFile(path: string, limit: number): Promise<(BlobPut & { sha256: string; size: number }) | null> {
    const read = sealing.readNameSeal(path, this.store.master, this.store.compression, limit);
    const decided = this.decideSealed(read);
    this.decisions = decided.catch(() => undefined);
    const added = this.additions.then(async () => {
      const [decision, result] = await Promise.all([decided, read]);
      if (!decision || !result) return null;
      return { ...(await this.add(decision, result.size)), sha256: result.sha256, size: result.size };
    });
    this.additions = added.catch(() => undefined);
    return added;
  }

  /** Adds a decided chunk to the pack (in the order of the puts). */
  private async add({ id, sha256, sealed }: Decision, rawLength: number): Promise<BlobPut> {
    if (!sealed) return { id, sha256, added: false, storedBytes: 0 };
    const { sealed: stored, encoding } = await sealed;
    this.entries.push({ id, offset: this.size, length: stored.length, rawLength, encoding });
    this.parts.push(stored);
    this.size += stored.length;
    if (this.size >= this.store.packSize) await this.flushPack();
    return { id, sha256, added: true, storedBytes: stored.length };
  }

  /** Uploads the last pack, waits for every upload, and writes the index that makes them known. */
  async finish(): Promise<void> {
    await this.flushPack();
    await Promise.all(this.uploads);
    const packs = [...this.adopted, ...this.written];
    if (packs.length === 0) return;
    const index = indexObject(packs, this.store);
    try {
      await this.store.backend.put(newIndexKey(), index);
    } catch (error) {
      throw await this.explainShortage(error, `the index of the packs it wrote (${formatBytes(index.length)})`, index.length);
    }
  }

  private async flushPack(): Promise<void> {
    if (this.entries.length === 0) return;
    if (this.signal?.aborted) throw new RepositoryError('ABORTED', 'the operation was cancelled');
    const pack = packObject(this.parts, this.entries, this.store);
    const bytes = pack.reduce((n, part) => n + part.length, 0);
    const record: PackRecord = { id: newPackId(), blobs: this.entries };
    const sealed = this.parts;
    this.parts = [];
    this.entries = [];
    this.size = 0;
    while (this.uploads.length >= MAX_UPLOADS_IN_FLIGHT) await this.uploads.shift();
    await this.makeRoom(bytes);
    const earlier = [...this.uploads];
    const upload = this.store.backend.put(packKey(record.id), pack).then(
      () => {
        this.uploadingBytes -= bytes;
        this.writtenBytes += bytes;
        this.store.learn(record);
        this.written.push(record);
        for (const blob of record.blobs) this.pending.delete(blob.id);
        // Written: their slots can take the next chunks (after a failure they are left to the collector).
        for (const part of sealed) slots.give(part);
      },
      async (error: unknown) => {
        this.uploadingBytes -= bytes;
        // The packs before this one may still be on their way: the error counts those that land.
        await Promise.allSettled(earlier);
        throw await this.explainShortage(error, `a pack of ${formatBytes(bytes)}`, bytes);
      },
    );
    // Keep the rejection observed here; it is rethrown when the upload is awaited.
    upload.catch(() => undefined);
    this.uploads.push(upload);
  }

  /**
   * Refuses a pack that would leave less than KEPT_FREE_BYTES free on a local destination: a
   * backup that fills the disk to the last byte would leave a prune no room for its lock.
   */
  private async makeRoom(bytes: number): Promise<void> {
    this.uploadingBytes += bytes;
    const space = await freeSpace(this.store.backend);
    const needed = this.uploadingBytes + KEPT_FREE_BYTES;
    if (!space || space.free >= needed) return;
    this.uploadingBytes -= bytes;
    const others = needed - bytes - KEPT_FREE_BYTES;
    // The packs still on their way land (there was room for them) before the error counts them.
    await Promise.allSettled(this.uploads);
    throw new RepositoryError(
      'NO_SPACE',
      `no room on the destination at ${this.store.backend.location} for the next pack: it needs ${formatBytes(needed)} (a pack of ${formatBytes(bytes)}, ${others > 0 ? `${formatBytes(others)} still being written, ` : ''}and ${formatBytes(KEPT_FREE_BYTES)} kept free so that a prune can run) and ${describeFreeSpace(space, this.store.backend.location)}`,
      { space: { neededBytes: needed, freeBytes: space.free, totalBytes: space.total, packsWritten: this.written.length, bytesWritten: this.writtenBytes } },
    );
  }

  /** A NO_SPACE error that says what was being written, how big it was, and what was free; other errors as they are. */
  private async explainShortage(error: unknown, what: string, bytes: number): Promise<unknown> {
    if (!(error instanceof RepositoryError) || error.code !== 'NO_SPACE') return error;
    const space = await freeSpace(this.store.backend);
    return new RepositoryError(
      'NO_SPACE',
      `no space left on the destination at ${this.store.backend.location} for ${what}: ${describeFreeSpace(space, this.store.backend.location)}`,
      { cause: error, space: { neededBytes: bytes, freeBytes: space?.free ?? null, totalBytes: space?.total ?? null, packsWritten: this.written.length, bytesWritten: this.writtenBytes } },
    );
  }
}
