// The root of an Ethereum Merkle-Patricia trie whose keys are the RLP encodings of 0, 1, 2, …: how a header commits
// to its block's transactions (transactionsRoot) and withdrawals (withdrawalsRoot). Only the root is computed; no
// node is kept.
import { keccak256 } from './keccak';
import { encode, type RlpItem } from './rlp';

interface Entry {
  key: Uint8Array; // one nibble per element
  value: Buffer;
}

const EMPTY = Buffer.alloc(0);

function nibbles(bytes: Buffer): Uint8Array {
  const out = new Uint8Array(bytes.length * 2);
  for (let i = 0; i < bytes.length; i++) {
    out[2 * i] = bytes[i] >> 4;
    out[2 * i + 1] = bytes[i] & 0x0f;
  }
  return out;
}

// Hex-prefix encoding of a path: a flag nibble (2 for a leaf, +1 when the path has odd length) packed with the path.
function hexPrefix(path: Uint8Array, leaf: boolean): Buffer {
  const odd = path.length % 2 === 1;
  const flag = (leaf ? 2 : 0) + (odd ? 1 : 0);
  const all = odd ? [flag, ...path] : [flag, 0, ...path];
  const out = Buffer.alloc(all.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = (all[2 * i] << 4) | all[2 * i + 1];
  return out;
}

// A child is embedded when its encoding is shorter than 32 bytes, and referred to by its hash otherwise.
function reference(node: RlpItem): RlpItem {
  const encoded = encode(node);
  return encoded.length < 32 ? node : keccak256(encoded);
}

function commonPrefixLength(entries: Entry[], depth: number): number {
  const first = entries[0].key;
  let length = 0;
  for (;;) {
    const at = depth + length;
    if (at >= first.length || entries.some((e) => at >= e.key.length || e.key[at] !== first[at])) return length;
    length++;
  }
}

// `entries` share their first `depth` nibbles and are sorted by key.
function build(entries: Entry[], depth: number): RlpItem {
  if (entries.length === 1) return [hexPrefix(entries[0].key.subarray(depth), true), entries[0].value];
  const shared = commonPrefixLength(entries, depth);
  if (shared > 0) return [hexPrefix(entries[0].key.subarray(depth, depth + shared), false), reference(build(entries, depth + shared))];

  const branch: RlpItem[] = new Array(17).fill(EMPTY);
  let i = 0;
  if (entries[0].key.length === depth) branch[16] = entries[i++].value;
  while (i < entries.length) {
    const nibble = entries[i].key[depth];
    let j = i;
    while (j < entries.length && entries[j].key[depth] === nibble) j++;
    branch[nibble] = reference(build(entries.slice(i, j), depth + 1));
    i = j;
  }
  return branch;
}

function compareKeys(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** keccak256(rlp('')): the root of a trie with nothing in it, as in a block without transactions. */
export const EMPTY_TRIE_ROOT = keccak256(encode(EMPTY));

/** The trie root over `values` keyed by their position (`rlp(index)`), as a header's transactionsRoot is computed. */
export function orderedTrieRoot(values: readonly Buffer[]): Buffer {
  if (values.length === 0) return EMPTY_TRIE_ROOT;
  const entries = values
    .map((value, index) => ({ key: nibbles(encode(index === 0 ? EMPTY : unsignedBytes(index))), value }))
    .sort((a, b) => compareKeys(a.key, b.key));
  return keccak256(encode(build(entries, 0)));
}

/** Minimal big-endian bytes of a non-negative integer (empty for 0), as RLP encodes quantities. */
export function unsignedBytes(value: number | bigint): Buffer {
  let n = BigInt(value);
  if (n < 0n) throw new RangeError(`cannot encode negative quantity ${value}`);
  const bytes: number[] = [];
  while (n > 0n) {
    bytes.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  return Buffer.from(bytes);
}
