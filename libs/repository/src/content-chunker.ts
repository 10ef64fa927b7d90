/**
 * Content-defined chunking in the manner of FastCDC: a cut point is where a rolling "gear"
 * hash of the last bytes matches a mask, so an insertion or append changes only the chunks
 * around it and every other chunk keeps its id. Normalised chunking (a stricter mask before
 * the average size, a looser one after) keeps sizes close to the average.
 *
 * The gear table is derived from a fixed seed with SHA-256, so cut points are the same in
 * every version that reads this repository format.
 */
import { createHash } from 'node:crypto';

export interface ChunkSizes {
  min: number;
  avg: number;
  max: number;
}

/** 512 KiB / 1 MiB / 8 MiB: large enough for few objects, small enough to dedup appended files. */
export const DEFAULT_CHUNK_SIZES: ChunkSizes = { min: 512 * 1024, avg: 1024 * 1024, max: 8 * 1024 * 1024 };

function gearTable(seed: string): Uint32Array {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i += 8) {
    const block = createHash('sha256').update(`${seed}:${i}`).digest();
    for (let j = 0; j < 8; j += 1) table[i + j] = block.readUInt32BE(j * 4);
  }
  return table;
}

/** The gear table: one 32-bit word per byte value (README.md, "Chunks"). */
export const GEAR = gearTable('chainvault-cdc-v1');
/**
 * The same words as signed 32-bit integers, for the cutting loop: the hash then stays a small
 * integer to V8 (an unsigned word above 2^31 is a heap number), which made cutting about twice as
 * fast. The bits, and so the cut points, are the same.
 */
const GEAR_INT32 = new Int32Array(GEAR.buffer);

/** A mask of `bits` one-bits at the top of a 32-bit word (the bits that depend on the most input bytes). */
function topMask(bits: number): number {
  return bits <= 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * The masks a cut point must clear: the stricter one before the average size (two bits more
 * than log2(avg), rounded), the looser one after it (two bits fewer).
 */
export function chunkMasks(sizes: ChunkSizes): { strict: number; loose: number } {
  const bits = Math.round(Math.log2(sizes.avg));
  return { strict: topMask(bits + 2), loose: topMask(bits - 2) };
}

export function checkChunkSizes(sizes: ChunkSizes): void {
  const { min, avg, max } = sizes;
  if (!(Number.isInteger(min) && Number.isInteger(avg) && Number.isInteger(max) && min >= 64 && min < avg && avg < max && max <= 64 * 1024 * 1024)) {
    throw new Error(`chunk sizes must satisfy 64 <= min < avg < max <= 64 MiB, got ${JSON.stringify(sizes)}`);
  }
}

/** Cuts a stream into content-defined chunks. Feed it with `push`, finish with `end`. */
export class ContentChunker {
  private readonly maskStrict: number;
  private readonly maskLoose: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private hash = 0;

  /** `allocate`: where a chunk that spans pieces is joined (shared memory for the sealing threads, say). */
  constructor(
    private readonly sizes: ChunkSizes = DEFAULT_CHUNK_SIZES,
    private readonly allocate: (size: number) => Buffer = Buffer.allocUnsafe,
  ) {
    checkChunkSizes(sizes);
    const masks = chunkMasks(sizes);
    this.maskStrict = masks.strict;
    this.maskLoose = masks.loose;
  }

  /** Adds bytes; returns the chunks completed by them. */
  push(data: Buffer): Buffer[] {
    const chunks: Buffer[] = [];
    const { min, avg, max } = this.sizes;
    let start = 0;
    let position = 0;
    while (position < data.length) {
      let length = this.pendingBytes + (position - start);
      // Bytes before the minimum size can never end a chunk: skip them without hashing.
      if (length < min) {
        const skip = Math.min(min - length, data.length - position);
        position += skip;
        length += skip;
        if (length < min) break;
        this.hash = 0;
      }
      let hash = this.hash;
      let cut = -1;
      const strict = this.maskStrict | 0;
      const loose = this.maskLoose | 0;
      const strictEnd = Math.min(data.length, position + Math.max(0, avg - length));
      for (; position < strictEnd; position += 1) {
        hash = ((hash << 1) + GEAR_INT32[data[position]]) | 0;
        if ((hash & strict) === 0) {
          cut = position + 1;
          break;
        }
      }
      if (cut < 0) {
        length = this.pendingBytes + (position - start);
        const looseEnd = Math.min(data.length, position + Math.max(0, max - length));
        for (; position < looseEnd; position += 1) {
          hash = ((hash << 1) + GEAR_INT32[data[position]]) | 0;
          if ((hash & loose) === 0) {
            cut = position + 1;
            break;
          }
        }
        if (cut < 0 && this.pendingBytes + (position - start) >= max) cut = position;
      }
      this.hash = hash;
      if (cut < 0) break;
      chunks.push(this.take(data, start, cut));
      start = cut;
      position = cut;
      this.hash = 0;
    }
    if (start < data.length) {
      this.pending.push(data.subarray(start));
      this.pendingBytes += data.length - start;
    }
    return chunks;
  }

  /** The last, possibly short, chunk (none if the stream ended on a cut). */
  end(): Buffer[] {
    if (this.pendingBytes === 0) return [];
    // One piece left over is a view on the caller's buffer, as any chunk within a piece is.
    const last = this.pending.length === 1 ? this.pending[0] : this.join(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.hash = 0;
    return [last];
  }

  private join(pieces: Buffer[], size: number): Buffer {
    const joined = this.allocate(size);
    let at = 0;
    for (const piece of pieces) at += piece.copy(joined, at);
    return joined;
  }

  private take(data: Buffer, start: number, end: number): Buffer {
    const piece = data.subarray(start, end);
    // A view, not a copy: the caller's buffers are not reused once pushed.
    if (this.pendingBytes === 0) return piece;
    const chunk = this.join([...this.pending, piece], this.pendingBytes + piece.length);
    this.pending = [];
    this.pendingBytes = 0;
    return chunk;
  }
}

/** Chunks a whole stream. */
export async function* contentDefinedChunks(
  stream: AsyncIterable<Uint8Array>,
  sizes: ChunkSizes = DEFAULT_CHUNK_SIZES,
  allocate?: (size: number) => Buffer,
): AsyncGenerator<Buffer> {
  const chunker = new ContentChunker(sizes, allocate);
  for await (const piece of stream) {
    for (const chunk of chunker.push(Buffer.isBuffer(piece) ? piece : Buffer.from(piece))) yield chunk;
  }
  yield* chunker.end();
}
