/**
 * Optional compression of blobs. Brotli at quality 1 was chosen by measurement on the RLP
 * fixtures (tools/bench/compression-survey.js): ratio 3.55 at about 300 MiB/s, better and
 * faster than deflate at any level; zstd is not in Node 20's zlib. A blob that does not
 * shrink by at least 1/32 is stored as it is. Large blobs are probed first: if 64 KiB from
 * their middle does not compress, the whole blob is not tried (SST files, era1 archives and
 * other already-compressed data would otherwise cost a full compression pass for nothing).
 */
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import { RepositoryError } from './repository.errors';

export type CompressionName = 'none' | 'brotli';
export type BlobEncoding = 'raw' | 'brotli';

/**
 * Quality 1; the window no larger than the blob needs (at most 2^22), and the blob's size as a
 * hint: a small blob then costs a small encoder, not 4 MiB of native memory each (with many
 * small files, that memory was what the garbage collector spent its time on). Any window
 * decodes the same way, so blobs written with the fixed 2^22 window read as before.
 */
function brotliOptions(size: number) {
  const window = Math.min(22, Math.max(10, Math.ceil(Math.log2(Math.max(size, 1)))));
  return { params: { [constants.BROTLI_PARAM_QUALITY]: 1, [constants.BROTLI_PARAM_LGWIN]: window, [constants.BROTLI_PARAM_SIZE_HINT]: size } };
}
const PROBE_BYTES = 64 * 1024;

function pays(original: number, compressed: number): boolean {
  return compressed <= original - (original >> 5);
}

/** The blob as stored: compressed when that pays. Runs on a sealing thread (sealing.ts). */
export function encodeBlob(plaintext: Buffer, compression: CompressionName): { bytes: Buffer; encoding: BlobEncoding } {
  if (compression === 'none' || plaintext.length < 128) return { bytes: plaintext, encoding: 'raw' };
  if (plaintext.length >= 4 * PROBE_BYTES) {
    const middle = (plaintext.length - PROBE_BYTES) >> 1;
    const probe = plaintext.subarray(middle, middle + PROBE_BYTES);
    if (!pays(probe.length, brotliCompressSync(probe, brotliOptions(probe.length)).length)) return { bytes: plaintext, encoding: 'raw' };
  }
  const packed = brotliCompressSync(plaintext, brotliOptions(plaintext.length));
  if (!pays(plaintext.length, packed.length)) return { bytes: plaintext, encoding: 'raw' };
  return { bytes: packed, encoding: 'brotli' };
}

export function decodeBlob(bytes: Buffer, encoding: BlobEncoding, what: string): Buffer {
  if (encoding === 'raw') return bytes;
  try {
    return brotliDecompressSync(bytes);
  } catch {
    throw new RepositoryError('CORRUPT', `${what} cannot be decompressed`);
  }
}
