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

function lengthBytes(length: number): Buffer {
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from(bytes);
}

function prefixed(shortBase: number, payload: Buffer[], payloadLength: number): Buffer {
  if (payloadLength <= 55) return Buffer.concat([Buffer.from([shortBase + payloadLength]), ...payload]);
  const length = lengthBytes(payloadLength);
  return Buffer.concat([Buffer.from([shortBase + 55 + length.length]), length, ...payload]);
}

export function encode(item: RlpItem | Uint8Array): Buffer {
  if (Array.isArray(item)) {
    const parts = item.map(encode);
    return prefixed(0xc0, parts, parts.reduce((sum, p) => sum + p.length, 0));
  }
  const bytes = Buffer.isBuffer(item) ? item : Buffer.from(item.buffer, item.byteOffset, item.byteLength);
  if (bytes.length === 1 && bytes[0] < 0x80) return Buffer.from(bytes);
  return prefixed(0x80, [bytes], bytes.length);
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
