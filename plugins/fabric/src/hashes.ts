// The two hashes that chain a Fabric ledger, computed as Fabric's protoutil does:
//   header hash = SHA-256(DER(SEQUENCE { INTEGER number, OCTET STRING previousHash, OCTET STRING dataHash }))
//   data hash   = SHA-256(data[0] || data[1] || …)
// plus Fabric's check that each transaction envelope is canonically encoded (protoutil
// VerifyTransactionsAreWellFormed, run by BlockDataHash since Fabric 2.5.5): without it, bytes
// glued after a valid envelope would pass the plain data-hash check.
import { createHash } from 'node:crypto';
import { protoFields, WIRE_LEN, encodeUvarint, WireError } from './wire';

export interface BlockHeaderFields {
  number: number | bigint;
  previousHash: Uint8Array;
  dataHash: Uint8Array;
}

/** DER length octets (short form below 128, long form otherwise). */
function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let v = length; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function derTlv(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

/** DER INTEGER of a non-negative value: minimal big-endian two's complement (0x00 prefix when the top bit is set). */
export function derUnsignedInteger(value: number | bigint): Buffer {
  let v = BigInt(value);
  if (v < 0n) throw new RangeError('block numbers are unsigned');
  const bytes: number[] = [];
  do {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  } while (v > 0n);
  if (bytes[0] & 0x80) bytes.unshift(0);
  return derTlv(0x02, Buffer.from(bytes));
}

/** The ASN.1 DER bytes Fabric hashes and signs for a block header (protoutil.BlockHeaderBytes). */
export function blockHeaderBytes(header: BlockHeaderFields): Buffer {
  const content = Buffer.concat([
    derUnsignedInteger(header.number),
    derTlv(0x04, header.previousHash),
    derTlv(0x04, header.dataHash),
  ]);
  return derTlv(0x30, content);
}

export function blockHeaderHash(header: BlockHeaderFields): Buffer {
  return createHash('sha256').update(blockHeaderBytes(header)).digest();
}

/** SHA-256 over the concatenated envelopes: the value a block header's data_hash must carry. */
export function blockDataHash(data: readonly Uint8Array[]): Buffer {
  const hash = createHash('sha256');
  for (const entry of data) hash.update(entry);
  return hash.digest();
}

/**
 * Re-encodes an Envelope {bytes payload = 1; bytes signature = 2} the way Go's proto.Marshal
 * would after proto.Unmarshal: last occurrence of each known field wins, empty fields are
 * omitted, unknown fields are kept in their original order after the known ones.
 */
export function canonicalEnvelope(raw: Uint8Array): { payload: Uint8Array; signature: Uint8Array; canonical: Buffer } {
  let payload: Uint8Array = new Uint8Array(0);
  let signature: Uint8Array = new Uint8Array(0);
  const unknown: Uint8Array[] = [];
  for (const f of protoFields(raw)) {
    if (f.field === 1 && f.wireType === WIRE_LEN) payload = f.bytes!;
    else if (f.field === 2 && f.wireType === WIRE_LEN) signature = f.bytes!;
    else unknown.push(f.raw);
  }
  const parts: Uint8Array[] = [];
  if (payload.length > 0) parts.push(Buffer.from([0x0a]), encodeUvarint(payload.length), payload);
  if (signature.length > 0) parts.push(Buffer.from([0x12]), encodeUvarint(signature.length), signature);
  parts.push(...unknown);
  return { payload, signature, canonical: Buffer.concat(parts) };
}

/**
 * Fabric's VerifyTransactionsAreWellFormed for the envelopes of one block, with its error
 * messages. `isConfigBlock` skips the check the way Fabric does for a single CONFIG envelope.
 * Returns undefined when every envelope is well formed.
 */
export function transactionsWellFormedError(data: readonly Uint8Array[], isConfigBlock: boolean): string | undefined {
  if (data.length === 0) return 'empty block';
  if (isConfigBlock) return undefined;
  for (let i = 0; i < data.length; i++) {
    const raw = data[i];
    let env: ReturnType<typeof canonicalEnvelope>;
    try {
      env = canonicalEnvelope(raw);
    } catch (error) {
      const message = error instanceof WireError ? error.message : String(error);
      return `transaction ${i} is invalid: ${message}`;
    }
    if (env.payload.length === 0) return `transaction ${i} has no payload`;
    if (env.signature.length === 0) return `transaction ${i} has no signature`;
    if (env.canonical.length < raw.length) return `transaction ${i} has ${raw.length - env.canonical.length} trailing bytes`;
    if (!env.canonical.equals(raw)) return `transaction ${i} does not match its canonical encoding`;
  }
  return undefined;
}
