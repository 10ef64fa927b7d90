// Re-encoding a block from the JSON of eth_getBlockByNumber (with full transactions) into the exact RLP bytes
// `geth export` writes, for nodes that do not answer debug_getRawBlock. Every field of every fork up to Prague and
// every transaction type 0-4 is covered; whatever cannot be encoded faithfully is an error, never a guess, and the
// caller proves the result by recomputing the hashes the node reported.
import { HEADER_FIELD_NAMES, type HeaderFieldName } from './block';
import { keccak256 } from './keccak';
import { encode, type RlpItem } from './rlp';
import { unsignedBytes } from './trie';

/** The JSON-RPC names of the header fields, in RLP order (HEADER_FIELD_NAMES). */
const JSON_HEADER_NAMES: Record<HeaderFieldName, string> = {
  parentHash: 'parentHash',
  ommersHash: 'sha3Uncles',
  coinbase: 'miner',
  stateRoot: 'stateRoot',
  transactionsRoot: 'transactionsRoot',
  receiptsRoot: 'receiptsRoot',
  logsBloom: 'logsBloom',
  difficulty: 'difficulty',
  number: 'number',
  gasLimit: 'gasLimit',
  gasUsed: 'gasUsed',
  timestamp: 'timestamp',
  extraData: 'extraData',
  mixHash: 'mixHash',
  nonce: 'nonce',
  baseFeePerGas: 'baseFeePerGas',
  withdrawalsRoot: 'withdrawalsRoot',
  blobGasUsed: 'blobGasUsed',
  excessBlobGas: 'excessBlobGas',
  parentBeaconBlockRoot: 'parentBeaconBlockRoot',
  requestsHash: 'requestsHash',
  blockAccessListHash: 'blockAccessListHash',
};

/** Header fields that are integers (encoded without leading zeros); every other field is a fixed byte string. */
const QUANTITY_FIELDS = new Set<HeaderFieldName>(['difficulty', 'number', 'gasLimit', 'gasUsed', 'timestamp', 'baseFeePerGas', 'blobGasUsed', 'excessBlobGas']);
/** The first 15 fields exist in every header; later ones were added by forks, each after the one before. */
const FRONTIER_FIELDS = 15;

export type JsonObject = Record<string, unknown>;

export class JsonBlockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonBlockError';
  }
}

function hexDigits(value: unknown, what: string): string {
  if (typeof value !== 'string' || value[0] !== '0' || (value[1] !== 'x' && value[1] !== 'X')) {
    throw new JsonBlockError(`${what} is ${JSON.stringify(value)}, expected a 0x-prefixed hex string`);
  }
  return value.slice(2);
}

// Buffer.from stops at the first pair that is not hex, so a short result means a bad digit.
function hexToBytes(digits: string, value: unknown, what: string): Buffer {
  const bytes = Buffer.from(digits, 'hex');
  if (bytes.length * 2 !== digits.length) throw new JsonBlockError(`${what} is ${JSON.stringify(value)}, which is not hex`);
  return bytes;
}

/** A DATA value: its bytes exactly as given. */
export function dataBytes(value: unknown, what: string): Buffer {
  const digits = hexDigits(value, what);
  if (digits.length % 2 !== 0) throw new JsonBlockError(`${what} ${String(value)} has an odd number of hex digits`);
  return hexToBytes(digits, value, what);
}

/** A QUANTITY value: an unsigned integer, encoded in its minimal big-endian bytes (0 is empty). */
export function quantityBytes(value: unknown, what: string): Buffer {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return unsignedBytes(value);
  const digits = hexDigits(value, what);
  if (digits.length === 0) throw new JsonBlockError(`${what} is "0x", expected a quantity such as "0x0"`);
  let start = 0;
  while (start < digits.length && digits[start] === '0') start++;
  const significant = digits.slice(start);
  return hexToBytes(significant.length % 2 === 1 ? `0${significant}` : significant, value, what);
}

export function quantity(value: unknown, what: string): number {
  let n = 0;
  for (const byte of quantityBytes(value, what)) n = n * 256 + byte;
  if (!Number.isSafeInteger(n)) throw new JsonBlockError(`${what} ${String(value)} is too large`);
  return n;
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new JsonBlockError(`${what} is ${JSON.stringify(value)}, expected a list`);
  return value;
}

function object(value: unknown, what: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new JsonBlockError(`${what} is ${JSON.stringify(value)}, expected an object`);
  return value as JsonObject;
}

/** Each header field's JSON name and kind, in RLP order. */
const HEADER_JSON_FIELDS = HEADER_FIELD_NAMES.map((name) => ({ json: JSON_HEADER_NAMES[name], isQuantity: QUANTITY_FIELDS.has(name) }));

/** Read only: fields are encoded, never written to. */
const NO_BYTES = Buffer.alloc(0);

/** A well-formed field's bytes, or undefined for anything else (the labelled parsers then say what is wrong). */
function wellFormed(value: unknown, isQuantity: boolean): Buffer | undefined {
  if (typeof value !== 'string' || value.charCodeAt(0) !== 0x30 || value.charCodeAt(1) !== 0x78) return undefined;
  let start = 2;
  if (isQuantity) {
    while (start < value.length && value.charCodeAt(start) === 0x30) start++;
    if (value.length === 2) return undefined;
  }
  const digits = value.length - start;
  if (digits === 0) return NO_BYTES; // "0x" data, or the quantity 0: many in every header, shared
  if (digits % 2 === 1 && !isQuantity) return undefined;
  const bytes = Buffer.from(digits % 2 === 1 ? `0${value.slice(start)}` : value.slice(start), 'hex');
  // Buffer.from stops at the first pair that is not hex.
  return bytes.length * 2 === digits + (digits % 2) ? bytes : undefined;
}

/** The header's RLP fields from its JSON. Optional fork fields are taken while present, in fork order. */
export function headerFieldsFromJson(json: JsonObject, what = `block ${String(json.number)}`): Buffer[] {
  const fields: Buffer[] = [];
  for (let index = 0; index < HEADER_JSON_FIELDS.length; index++) {
    const { json: name, isQuantity } = HEADER_JSON_FIELDS[index];
    const value = json[name];
    if (value === undefined || value === null) {
      if (index < FRONTIER_FIELDS) throw new JsonBlockError(`${what}: the header has no ${name}`);
      const later = HEADER_JSON_FIELDS.slice(index + 1).find((f) => json[f.json] !== undefined && json[f.json] !== null);
      if (later) throw new JsonBlockError(`${what}: the header has ${later.json} but not ${name}, which every fork that added the first also has`);
      break;
    }
    fields.push(wellFormed(value, isQuantity) ?? (isQuantity ? quantityBytes(value, `${what} ${name}`) : dataBytes(value, `${what} ${name}`)));
  }
  return fields;
}

function accessList(value: unknown, what: string): RlpItem[] {
  return list(value ?? [], `${what} accessList`).map((entry, i) => {
    const e = object(entry, `${what} accessList[${i}]`);
    return [dataBytes(e.address, `${what} accessList[${i}].address`), list(e.storageKeys, `${what} accessList[${i}].storageKeys`).map((k, j) => dataBytes(k, `${what} accessList[${i}].storageKeys[${j}]`))];
  });
}

// Typed transactions carry the signature's parity as yParity; older clients only report it as v (0 or 1).
function parity(tx: JsonObject, what: string): Buffer {
  return quantityBytes(tx.yParity ?? tx.v, `${what} yParity`);
}

function to(tx: JsonObject, what: string): Buffer {
  return tx.to === null || tx.to === undefined ? Buffer.alloc(0) : dataBytes(tx.to, `${what} to`);
}

function authorizationList(value: unknown, what: string): RlpItem[] {
  return list(value, `${what} authorizationList`).map((entry, i) => {
    const a = object(entry, `${what} authorizationList[${i}]`);
    const label = `${what} authorizationList[${i}]`;
    return [
      quantityBytes(a.chainId, `${label}.chainId`),
      dataBytes(a.address, `${label}.address`),
      quantityBytes(a.nonce, `${label}.nonce`),
      quantityBytes(a.yParity ?? a.v, `${label}.yParity`),
      quantityBytes(a.r, `${label}.r`),
      quantityBytes(a.s, `${label}.s`),
    ];
  });
}

/**
 * A transaction as it sits in a block body: a list for legacy transactions, the byte string
 * `type ‖ rlp(payload)` for typed ones.
 */
export function transactionFromJson(tx: JsonObject, what: string): RlpItem {
  const q = (name: string) => quantityBytes(tx[name], `${what} ${name}`);
  const type = tx.type === undefined || tx.type === null ? 0 : quantity(tx.type, `${what} type`);
  const input = dataBytes(tx.input ?? tx.data, `${what} input`);
  const signature = [q('r'), q('s')];
  switch (type) {
    case 0:
      return [q('nonce'), q('gasPrice'), q('gas'), to(tx, what), q('value'), input, q('v'), ...signature];
    case 1:
      return typed(1, [q('chainId'), q('nonce'), q('gasPrice'), q('gas'), to(tx, what), q('value'), input, accessList(tx.accessList, what), parity(tx, what), ...signature]);
    case 2:
      return typed(2, [q('chainId'), q('nonce'), q('maxPriorityFeePerGas'), q('maxFeePerGas'), q('gas'), to(tx, what), q('value'), input, accessList(tx.accessList, what), parity(tx, what), ...signature]);
    case 3: {
      const hashes = list(tx.blobVersionedHashes, `${what} blobVersionedHashes`).map((h, i) => dataBytes(h, `${what} blobVersionedHashes[${i}]`));
      return typed(3, [
        q('chainId'), q('nonce'), q('maxPriorityFeePerGas'), q('maxFeePerGas'), q('gas'), to(tx, what), q('value'), input,
        accessList(tx.accessList, what), q('maxFeePerBlobGas'), hashes, parity(tx, what), ...signature,
      ]);
    }
    case 4:
      return typed(4, [
        q('chainId'), q('nonce'), q('maxPriorityFeePerGas'), q('maxFeePerGas'), q('gas'), to(tx, what), q('value'), input,
        accessList(tx.accessList, what), authorizationList(tx.authorizationList, what), parity(tx, what), ...signature,
      ]);
    default:
      throw new JsonBlockError(`${what} has type ${type}; this plugin encodes transaction types 0 to 4`);
  }
}

function typed(type: number, payload: RlpItem[]): Buffer {
  return Buffer.concat([Buffer.from([type]), encode(payload)]);
}

function withdrawalFromJson(value: unknown, what: string): RlpItem {
  const w = object(value, what);
  return [quantityBytes(w.index, `${what} index`), quantityBytes(w.validatorIndex, `${what} validatorIndex`), dataBytes(w.address, `${what} address`), quantityBytes(w.amount, `${what} amount`)];
}

export interface EncodedBlock {
  number: number;
  /** The block's RLP as `geth export` writes it. */
  rlp: Buffer;
  headerFields: Buffer[];
  transactions: RlpItem[];
  ommers: RlpItem[];
  withdrawals?: RlpItem[];
}

/**
 * Encodes a block from its JSON (`eth_getBlockByNumber(n, true)`) and its uncles' headers
 * (`eth_getUncleByBlockNumberAndIndex`). Each transaction's encoding is checked against the hash the
 * node reported for it, so a field this encoder got wrong names the transaction.
 */
export function blockFromJson(json: JsonObject, uncles: readonly JsonObject[] = []): EncodedBlock {
  const number = quantity(json.number, 'block number');
  const what = `block ${number}`;
  const headerFields = headerFieldsFromJson(json, what);
  const transactions = list(json.transactions, `${what} transactions`).map((value, i) => {
    if (typeof value === 'string') throw new JsonBlockError(`${what}: transactions are hashes only; ask for full transactions (eth_getBlockByNumber with true)`);
    const tx = object(value, `${what} transaction ${i}`);
    const label = `${what} transaction ${i}`;
    const item = transactionFromJson(tx, label);
    if (tx.hash !== undefined) {
      const hash = keccak256(Array.isArray(item) ? encode(item) : item);
      const reported = dataBytes(tx.hash, `${label} hash`);
      if (!hash.equals(reported)) {
        throw new JsonBlockError(`${label} (type ${Number(tx.type ?? 0)}) re-encodes to hash 0x${hash.toString('hex')}, but the node reports 0x${reported.toString('hex')}`);
      }
    }
    return item;
  });
  const uncleHashes = list(json.uncles ?? [], `${what} uncles`);
  if (uncleHashes.length !== uncles.length) throw new JsonBlockError(`${what} has ${uncleHashes.length} uncles, but ${uncles.length} uncle headers were given`);
  const ommers = uncles.map((u, i) => headerFieldsFromJson(u, `${what} uncle ${i}`));
  const body: RlpItem[] = [headerFields, transactions, ommers];
  let withdrawals: RlpItem[] | undefined;
  if (json.withdrawals !== undefined && json.withdrawals !== null) {
    withdrawals = list(json.withdrawals, `${what} withdrawals`).map((w, i) => withdrawalFromJson(w, `${what} withdrawal ${i}`));
    body.push(withdrawals);
  } else if (json.withdrawalsRoot !== undefined && json.withdrawalsRoot !== null) {
    throw new JsonBlockError(`${what} has a withdrawalsRoot but the node sent no withdrawals list`);
  }
  return { number, rlp: encode(body), headerFields, transactions, ommers, ...(withdrawals ? { withdrawals } : {}) };
}
