// Low-level readers shared by the block-file parser and the envelope checks: unsigned varints
// (Go's encoding/binary uvarint = protobuf varint) and protobuf length-delimited bytes.

export class WireError extends Error {
  constructor(
    message: string,
    /** Byte position (inside the buffer being decoded) where decoding failed. */
    readonly at: number,
    /** True when the buffer simply ended too early (as opposed to malformed content). */
    readonly truncated: boolean,
  ) {
    super(message);
    this.name = 'WireError';
  }
}

/** A cursor over a buffer. Every read checks bounds and throws WireError when the input ends. */
export class WireReader {
  pos: number;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Reads an unsigned varint of at most 64 bits. */
  uvarint(what = 'varint'): bigint {
    let result = 0n;
    let shift = 0n;
    const start = this.pos;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError(`unexpected end of data in ${what}`, start, true);
      const byte = this.buf[this.pos++];
      if (i === 9 && byte > 1) throw new WireError(`${what} overflows 64 bits`, start, false);
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
    throw new WireError(`${what} overflows 64 bits`, start, false);
  }

  /** Reads a uvarint that must fit a JavaScript safe integer (lengths, counts, block numbers). */
  uvarintNumber(what = 'varint'): number {
    const start = this.pos;
    const value = this.uvarint(what);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireError(`${what} ${value} is too large`, start, false);
    return Number(value);
  }

  /** Reads `uvarint(len) || bytes`, Go's proto.Buffer.DecodeRawBytes. The result is a view, not a copy. */
  lengthDelimited(what = 'bytes'): Uint8Array {
    const start = this.pos;
    const length = this.uvarintNumber(`length of ${what}`);
    if (length > this.end - this.pos) {
      throw new WireError(`${what} declares ${length} bytes but only ${this.end - this.pos} remain`, start, true);
    }
    const value = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return value;
  }

  skip(length: number, what: string): void {
    if (length > this.end - this.pos) {
      throw new WireError(`${what} declares ${length} bytes but only ${this.end - this.pos} remain`, this.pos, true);
    }
    this.pos += length;
  }
}

/** Decodes a uvarint at the start of `buf`; undefined when `buf` ends before the varint does. */
export function peekUvarint(buf: Uint8Array): { value: bigint; size: number } | undefined {
  const reader = new WireReader(buf);
  try {
    const value = reader.uvarint('record length');
    return { value, size: reader.pos };
  } catch (error) {
    if (error instanceof WireError && error.truncated) return undefined;
    throw error;
  }
}

export function encodeUvarint(value: number | bigint): Buffer {
  let v = BigInt(value);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

export interface ProtoField {
  field: number;
  wireType: number;
  /** The complete encoding of this field, tag included. */
  raw: Uint8Array;
  /** For length-delimited fields: the payload. */
  bytes?: Uint8Array;
  /** For varint fields: the value. */
  varint?: bigint;
}

/** Splits a protobuf message into its fields (groups are rejected, as Fabric messages never use them). */
export function protoFields(message: Uint8Array): ProtoField[] {
  const reader = new WireReader(message);
  const fields: ProtoField[] = [];
  while (reader.remaining > 0) {
    const start = reader.pos;
    const tag = reader.uvarint('field tag');
    const field = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    if (field === 0) throw new WireError('invalid field number 0', start, false);
    let bytes: Uint8Array | undefined;
    let varint: bigint | undefined;
    switch (wireType) {
      case WIRE_VARINT:
        varint = reader.uvarint(`field ${field}`);
        break;
      case WIRE_FIXED64:
        reader.skip(8, `field ${field}`);
        break;
      case WIRE_LEN:
        bytes = reader.lengthDelimited(`field ${field}`);
        break;
      case WIRE_FIXED32:
        reader.skip(4, `field ${field}`);
        break;
      default:
        throw new WireError(`unsupported wire type ${wireType} for field ${field}`, start, false);
    }
    fields.push({ field, wireType, raw: message.subarray(start, reader.pos), bytes, varint });
  }
  return fields;
}
