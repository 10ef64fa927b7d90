// Strict RLP (Ethereum's Recursive Length Prefix): encoding, decoding that rejects every non-canonical form, and a
// stream reader for block-export files, which are plain concatenations of RLP items.
import { ChainDecodeError, ChainDecodeErrorCode } from './chain-decode.errors';

export type RlpItem = Buffer | RlpItem[];

export interface RlpStreamEntry {
  item: RlpItem;
  /** Offset of the item's first prefix byte. */
  start: number;
  /** Offset just past the item. */
  end: number;
}

// Encoding measures the whole item first and writes it into one buffer, with no intermediate copies: block exports
// encode every header, transaction and block this way.

function lengthOfLength(length: number): number {
  let count = 0;
  for (let n = length; n > 0; n = Math.floor(n / 256)) count++;
  return count;
}

function headerLength(payloadLength: number): number {
  return payloadLength <= 55 ? 1 : 1 + lengthOfLength(payloadLength);
}

/** The number of bytes `item` encodes to; list payload sizes are kept in `sizes`, in the order writeItem visits them. */
function measure(item: RlpItem | Uint8Array, sizes: number[]): number {
  if (Array.isArray(item)) {
    const slot = sizes.length;
    sizes.push(0);
    let payload = 0;
    for (const child of item) payload += measure(child, sizes);
    sizes[slot] = payload;
    return headerLength(payload) + payload;
  }
  const length = item.length;
  if (length === 1 && item[0] < 0x80) return 1;
  return headerLength(length) + length;
}

function writeHeader(out: Buffer, offset: number, shortBase: number, payloadLength: number): number {
  if (payloadLength <= 55) {
    out[offset] = shortBase + payloadLength;
    return offset + 1;
  }
  const count = lengthOfLength(payloadLength);
  out[offset] = shortBase + 55 + count;
  for (let i = count, n = payloadLength; i >= 1; i--, n = Math.floor(n / 256)) out[offset + i] = n % 256;
  return offset + 1 + count;
}

function write(out: Buffer, offset: number, item: RlpItem | Uint8Array, sizes: number[], next: { slot: number }): number {
  if (Array.isArray(item)) {
    let at = writeHeader(out, offset, 0xc0, sizes[next.slot++]);
    for (const child of item) at = write(out, at, child, sizes, next);
    return at;
  }
  if (item.length === 1 && item[0] < 0x80) {
    out[offset] = item[0];
    return offset + 1;
  }
  const at = writeHeader(out, offset, 0x80, item.length);
  out.set(item, at);
  return at + item.length;
}

export function encode(item: RlpItem | Uint8Array): Buffer {
  const sizes: number[] = [];
  const out = Buffer.allocUnsafe(measure(item, sizes));
  write(out, 0, item, sizes, { slot: 0 });
  return out;
}

/** The encoded bytes of the first element of an encoded list (a block's header, say), without decoding anything. */
export function firstElement(encoded: Buffer): Buffer {
  const prefix = encoded[0];
  if (prefix < 0xc0) throw new ChainDecodeError(ChainDecodeErrorCode.BAD_BLOCK, 'expected an RLP list', 0);
  const start = prefix <= 0xf7 ? 1 : 1 + prefix - 0xf7;
  const length = itemLength(encoded, start);
  if (length === undefined || start + length > encoded.length) throw new ChainDecodeError(ChainDecodeErrorCode.TRUNCATED, 'the list\'s first element is cut short', start);
  return encoded.subarray(start, start + length);
}

interface Decoded {
  item: RlpItem;
  end: number;
}

// `limit` is the end of the enclosing list, or of the input for a top-level item (limit === buf.length then).
function need(buf: Buffer, offset: number, count: number, limit: number, what: string, itemStart: number): void {
  if (offset + count <= limit) return;
  const nested = limit !== buf.length;
  const code = nested ? ChainDecodeErrorCode.ITEM_OVERRUNS_LIST : ChainDecodeErrorCode.TRUNCATED;
  const where = !nested ? `only ${Math.max(0, buf.length - offset)} remain in the input` : `its enclosing list ends at offset ${limit}`;
  throw new ChainDecodeError(code, `RLP item at offset ${itemStart}: ${what} needs ${count} bytes from offset ${offset}, but ${where}`, itemStart);
}

function readLongLength(buf: Buffer, offset: number, count: number, limit: number, itemStart: number): number {
  need(buf, offset, count, limit, 'length', itemStart);
  if (buf[offset] === 0) {
    throw new ChainDecodeError(ChainDecodeErrorCode.NON_CANONICAL, `RLP item at offset ${itemStart}: length has a leading zero byte`, itemStart);
  }
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + buf[offset + i];
  if (length <= 55) {
    throw new ChainDecodeError(
      ChainDecodeErrorCode.NON_CANONICAL,
      `RLP item at offset ${itemStart}: long form used for a length of ${length} (≤ 55 must use the short form)`,
      itemStart,
    );
  }
  return length;
}

/**
 * Where an item's payload starts and how long it is. Strings and lists share the header
 * layout: a short form (`base` + length, up to 55) and a long form (`base` + 55 + the number
 * of length bytes, then the length).
 */
function payloadOf(buf: Buffer, offset: number, base: 0x80 | 0xc0, limit: number): { start: number; length: number } {
  const prefix = buf[offset];
  if (prefix <= base + 55) return { start: offset + 1, length: prefix - base };
  const count = prefix - base - 55;
  return { start: offset + 1 + count, length: readLongLength(buf, offset + 1, count, limit, offset) };
}

function decodeAt(buf: Buffer, offset: number, limit: number): Decoded {
  need(buf, offset, 1, limit, 'prefix', offset);
  const prefix = buf[offset];
  if (prefix < 0x80) return { item: buf.subarray(offset, offset + 1), end: offset + 1 };

  if (prefix < 0xc0) {
    const { start, length } = payloadOf(buf, offset, 0x80, limit);
    need(buf, start, length, limit, 'string', offset);
    if (length === 1 && buf[start] < 0x80) {
      throw new ChainDecodeError(
        ChainDecodeErrorCode.NON_CANONICAL,
        `RLP item at offset ${offset}: single byte 0x${buf[start].toString(16).padStart(2, '0')} encoded as a string (must be encoded as itself)`,
        offset,
      );
    }
    return { item: buf.subarray(start, start + length), end: start + length };
  }

  const { start, length } = payloadOf(buf, offset, 0xc0, limit);
  need(buf, start, length, limit, 'list', offset);
  const end = start + length;
  const items: RlpItem[] = [];
  for (let p = start; p < end; ) {
    const child = decodeAt(buf, p, end);
    items.push(child.item);
    p = child.end;
  }
  return { item: items, end };
}

/** Decodes exactly one item that must span the whole input. Returned byte strings are views into `input`. */
export function decode(input: Uint8Array): RlpItem {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const { item, end } = decodeAt(buf, 0, buf.length);
  if (end !== buf.length) {
    throw new ChainDecodeError(
      ChainDecodeErrorCode.TRAILING_BYTES,
      `RLP input has ${buf.length - end} trailing byte(s) after the item ending at offset ${end}`,
      end,
    );
  }
  return item;
}

/** Yields each top-level item of a concatenation of RLP items, with its byte range. */
export function* decodeStream(input: Uint8Array): Generator<RlpStreamEntry> {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  for (let offset = 0; offset < buf.length; ) {
    const { item, end } = decodeAt(buf, offset, buf.length);
    yield { item, start: offset, end };
    offset = end;
  }
}

/** The whole length (header and payload) of the item starting at `offset`, or undefined while its header is incomplete. */
function itemLength(buf: Buffer, offset: number): number | undefined {
  if (offset >= buf.length) return undefined;
  const prefix = buf[offset];
  if (prefix < 0x80) return 1;
  const base = prefix < 0xc0 ? 0x80 : 0xc0;
  if (prefix <= base + 55) return 1 + prefix - base;
  const count = prefix - base - 55;
  if (offset + 1 + count > buf.length) return undefined;
  return 1 + count + readLongLength(buf, offset + 1, count, buf.length, offset);
}

/**
 * Splits a stream of concatenated RLP items (an export file read chunk by chunk) into the items'
 * bytes, holding at most one item in memory. Each is yielded with its offset in the stream;
 * decode it with {@link decode}. A stream that ends inside an item is TRUNCATED.
 */
export async function* splitStream(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<{ bytes: Buffer; start: number }> {
  let pending = Buffer.alloc(0);
  let consumed = 0; // stream offset of pending[0]
  for await (const chunk of chunks) {
    pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
    let offset = 0;
    for (let length = itemLength(pending, offset); length !== undefined && offset + length <= pending.length; length = itemLength(pending, offset)) {
      yield { bytes: pending.subarray(offset, offset + length), start: consumed + offset };
      offset += length;
    }
    pending = pending.subarray(offset);
    consumed += offset;
  }
  if (pending.length > 0) {
    throw new ChainDecodeError(ChainDecodeErrorCode.TRUNCATED, `the stream ends ${pending.length} byte(s) into an RLP item that starts at offset ${consumed}`, consumed);
  }
}
