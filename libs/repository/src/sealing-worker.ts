/**
 * A sealing thread (see sealing.ts): cuts files into chunks, names,
 * compresses and encrypts chunks for a backup, and opens and checks them for a restore or a
 * verify, so that the main thread only reads, writes and keeps order. Data arrives as views on
 * shared memory or as buffers handed over; what this thread makes is handed back without a copy.
 */
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, fstatSync, lstatSync, openSync, readSync, readdirSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort } from 'node:worker_threads';
import { ContentChunker, type ChunkSizes } from './content-chunker';
import { blobId, blobIdHash, seal, sealInto, unsealPieces, type MasterKey } from './crypto';
import { decodeBlob, encodeBlob, type BlobEncoding, type CompressionName } from './compression';
import { RepositoryError } from './repository.errors';
import { ENTRY_KINDS, sharedBuffer, type FolderListing, type LocalChunk, type RestoredFile, type SealingReply, type SealingRequest } from './sealing';

const port = parentPort;
if (!port) throw new Error('sealing-worker.js runs as a worker thread of the repository, not on its own');

const view = (data: Uint8Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);

/** A buffer that owns all of its memory, so it can be handed over (transferred) whole. */
function owned(data: Buffer): Buffer {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && !(data.buffer instanceof SharedArrayBuffer)) return data;
  return Buffer.from(data);
}

/**
 * A file being cut here. A chunk that spans pieces is joined into the slot the current piece's
 * request brought (a piece completes at most one chunk begun before it, and the last piece may
 * leave one more: that one, if the slot is taken, in new memory).
 */
class Cutting {
  join: Buffer | null = null;
  readonly chunker: ContentChunker;

  constructor(sizes: ChunkSizes) {
    this.chunker = new ContentChunker(sizes, (size) => this.joinInto(size));
  }

  private joinInto(size: number): Buffer {
    const join = this.join;
    if (!join || size > join.length) return sharedBuffer(size);
    this.join = null;
    return join.subarray(0, size);
  }
}

/** The files this thread is cutting, until their last piece. */
const files = new Map<number, Cutting>();

function answer(request: SealingRequest): { reply: SealingReply; transfer: ArrayBuffer[] } {
  const data = view(request.data);
  if (request.op === 'cut') {
    let cutting = files.get(request.file);
    if (!cutting) {
      cutting = new Cutting(request.sizes);
      files.set(request.file, cutting);
    }
    const join = view(request.join);
    cutting.join = join;
    const chunks: Uint8Array[] = cutting.chunker.push(data);
    if (request.last) {
      files.delete(request.file);
      chunks.push(...cutting.chunker.end());
    }
    cutting.join = null;
    return { reply: { seq: request.seq, chunks, joined: chunks.findIndex((c) => c.buffer === join.buffer) }, transfer: [] };
  }
  if (request.op === 'list') {
    const listing = list(request.path);
    return { reply: { seq: request.seq, listing }, transfer: [listing.kinds.buffer, listing.modes.buffer, listing.sizes.buffer, listing.mtimesNs.buffer] as ArrayBuffer[] };
  }
  const key = request.key ? { data: view(request.key.data), id: view(request.key.id) } : null;
  switch (request.op) {
    case 'id':
      return { reply: { seq: request.seq, ...nameOf(data, key, request.sha256) }, transfer: [] };
    case 'seal': {
      const { bytes, encoding } = encodeBlob(data, request.compression);
      if (!key && bytes.length > request.into.byteLength) throw new RepositoryError('IO', `a chunk of ${bytes.length} bytes does not fit its slot of ${request.into.byteLength}`);
      const length = key ? sealInto(key.data, bytes, request.into) : (request.into.set(bytes), bytes.length);
      return { reply: { seq: request.seq, length, encoding }, transfer: [] };
    }
    case 'name-and-seal':
      return nameAndSeal(request.seq, data, key, request.compression, request.sha256);
    case 'read-name-seal': {
      const content = readSmallFile(request.path, request.limit);
      if (!content) return { reply: { seq: request.seq, changed: true }, transfer: [] };
      const result = nameAndSeal(request.seq, content, key, request.compression, true);
      return { reply: { ...result.reply, size: content.length }, transfer: result.transfer };
    }
    case 'restore-file':
      restoreFile(request.chunk, key, request.file);
      return { reply: { seq: request.seq }, transfer: [] };
    case 'open': {
      const plaintext = open(data, key, request);
      if (!request.keep || request.into) return { reply: { seq: request.seq }, transfer: [] };
      const kept = owned(plaintext as Buffer);
      return { reply: { seq: request.seq, plaintext: kept }, transfer: [kept.buffer as ArrayBuffer] };
    }
  }
}

/** A file's content when it is not empty and shorter than `limit` bytes, else null (it is not read whole). */
function readSmallFile(path: string, limit: number): Buffer | null {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size === 0 || size >= limit) return null;
    // Room for one byte more than it said: a file still growing shows as such, and is read as any other.
    const content = Buffer.allocUnsafe(size + 1);
    let filled = 0;
    for (;;) {
      const read = readSync(fd, content, filled, content.length - filled, filled);
      if (read === 0) break;
      filled += read;
      if (filled === content.length) return null;
    }
    return filled === 0 ? null : content.subarray(0, filled);
  } finally {
    closeSync(fd);
  }
}

/** A chunk's id, and its SHA-256 when asked (unencrypted, the id is its SHA-256 already). */
function nameOf(data: Buffer, key: MasterKey | null, sha256: boolean): { id: string; sha256?: string } {
  const id = blobId(data, key);
  return sha256 ? { id, sha256: key ? createHash('sha256').update(data).digest('hex') : id } : { id };
}

function nameAndSeal(seq: number, data: Buffer, key: MasterKey | null, compression: CompressionName, sha256: boolean): { reply: SealingReply; transfer: ArrayBuffer[] } {
  const { bytes, encoding } = encodeBlob(data, compression);
  const sealed = owned(key ? seal(key.data, bytes) : bytes);
  return { reply: { seq, ...nameOf(data, key, sha256), sealed, encoding }, transfer: [sealed.buffer as ArrayBuffer] };
}

/** A folder's entries, sorted and each looked up (the 'list' request). */
function list(path: string): FolderListing {
  // Sorted by UTF-16 code units, as Array.prototype.sort does on the main thread.
  const names = readdirSync(path).sort();
  const listing: FolderListing = {
    names,
    kinds: new Uint8Array(names.length),
    modes: new Uint32Array(names.length),
    sizes: new BigInt64Array(names.length),
    mtimesNs: new BigInt64Array(names.length),
    errors: {},
  };
  names.forEach((name, i) => {
    try {
      const info = lstatSync(join(path, name), { bigint: true });
      listing.kinds[i] = ENTRY_KINDS.indexOf(info.isFile() ? 'file' : info.isDirectory() ? 'directory' : info.isSymbolicLink() ? 'symlink' : 'other');
      listing.modes[i] = Number(info.mode);
      listing.sizes[i] = info.size;
      listing.mtimesNs[i] = info.mtimeNs;
    } catch (error) {
      listing.errors[i] = { code: (error as NodeJS.ErrnoException).code, message: (error as Error).message };
    }
  });
  return listing;
}

/** The request's restore, with the errors BackupReader gives for the same faults on its own path. */
function restoreFile(chunk: LocalChunk | null, key: MasterKey | null, file: RestoredFile): void {
  let plaintext: Buffer = Buffer.alloc(0);
  if (chunk) {
    try {
      plaintext = open(readRange(chunk), key, { ...chunk, what: `chunk ${chunk.id} in pack ${chunk.packId}`, into: null, keep: true }) as Buffer;
    } catch (error) {
      if (!(error instanceof RepositoryError)) throw error;
      throw new RepositoryError(error.code === 'NOT_FOUND' ? 'CORRUPT' : error.code, `file "${file.path}": ${error.message}`, { cause: error });
    }
  }
  // Unencrypted, a chunk's id is the SHA-256 of its plaintext, checked already.
  const sha256 = chunk && !key ? chunk.id : createHash('sha256').update(plaintext).digest('hex');
  if (plaintext.length !== file.size || sha256 !== file.sha256) {
    throw new RepositoryError('CORRUPT', `file "${file.path}" does not match its recorded size and SHA-256`);
  }
  // Made here and never over anything; removed again when it cannot be written whole (a full disk).
  const fd = openSync(file.partial, 'wx', 0o600);
  try {
    writeFileSync(fd, plaintext);
  } catch (error) {
    closeSync(fd);
    rmSync(file.partial, { force: true });
    throw error;
  }
  closeSync(fd);
  try {
    // Never replace something already in the target: a restore must not destroy data.
    if (lstatSync(file.full, { throwIfNoEntry: false })) {
      throw new RepositoryError('TARGET_NOT_EMPTY', `${file.full} already exists; restore into an empty directory`);
    }
    renameSync(file.partial, file.full);
  } catch (error) {
    rmSync(file.partial, { force: true });
    throw error;
  }
  chmodSync(file.full, file.mode);
  utimesSync(file.full, file.mtimeSeconds, file.mtimeSeconds);
}

function readRange(chunk: LocalChunk): Buffer {
  let fd: number;
  try {
    fd = openSync(chunk.packFile, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new RepositoryError('NOT_FOUND', chunk.missing, { cause: error });
    throw error;
  }
  try {
    const data = Buffer.allocUnsafe(chunk.length);
    let filled = 0;
    while (filled < chunk.length) {
      const read = readSync(fd, data, filled, chunk.length - filled, chunk.offset + filled);
      if (read === 0) throw new RepositoryError('CORRUPT', `pack ${chunk.packId} is shorter than its index says (chunk ${chunk.id})`);
      filled += read;
    }
    return data;
  } finally {
    closeSync(fd);
  }
}

interface OpenRequest {
  id: string;
  encoding: BlobEncoding;
  rawLength: number;
  what: string;
  into: Uint8Array | null;
  keep: boolean;
}

/**
 * Opens a stored chunk and checks it against its id and length. The plaintext goes into
 * `request.into` when given; it is returned only when `request.keep` (a verify keeps nothing,
 * and an encrypted chunk stored as it was is then hashed a piece at a time as it is decrypted).
 */
function open(data: Buffer, key: MasterKey | null, request: OpenRequest): Buffer | null {
  const damaged = () => new RepositoryError('CORRUPT', `chunk ${request.id} is damaged: its content no longer matches its id`);
  let plaintext: Buffer | null = null;
  if (key && request.encoding === 'raw') {
    const hash = blobIdHash(key);
    const into = request.into ? view(request.into) : request.keep ? Buffer.allocUnsafe(request.rawLength) : null;
    let length = 0;
    unsealPieces(key.data, data, request.what, (piece) => {
      if (length + piece.length > request.rawLength) throw damaged();
      hash.update(piece);
      into?.set(piece, length);
      length += piece.length;
    });
    if (length !== request.rawLength || hash.digest('hex') !== request.id) throw damaged();
    return into;
  }
  if (key) {
    const parts: Buffer[] = [];
    unsealPieces(key.data, data, request.what, (piece) => parts.push(piece));
    plaintext = decodeBlob(Buffer.concat(parts), request.encoding, request.what);
  } else {
    plaintext = decodeBlob(data, request.encoding, request.what);
  }
  if (plaintext.length !== request.rawLength || blobId(plaintext, key) !== request.id) throw damaged();
  request.into?.set(plaintext);
  return plaintext;
}

port.on('message', (request: SealingRequest) => {
  let result: { reply: SealingReply; transfer: ArrayBuffer[] };
  try {
    result = answer(request);
  } catch (error) {
    const code = error instanceof RepositoryError ? error.code : undefined;
    const errno = error instanceof RepositoryError ? undefined : (error as NodeJS.ErrnoException).code;
    result = { reply: { seq: request.seq, error: { code, errno, message: (error as Error).message } }, transfer: [] };
  }
  port.postMessage(result.reply, result.transfer);
});
