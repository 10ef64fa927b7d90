/**
 * A sealing thread (see sealing.ts): cuts files into chunks, names,
 * compresses and encrypts chunks for a backup, and opens and checks them for a restore or a
 * verify, so that the main thread only reads, writes and keeps order. Data arrives as views on
 * shared memory or as buffers handed over; what this thread makes is handed back without a copy.
 */
import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { ContentChunker } from './content-chunker';
import { blobId, seal, unseal } from './crypto';
import { decodeBlob, encodeBlob } from './compression';
import { RepositoryError } from './repository.errors';
import { sharedBuffer, type SealingReply, type SealingRequest } from './sealing';

const port = parentPort;
if (!port) throw new Error('sealing-worker.js runs as a worker thread of the repository, not on its own');

const view = (data: Uint8Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);

/** A buffer that owns all of its memory, so it can be handed over (transferred) whole. */
function owned(data: Buffer): Buffer {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && !(data.buffer instanceof SharedArrayBuffer)) return data;
  return Buffer.from(data);
}

/** The files this thread is cutting, until their last piece. */
const files = new Map<number, ContentChunker>();

function answer(request: SealingRequest): { reply: SealingReply; transfer: ArrayBuffer[] } {
  const data = view(request.data);
  if (request.op === 'cut') {
    let chunker = files.get(request.file);
    if (!chunker) {
      chunker = new ContentChunker(request.sizes, sharedBuffer);
      files.set(request.file, chunker);
    }
    const chunks: Uint8Array[] = chunker.push(data);
    if (request.last) {
      files.delete(request.file);
      chunks.push(...chunker.end());
    }
    return { reply: { seq: request.seq, chunks }, transfer: [] };
  }
  const key = request.key ? { data: view(request.key.data), id: view(request.key.id) } : null;
  switch (request.op) {
    case 'id': {
      const id = blobId(data, key);
      // Unencrypted, a chunk's id is its SHA-256 already.
      const sha256 = request.sha256 ? (key ? createHash('sha256').update(data).digest('hex') : id) : undefined;
      return { reply: { seq: request.seq, id, sha256 }, transfer: [] };
    }
    case 'seal': {
      const { bytes, encoding } = encodeBlob(data, request.compression);
      const sealed = key ? seal(key.data, bytes) : bytes;
      if (sealed.length > request.into.byteLength) throw new RepositoryError('IO', `a sealed chunk of ${sealed.length} bytes does not fit its slot of ${request.into.byteLength}`);
      request.into.set(sealed);
      return { reply: { seq: request.seq, length: sealed.length, encoding }, transfer: [] };
    }
    case 'open': {
      const plaintext = decodeBlob(key ? unseal(key.data, data, request.what) : data, request.encoding, request.what);
      if (plaintext.length !== request.rawLength || blobId(plaintext, key) !== request.id) {
        throw new RepositoryError('CORRUPT', `chunk ${request.id} is damaged: its content no longer matches its id`);
      }
      if (request.into) {
        request.into.set(plaintext);
        return { reply: { seq: request.seq }, transfer: [] };
      }
      if (!request.keep) return { reply: { seq: request.seq }, transfer: [] };
      const kept = owned(plaintext);
      return { reply: { seq: request.seq, plaintext: kept }, transfer: [kept.buffer as ArrayBuffer] };
    }
  }
}

port.on('message', (request: SealingRequest) => {
  let result: { reply: SealingReply; transfer: ArrayBuffer[] };
  try {
    result = answer(request);
  } catch (error) {
    const code = error instanceof RepositoryError ? error.code : undefined;
    result = { reply: { seq: request.seq, error: { code, message: (error as Error).message } }, transfer: [] };
  }
  port.postMessage(result.reply, result.transfer);
});
