/**
 * Client-side encryption of a repository. A random master key (one AES-256-GCM key for data,
 * one HMAC-SHA-256 key for blob ids) is stored in key files, each wrapping it with a key
 * derived from a passphrase by scrypt. Changing the passphrase writes a new key file and
 * removes the old one: no data is re-encrypted.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, scrypt, type Hash, type Hmac } from 'node:crypto';
import { RepositoryError } from './repository.errors';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface MasterKey {
  /** Encrypts blobs, pack headers, indexes and manifests. */
  data: Buffer;
  /** Names blobs: HMAC-SHA-256 of the plaintext, so ids reveal nothing about content. */
  id: Buffer;
}

export interface ScryptParams {
  name: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
}

export interface KeyFile {
  version: 1;
  createdAt: string;
  kdf: ScryptParams;
  /** The master key, sealed with the passphrase-derived key (base64). */
  sealed: string;
}

/** Cost of deriving a key from a passphrase: 2^15 rounds of scrypt, about 0.1 s and 32 MiB here. */
export const DEFAULT_SCRYPT = { N: 2 ** 15, r: 8, p: 1 };

export function newMasterKey(): MasterKey {
  return { data: randomBytes(32), id: randomBytes(32) };
}

/** nonce || ciphertext || tag. */
export function seal(key: Buffer, plaintext: Uint8Array): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/** Decrypts and authenticates; a damaged or foreign object is a CORRUPT error naming `what`. */
export function unseal(key: Buffer, sealed: Uint8Array, what: string): Buffer {
  const data = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (data.length < NONCE_BYTES + TAG_BYTES) throw new RepositoryError('CORRUPT', `${what} is too short to be an encrypted object`);
  const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE_BYTES));
  decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new RepositoryError('CORRUPT', `${what} fails authentication: it was damaged or altered`);
  }
}

/**
 * Ciphers are fed this much at a time by sealInto and unsealPieces: outputs this small come from
 * the allocator's free lists, while an output of a whole 1 MiB chunk was new memory each time
 * (measured here: AES-256-GCM over 1 MiB at once, 2.1 s per GiB; in 64 KiB pieces, 0.57 s).
 */
const CIPHER_PIECE = 64 * 1024;

/** The same bytes as seal(), written into `into` (room for the plaintext and 28 bytes more); their length. */
export function sealInto(key: Buffer, plaintext: Uint8Array, into: Uint8Array): number {
  if (into.length < plaintext.length + NONCE_BYTES + TAG_BYTES) throw new RangeError(`no room to seal ${plaintext.length} bytes into ${into.length}`);
  const nonce = randomBytes(NONCE_BYTES);
  into.set(nonce, 0);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  let at = NONCE_BYTES;
  for (let offset = 0; offset < plaintext.length; offset += CIPHER_PIECE) {
    const out = cipher.update(plaintext.subarray(offset, offset + CIPHER_PIECE));
    into.set(out, at);
    at += out.length;
  }
  const last = cipher.final();
  into.set(last, at);
  at += last.length;
  into.set(cipher.getAuthTag(), at);
  return at + TAG_BYTES;
}

/**
 * unseal() a piece at a time: `each` sees the plaintext in order, and the call throws (CORRUPT,
 * naming `what`) after the last piece if the object fails authentication, so whatever `each`
 * made of the pieces counts only once this returns.
 */
export function unsealPieces(key: Buffer, sealed: Uint8Array, what: string, each: (piece: Buffer) => void): void {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) throw new RepositoryError('CORRUPT', `${what} is too short to be an encrypted object`);
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE_BYTES));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  const body = sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES);
  try {
    for (let offset = 0; offset < body.length; offset += CIPHER_PIECE) each(decipher.update(body.subarray(offset, offset + CIPHER_PIECE)));
    each(decipher.final());
  } catch (error) {
    if (error instanceof RepositoryError) throw error;
    throw new RepositoryError('CORRUPT', `${what} fails authentication: it was damaged or altered`);
  }
}

/** The key that wraps the master key: scrypt of the passphrase in Unicode NFC, as UTF-8, 32 bytes. */
export function deriveKey(passphrase: string, kdf: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(passphrase.normalize('NFC'), Buffer.from(kdf.salt, 'base64'), 32, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r }, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

export async function createKeyFile(master: MasterKey, passphrase: string, params = DEFAULT_SCRYPT): Promise<KeyFile> {
  if (passphrase.length === 0) throw new RepositoryError('WRONG_PASSPHRASE', 'an empty passphrase cannot protect a repository');
  const kdf: ScryptParams = { name: 'scrypt', ...params, salt: randomBytes(16).toString('base64') };
  const wrapping = await deriveKey(passphrase, kdf);
  const payload = Buffer.from(JSON.stringify({ data: master.data.toString('base64'), id: master.id.toString('base64') }));
  return { version: 1, createdAt: new Date().toISOString(), kdf, sealed: seal(wrapping, payload).toString('base64') };
}

/** The master key, or null if the passphrase is not this key file's. */
export async function openKeyFile(file: KeyFile, passphrase: string): Promise<MasterKey | null> {
  if (file.version !== 1 || file.kdf?.name !== 'scrypt') throw new RepositoryError('UNSUPPORTED_VERSION', 'a key file of this repository has an unknown format');
  const wrapping = await deriveKey(passphrase, file.kdf);
  let plain: Buffer;
  try {
    plain = unseal(wrapping, Buffer.from(file.sealed, 'base64'), 'key file');
  } catch {
    return null;
  }
  const { data, id } = JSON.parse(plain.toString('utf8')) as { data: string; id: string };
  return { data: Buffer.from(data, 'base64'), id: Buffer.from(id, 'base64') };
}

/** blobId() fed a piece at a time. */
export function blobIdHash(master: MasterKey | null): Hash | Hmac {
  return master ? createHmac('sha256', master.id) : createHash('sha256');
}

/** A blob's id: SHA-256 of its plaintext, or HMAC-SHA-256 with the id key when encrypted. */
export function blobId(plaintext: Uint8Array, master: MasterKey | null): string {
  return master ? createHmac('sha256', master.id).update(plaintext).digest('hex') : createHash('sha256').update(plaintext).digest('hex');
}
