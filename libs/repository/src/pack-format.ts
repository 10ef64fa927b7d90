/**
 * The pack and index formats, defined once: where a pack is stored, how its bytes are laid out,
 * how its header and an index file read. The blob store, prune and check all go through here,
 * so the format has one definition (README.md, "Packs" and "Index files").
 *
 * Pack layout: blob bytes, one after another; then the header (JSON, sealed when encrypted);
 * then the header's length as a 4-byte little-endian integer. A pack is named by 32 random
 * bytes: chunks are content-addressed, packs need only a unique name (and hashing every pack
 * again to name it would cost as much as hashing the data).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { BlobEncoding } from './compression';
import { RepositoryError } from './repository.errors';

/** A blob as a pack header and an index file list it. */
export interface PackBlob {
  id: string;
  /** Where its stored bytes start in the pack. */
  offset: number;
  /** Stored bytes (after compression and encryption). */
  length: number;
  /** Plaintext bytes. */
  rawLength: number;
  encoding: BlobEncoding;
}

export interface PackRecord {
  id: string;
  blobs: PackBlob[];
}

/** The version field of a pack header and of an index file. */
export const PACK_HEADER_VERSION = 1;
export const INDEX_VERSION = 1;

/** Bytes of the trailing header length. */
const HEADER_LENGTH_BYTES = 4;
/** Bytes of randomness in a pack's name. */
const PACK_NAME_BYTES = 32;

/**
 * The repository's sealing of whole objects (pack headers, index files): AES-256-GCM under the
 * master data key when encrypted, the bytes as they are when not. `what` names the object in errors.
 */
export interface ObjectSealing {
  close(plaintext: Buffer): Buffer;
  open(stored: Buffer, what: string): Buffer;
}

/** Where pack `id` is stored: `data/<first two hex digits>/<id>`, so no directory holds too many files. */
export function packKey(id: string): string {
  return `data/${id.slice(0, 2)}/${id}`;
}

const PACK_KEY = /^data\/[0-9a-f]{2}\/([0-9a-f]{64})$/;

/** The pack id a storage key names, or undefined for anything else under `data/`. */
export function packIdOf(key: string): string | undefined {
  return PACK_KEY.exec(key)?.[1];
}

/** A fresh pack name: 32 random bytes, hex. */
export function newPackId(): string {
  return randomBytes(PACK_NAME_BYTES).toString('hex');
}

/** A fresh index file's key: `index/<uuid>`. Each backup writes one; a prune replaces them all with one. */
export function newIndexKey(): string {
  return `index/${randomUUID()}`;
}

/** Stored bytes of a pack's blobs: what removing it frees, but for its small header. */
export function packBytes(blobs: readonly PackBlob[]): number {
  return blobs.reduce((n, b) => n + b.length, 0);
}

/** A whole pack, as parts to write one after the other: the stored blobs, the header, the header's length. */
export function packObject(parts: readonly Uint8Array[], blobs: readonly PackBlob[], sealing: ObjectSealing): Uint8Array[] {
  const header = sealing.close(Buffer.from(JSON.stringify({ version: PACK_HEADER_VERSION, blobs })));
  const length = Buffer.alloc(HEADER_LENGTH_BYTES);
  length.writeUInt32LE(header.length);
  return [...parts, header, length];
}

/** The blobs a whole pack's own header lists; CORRUPT naming `what` when it cannot be read. */
export function readPackHeader(bytes: Buffer, what: string, sealing: ObjectSealing): PackBlob[] {
  if (bytes.length < HEADER_LENGTH_BYTES) throw new RepositoryError('CORRUPT', `${what} is too short to be a pack`);
  const headerLength = bytes.readUInt32LE(bytes.length - HEADER_LENGTH_BYTES);
  if (headerLength > bytes.length - HEADER_LENGTH_BYTES) throw new RepositoryError('CORRUPT', `${what} has an impossible header length`);
  const header = sealing.open(bytes.subarray(bytes.length - HEADER_LENGTH_BYTES - headerLength, bytes.length - HEADER_LENGTH_BYTES), `the header of ${what}`);
  return (JSON.parse(header.toString('utf8')) as { blobs: PackBlob[] }).blobs;
}

/** An index file naming `packs`, sealed when the repository is encrypted. */
export function indexObject(packs: readonly PackRecord[], sealing: ObjectSealing): Buffer {
  return sealing.close(Buffer.from(JSON.stringify({ version: INDEX_VERSION, packs })));
}

/** The packs an index file names; throws (CORRUPT, or a JSON error) when it cannot be read. */
export function readIndexObject(bytes: Buffer, what: string, sealing: ObjectSealing): PackRecord[] {
  return (JSON.parse(sealing.open(bytes, what).toString('utf8')) as { packs: PackRecord[] }).packs;
}
