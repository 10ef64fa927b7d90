import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Transaction } from 'ethers';
import { keccak256 } from './keccak';
import { blockFromJson, headerFieldsFromJson, JsonBlockError, type JsonObject } from './json-block';
import { decode, encode, type RlpItem } from './rlp';
import { FIXTURES, hex, readChain, type FixtureBlock } from './__fixtures__/chains';

/** Block number → hash from the collector's derived index (fixtures/README.md §5), computed outside this code base. */
function indexHashes(file: string): Map<number, string> {
  const [, ...rows] = readFileSync(join(FIXTURES, 'derived', 'ethereum', `${file}.index.csv`), 'utf8').trim().split('\n');
  return new Map(rows.map((row) => row.split(',')).map(([number, hash]) => [Number(number), hash]));
}

// ---------------------------------------------------------------------------------------------------------------
// A decoded block → the JSON an Ethereum node answers to eth_getBlockByNumber(n, true), written from the specs
// (Yellow Paper header, EIP-2718 envelopes, EIP-2930/1559/4844/7702 payload field orders, EIP-4895 withdrawals,
// and the execution-apis JSON-RPC names), not from json-block.ts.
// ---------------------------------------------------------------------------------------------------------------

type RpcAccessListEntry = { address: string; storageKeys: string[] };
type RpcAuthorization = { chainId: string; address: string; nonce: string; yParity: string; r: string; s: string };
type RpcTransaction = {
  blockHash: string;
  blockNumber: string;
  transactionIndex: string;
  hash: string;
  type: string;
  nonce: string;
  gas: string;
  to: string | null;
  value: string;
  input: string;
  v: string;
  r: string;
  s: string;
  chainId?: string;
  gasPrice?: string;
  maxPriorityFeePerGas?: string;
  maxFeePerGas?: string;
  yParity?: string;
  accessList?: RpcAccessListEntry[];
  maxFeePerBlobGas?: string;
  blobVersionedHashes?: string[];
  authorizationList?: RpcAuthorization[];
};
type RpcWithdrawal = { index: string; validatorIndex: string; address: string; amount: string };
type RpcHeader = Record<string, string>;
type RpcBlock = JsonObject & { hash: string; number: string; uncles: string[]; transactions: RpcTransaction[]; withdrawals?: RpcWithdrawal[] };

function bytesOf(item: RlpItem | undefined, what: string): Buffer {
  if (item === undefined || Array.isArray(item)) throw new Error(`${what} is ${item === undefined ? 'missing' : 'a list'}, expected bytes`);
  return item;
}

function listOf(item: RlpItem | undefined, what: string): RlpItem[] {
  if (!Array.isArray(item)) throw new Error(`${what} is ${item === undefined ? 'missing' : 'bytes'}, expected a list`);
  return item;
}

const bigintOf = (bytes: Buffer): bigint => (bytes.length === 0 ? 0n : BigInt(hex(bytes)));
/** A QUANTITY as nodes write it: minimal hex digits, "0x0" for zero. */
const quantityJson = (value: Buffer | bigint): string => `0x${(Buffer.isBuffer(value) ? bigintOf(value) : value).toString(16)}`;
/** DATA: every byte, two hex digits each. */
const dataJson = (bytes: Buffer): string => hex(bytes);

// Header fields in RLP order with their JSON-RPC names: the Yellow Paper's 15, then London (EIP-1559), Shanghai
// (EIP-4895), Cancun (EIP-4844, EIP-4788) and Prague (EIP-7685).
const HEADER_JSON_FIELDS: readonly (readonly [string, 'quantity' | 'data'])[] = [
  ['parentHash', 'data'],
  ['sha3Uncles', 'data'],
  ['miner', 'data'],
  ['stateRoot', 'data'],
  ['transactionsRoot', 'data'],
  ['receiptsRoot', 'data'],
  ['logsBloom', 'data'],
  ['difficulty', 'quantity'],
  ['number', 'quantity'],
  ['gasLimit', 'quantity'],
  ['gasUsed', 'quantity'],
  ['timestamp', 'quantity'],
  ['extraData', 'data'],
  ['mixHash', 'data'],
  ['nonce', 'data'],
  ['baseFeePerGas', 'quantity'],
  ['withdrawalsRoot', 'data'],
  ['blobGasUsed', 'quantity'],
  ['excessBlobGas', 'quantity'],
  ['parentBeaconBlockRoot', 'data'],
  ['requestsHash', 'data'],
];

function headerJson(header: RlpItem): RpcHeader {
  const fields = listOf(header, 'header');
  if (fields.length > HEADER_JSON_FIELDS.length) throw new Error(`a header of ${fields.length} fields is beyond Prague`);
  const json: RpcHeader = {};
  fields.forEach((field, i) => {
    const [name, kind] = HEADER_JSON_FIELDS[i];
    json[name] = kind === 'quantity' ? quantityJson(bytesOf(field, name)) : dataJson(bytesOf(field, name));
  });
  json.hash = hex(keccak256(encode(header)));
  return json;
}

type TxField =
  | 'chainId'
  | 'nonce'
  | 'gasPrice'
  | 'maxPriorityFeePerGas'
  | 'maxFeePerGas'
  | 'gas'
  | 'to'
  | 'value'
  | 'input'
  | 'accessList'
  | 'maxFeePerBlobGas'
  | 'blobVersionedHashes'
  | 'authorizationList'
  | 'v'
  | 'yParity'
  | 'r'
  | 's';

const LEGACY_LAYOUT: readonly TxField[] = ['nonce', 'gasPrice', 'gas', 'to', 'value', 'input', 'v', 'r', 's'];
/** The payload field order of each EIP-2718 type. */
const TYPED_LAYOUTS: Readonly<Record<number, readonly TxField[]>> = {
  1: ['chainId', 'nonce', 'gasPrice', 'gas', 'to', 'value', 'input', 'accessList', 'yParity', 'r', 's'], // EIP-2930
  2: ['chainId', 'nonce', 'maxPriorityFeePerGas', 'maxFeePerGas', 'gas', 'to', 'value', 'input', 'accessList', 'yParity', 'r', 's'], // EIP-1559
  3: ['chainId', 'nonce', 'maxPriorityFeePerGas', 'maxFeePerGas', 'gas', 'to', 'value', 'input', 'accessList', 'maxFeePerBlobGas', 'blobVersionedHashes', 'yParity', 'r', 's'], // EIP-4844
  4: ['chainId', 'nonce', 'maxPriorityFeePerGas', 'maxFeePerGas', 'gas', 'to', 'value', 'input', 'accessList', 'authorizationList', 'yParity', 'r', 's'], // EIP-7702
};

/** EIP-7702: each authorization is [chain_id, address, nonce, y_parity, r, s]. */
const AUTHORIZATION_LAYOUT = ['chainId', 'address', 'nonce', 'yParity', 'r', 's'] as const;
type AuthorizationField = (typeof AUTHORIZATION_LAYOUT)[number];

function named<F extends string>(items: RlpItem[], layout: readonly F[], what: string): Map<F, RlpItem> {
  if (items.length !== layout.length) throw new Error(`${what} has ${items.length} fields, expected ${layout.length}`);
  return new Map(layout.map((name, i) => [name, items[i]]));
}

/** The object without its undefined members, as a node leaves absent fields out. */
function present<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

interface TxContext {
  blockHash: string;
  blockNumber: string;
  index: number;
  baseFee?: bigint;
}

function transactionJson(tx: RlpItem, context: TxContext): RpcTransaction {
  const raw = Array.isArray(tx) ? encode(tx) : tx;
  const type = Array.isArray(tx) ? 0 : tx[0];
  const what = `transaction ${context.index} (type ${type})`;
  const fields = Array.isArray(tx) ? named(tx, LEGACY_LAYOUT, what) : named(listOf(decode(tx.subarray(1)), what), TYPED_LAYOUTS[type] ?? [], what);
  const has = (name: TxField): boolean => fields.has(name);
  const bytes = (name: TxField): Buffer => bytesOf(fields.get(name), `${what} ${name}`);
  const quantity = (name: TxField): string | undefined => (has(name) ? quantityJson(bytes(name)) : undefined);
  const list = (name: TxField): RlpItem[] => listOf(fields.get(name), `${what} ${name}`);

  const to = bytes('to');
  const v = Array.isArray(tx) ? bigintOf(bytes('v')) : bigintOf(bytes('yParity'));
  // EIP-155: a legacy signature's v is chainId * 2 + 35 + parity; before it, 27 + parity and no chain id.
  const chainId = Array.isArray(tx) ? (v >= 35n ? quantityJson((v - 35n) / 2n) : undefined) : quantity('chainId');
  // Nodes report a fee-market transaction's effective gas price: min(maxFeePerGas, baseFee + maxPriorityFeePerGas).
  const effectiveGasPrice = (): string => {
    const cap = bigintOf(bytes('maxFeePerGas'));
    const tip = bigintOf(bytes('maxPriorityFeePerGas'));
    const price = (context.baseFee ?? 0n) + tip;
    return quantityJson(price < cap ? price : cap);
  };

  return present<RpcTransaction>({
    blockHash: context.blockHash,
    blockNumber: context.blockNumber,
    transactionIndex: quantityJson(BigInt(context.index)),
    hash: hex(keccak256(raw)),
    type: quantityJson(BigInt(type)),
    chainId,
    nonce: quantityJson(bytes('nonce')),
    gasPrice: has('gasPrice') ? quantity('gasPrice') : effectiveGasPrice(),
    maxPriorityFeePerGas: quantity('maxPriorityFeePerGas'),
    maxFeePerGas: quantity('maxFeePerGas'),
    gas: quantityJson(bytes('gas')),
    to: to.length === 0 ? null : dataJson(to),
    value: quantityJson(bytes('value')),
    input: dataJson(bytes('input')),
    accessList: has('accessList')
      ? list('accessList').map((entry, i) => {
          const [address, keys] = listOf(entry, `${what} accessList[${i}]`);
          return { address: dataJson(bytesOf(address, 'address')), storageKeys: listOf(keys, 'storageKeys').map((k) => dataJson(bytesOf(k, 'storage key'))) };
        })
      : undefined,
    maxFeePerBlobGas: quantity('maxFeePerBlobGas'),
    blobVersionedHashes: has('blobVersionedHashes') ? list('blobVersionedHashes').map((h) => dataJson(bytesOf(h, 'blob hash'))) : undefined,
    authorizationList: has('authorizationList')
      ? list('authorizationList').map((entry, i) => {
          const auth = named(listOf(entry, `${what} authorization ${i}`), AUTHORIZATION_LAYOUT, `${what} authorization ${i}`);
          const field = (name: AuthorizationField): Buffer => bytesOf(auth.get(name), `${what} authorization ${i} ${name}`);
          return {
            chainId: quantityJson(field('chainId')),
            address: dataJson(field('address')),
            nonce: quantityJson(field('nonce')),
            yParity: quantityJson(field('yParity')),
            r: quantityJson(field('r')),
            s: quantityJson(field('s')),
          };
        })
      : undefined,
    // Typed transactions: geth reports the parity both as v and as yParity.
    v: quantityJson(v),
    yParity: Array.isArray(tx) ? undefined : quantityJson(v),
    r: quantityJson(bytes('r')),
    s: quantityJson(bytes('s')),
  });
}

function withdrawalJson(item: RlpItem): RpcWithdrawal {
  const [index, validatorIndex, address, amount] = listOf(item, 'withdrawal').map((field) => bytesOf(field, 'withdrawal field'));
  return { index: quantityJson(index), validatorIndex: quantityJson(validatorIndex), address: dataJson(address), amount: quantityJson(amount) };
}

interface NodeAnswer {
  /** eth_getBlockByNumber(n, true) */
  json: RpcBlock;
  /** eth_getUncleByBlockNumberAndIndex(n, i) for each uncle */
  uncles: RpcHeader[];
}

function nodeJson({ block, bytes }: FixtureBlock): NodeAnswer {
  const header = headerJson(block.header.fields);
  const uncles = block.ommers.map((ommer) => headerJson(ommer));
  const baseFee = header.baseFeePerGas === undefined ? undefined : BigInt(header.baseFeePerGas);
  const transactions = block.transactions.map((tx, index) => transactionJson(tx, { blockHash: header.hash, blockNumber: header.number, index, baseFee }));
  const json: RpcBlock = {
    ...header,
    hash: header.hash,
    number: header.number,
    size: quantityJson(BigInt(bytes.length)),
    uncles: uncles.map((uncle) => uncle.hash),
    transactions,
    ...(block.withdrawals ? { withdrawals: block.withdrawals.map(withdrawalJson) } : {}),
  };
  return { json, uncles };
}

function transactionKind(tx: RlpItem): string {
  return Array.isArray(tx) ? 'legacy' : `type ${tx[0]}`;
}

/** The error `fn` throws; fails the test when it throws nothing. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`threw a non-Error: ${String(error)}`);
  }
  throw new Error('expected an error, but none was thrown');
}

/** Re-encodes every block from its JSON and lists those whose bytes differ or that fail, with the reason. */
function roundTripFailures(chain: readonly FixtureBlock[], rewrite: (json: RpcBlock) => JsonObject = (json) => json): string[] {
  return chain.flatMap((fixture) => {
    const { json, uncles } = nodeJson(fixture);
    try {
      const encoded = blockFromJson(rewrite(json), uncles);
      return encoded.rlp.equals(fixture.bytes) ? [] : [`block ${fixture.block.header.number}: re-encoded bytes differ`];
    } catch (error) {
      return [`block ${fixture.block.header.number}: ${(error as Error).message}`];
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------

describe('headblock.json: the real JSON geth returns for block 600 of the Prague chain', () => {
  const headblock = JSON.parse(readFileSync(join(FIXTURES, 'ethereum', 'geth-devp2p-prague', 'headblock.json'), 'utf8')) as JsonObject;
  const chain = readChain('geth-devp2p-prague/chain.rlp');
  const last = chain[chain.length - 1];

  it('re-encodes to a header whose keccak256 is the hash geth reported', () => {
    const fields = headerFieldsFromJson(headblock);
    expect(fields).toHaveLength(21);
    expect(hex(keccak256(encode(fields)))).toBe(headblock.hash);
    expect(headblock.hash).toBe('0x44e3809c9a3cda717f00aea3a9da336d149612c8d5657fbc0028176ef8d94d2a');
  });

  it('re-encodes to exactly the header bytes of the last block in chain.rlp', () => {
    expect(last.block.header.number).toBe(600);
    const encoded = encode(headerFieldsFromJson(headblock));
    // The block is a long list (0xf8 + n: n length bytes follow), and the header is its first item.
    const payloadStart = 1 + (last.bytes[0] - 0xf7);
    expect(last.bytes[0]).toBeGreaterThan(0xf7);
    expect(last.bytes.subarray(payloadStart, payloadStart + encoded.length).equals(encoded)).toBe(true);
  });

  it('with the body of block 600 added, blockFromJson gives the whole block exactly', () => {
    const { json, uncles } = nodeJson(last);
    expect(json.withdrawals?.length).toBeGreaterThan(0);
    const fromNode = { ...headblock, uncles: json.uncles, transactions: json.transactions, withdrawals: json.withdrawals };
    expect(blockFromJson(fromNode, uncles).rlp.equals(last.bytes)).toBe(true);
  });
});

// Why this is not circular: the converter above and json-block.ts are two independent readings of the specs, and
// neither decides what is right. The expected value is the fixture's own bytes, the header hash is compared with the
// collector's derived index, each transaction's `hash` is keccak256 of its real bytes (so blockFromJson's own check
// is against data, not against the encoder), and the converter's field names are checked against ethers' independent
// transaction parser below, so a field order both sides got wrong in the same way would still be caught there.
describe.each([
  { file: 'geth-devp2p-prague/chain.rlp', blocks: 600, kinds: { legacy: 331, 'type 1': 108, 'type 2': 109, 'type 3': 54, 'type 4': 1 }, uncles: 0, withdrawals: 54 },
  { file: 'besu-simulatev1-allforks/chain.rlp', blocks: 45, kinds: { legacy: 120, 'type 1': 20, 'type 2': 17, 'type 3': 2, 'type 4': 1 }, uncles: 19, withdrawals: 3 },
  { file: 'besu-mainnet-fragments/50.blocks', blocks: 50, kinds: { legacy: 18 }, uncles: 3, withdrawals: 0 },
  { file: 'rpc-api-test-chain/hive-testBlockchain.blocks', blocks: 35, kinds: { legacy: 32, 'type 2': 1, 'type 3': 1 }, uncles: 2, withdrawals: 1 },
])('round trip through node JSON: $file', ({ file, blocks, kinds, uncles, withdrawals }) => {
  const chain = readChain(file);

  it(`re-encodes all ${blocks} blocks to their exact bytes`, () => {
    expect(chain).toHaveLength(blocks);
    expect(roundTripFailures(chain)).toEqual([]);
  });

  it('gives every header the hash of the derived index', () => {
    const expected = indexHashes(file);
    const wrong = chain
      .map((fixture) => {
        const { json, uncles: uncleJsons } = nodeJson(fixture);
        return { number: fixture.block.header.number, hash: hex(keccak256(encode(blockFromJson(json, uncleJsons).headerFields))) };
      })
      .filter(({ number, hash }) => expected.get(number) !== hash);
    expect(expected.size).toBe(blocks);
    expect(wrong).toEqual([]);
  });

  it(`covered ${JSON.stringify(kinds)} transactions, ${uncles} uncles and ${withdrawals} withdrawals`, () => {
    const counts: Record<string, number> = {};
    for (const { block } of chain) block.transactions.forEach((tx) => (counts[transactionKind(tx)] = (counts[transactionKind(tx)] ?? 0) + 1));
    expect(counts).toEqual(kinds);
    expect(chain.reduce((sum, { block }) => sum + block.ommers.length, 0)).toBe(uncles);
    expect(chain.reduce((sum, { block }) => sum + (block.withdrawals?.length ?? 0), 0)).toBe(withdrawals);
  });

  it("names every transaction field as ethers' own transaction parser reads the raw bytes", () => {
    const mine = chain.flatMap((fixture) => nodeJson(fixture).json.transactions.map(fromRpcJson));
    const theirs = chain.flatMap(({ block }) => block.transactions.map((tx) => fromEthers(Array.isArray(tx) ? encode(tx) : tx)));
    expect(mine).toHaveLength(theirs.length);
    expect(mine).toEqual(theirs);
  });
});

/** The fields of a transaction in one comparable shape: numbers as bigint, hex lower-case. */
interface TxView {
  type: number;
  hash: string;
  chainId: bigint;
  nonce: bigint;
  gas: bigint;
  gasPrice?: bigint;
  maxPriorityFeePerGas?: bigint;
  maxFeePerGas?: bigint;
  to: string | null;
  value: bigint;
  input: string;
  accessList?: RpcAccessListEntry[];
  maxFeePerBlobGas?: bigint;
  blobVersionedHashes?: string[];
  authorizationList?: { chainId: bigint; address: string; nonce: bigint; yParity: number; r: bigint; s: bigint }[];
  /** Legacy: the full v (EIP-155 included); typed: the parity. */
  v: bigint;
  r: bigint;
  s: bigint;
}

function fromRpcJson(tx: RpcTransaction): TxView {
  const type = Number(tx.type);
  const optional = (value: string | undefined): bigint | undefined => (value === undefined ? undefined : BigInt(value));
  return present<TxView>({
    type,
    hash: tx.hash,
    chainId: BigInt(tx.chainId ?? 0),
    nonce: BigInt(tx.nonce),
    gas: BigInt(tx.gas),
    // For types 2 to 4 a node's gasPrice is the effective price, which is not in the transaction.
    gasPrice: type < 2 ? optional(tx.gasPrice) : undefined,
    maxPriorityFeePerGas: optional(tx.maxPriorityFeePerGas),
    maxFeePerGas: optional(tx.maxFeePerGas),
    to: tx.to,
    value: BigInt(tx.value),
    input: tx.input,
    accessList: tx.accessList,
    maxFeePerBlobGas: optional(tx.maxFeePerBlobGas),
    blobVersionedHashes: tx.blobVersionedHashes,
    authorizationList: tx.authorizationList?.map((a) => ({ chainId: BigInt(a.chainId), address: a.address, nonce: BigInt(a.nonce), yParity: Number(a.yParity), r: BigInt(a.r), s: BigInt(a.s) })),
    v: BigInt(type === 0 ? tx.v : tx.yParity!),
    r: BigInt(tx.r),
    s: BigInt(tx.s),
  });
}

function fromEthers(raw: Buffer): TxView {
  const tx = Transaction.from(hex(raw));
  const signature = tx.signature!;
  const type = tx.type ?? 0;
  const orUndefined = <T>(value: T | null): T | undefined => (value === null ? undefined : value);
  return present<TxView>({
    type,
    hash: tx.hash!,
    chainId: tx.chainId,
    nonce: BigInt(tx.nonce),
    gas: tx.gasLimit,
    gasPrice: type < 2 ? orUndefined(tx.gasPrice) : undefined,
    maxPriorityFeePerGas: orUndefined(tx.maxPriorityFeePerGas),
    maxFeePerGas: orUndefined(tx.maxFeePerGas),
    to: tx.to === null ? null : tx.to.toLowerCase(),
    value: tx.value,
    input: tx.data,
    accessList: type === 0 ? undefined : orUndefined(tx.accessList)?.map((e) => ({ address: e.address.toLowerCase(), storageKeys: e.storageKeys.map((k) => k.toLowerCase()) })),
    maxFeePerBlobGas: orUndefined(tx.maxFeePerBlobGas),
    blobVersionedHashes: orUndefined(tx.blobVersionedHashes),
    authorizationList: orUndefined(tx.authorizationList)?.map((a) => ({
      chainId: a.chainId,
      address: a.address.toLowerCase(),
      nonce: a.nonce,
      yParity: a.signature.yParity,
      r: BigInt(a.signature.r),
      s: BigInt(a.signature.s),
    })),
    v: type === 0 ? (signature.networkV ?? BigInt(signature.v)) : BigInt(signature.yParity),
    r: BigInt(signature.r),
    s: BigInt(signature.s),
  });
}

// ---------------------------------------------------------------------------------------------------------------

const QUANTITY_PATTERN = /^0x[0-9a-f]+$/;
/** Adds one leading zero digit to an odd-length quantity ("0x7" → "0x07"), as some nodes pad to whole bytes. */
const evenDigits = (value: string): string => (value.length % 2 === 1 ? `0x0${value.slice(2)}` : value);

interface Quirk {
  name: string;
  rewrite: (tx: RpcTransaction) => JsonObject;
}

const QUIRKS: Quirk[] = [
  { name: 'r and s zero-padded to 32 bytes', rewrite: (tx) => ({ ...tx, r: `0x${tx.r.slice(2).padStart(64, '0')}`, s: `0x${tx.s.slice(2).padStart(64, '0')}` }) },
  { name: 'r and s with a leading zero digit ("0x0abc")', rewrite: (tx) => ({ ...tx, r: `0x0${tx.r.slice(2)}`, s: `0x0${tx.s.slice(2)}` }) },
  {
    name: 'typed parity given only as v (no yParity)',
    rewrite: (tx) => {
      const { yParity: _yParity, ...rest } = tx;
      return rest;
    },
  },
  {
    name: 'data instead of input',
    rewrite: (tx) => {
      const { input, ...rest } = tx;
      return { ...rest, data: input };
    },
  },
  {
    name: 'every quantity with leading zero digits up to whole bytes',
    // DATA values (hashes, addresses, input) always have an even digit count, so only quantities change.
    rewrite: (tx) => Object.fromEntries(Object.entries(tx).map(([k, v]) => [k, typeof v === 'string' && QUANTITY_PATTERN.test(v) ? evenDigits(v) : v])),
  },
  {
    name: 'authorization parity given as v',
    rewrite: (tx) => (tx.authorizationList ? { ...tx, authorizationList: tx.authorizationList.map(({ yParity, ...rest }) => ({ ...rest, v: yParity })) } : tx),
  },
];

describe('node quirks the encoder accepts', () => {
  const chain = [...readChain('geth-devp2p-prague/chain.rlp'), ...readChain('besu-simulatev1-allforks/chain.rlp')];
  const transactions = chain.flatMap((fixture) => nodeJson(fixture).json.transactions);

  it.each(QUIRKS)('$name: every block of the Prague and all-forks chains still re-encodes exactly', ({ rewrite }) => {
    const affected = transactions.filter((tx) => JSON.stringify(rewrite(tx)) !== JSON.stringify(tx));
    expect(affected.length).toBeGreaterThan(0);
    expect(roundTripFailures(chain, (json) => ({ ...json, transactions: json.transactions.map(rewrite) }))).toEqual([]);
  });

  it('r and s shorter than 32 bytes occur, so the padding quirk changes real values', () => {
    expect(transactions.filter((tx) => tx.r.length < 66 || tx.s.length < 66).length).toBeGreaterThan(0);
  });

  it('quantities without leading zeros ("0x7", odd digit counts) are what the plain round trip already sends', () => {
    const odd = transactions.flatMap((tx) => [tx.nonce, tx.gas, tx.value, tx.v]).filter((q) => q.length % 2 === 1);
    expect(odd.length).toBeGreaterThan(100);
  });

  it('header quantities padded to whole bytes give the same header', () => {
    const fixture = chain[599];
    const { json, uncles } = nodeJson(fixture);
    const quantities = ['difficulty', 'number', 'gasLimit', 'gasUsed', 'timestamp', 'baseFeePerGas', 'blobGasUsed', 'excessBlobGas'];
    const padded: JsonObject = { ...json, ...Object.fromEntries(quantities.map((name) => [name, evenDigits(String(json[name]))])) };
    expect(quantities.some((name) => padded[name] !== json[name])).toBe(true);
    expect(blockFromJson(padded, uncles).rlp.equals(fixture.bytes)).toBe(true);
  });
});

describe('JSON the encoder refuses, with a message that says why', () => {
  const prague = readChain('geth-devp2p-prague/chain.rlp');
  const block12 = prague[11]; // a legacy, the EIP-7702 and a legacy transaction
  const headblock = JSON.parse(readFileSync(join(FIXTURES, 'ethereum', 'geth-devp2p-prague', 'headblock.json'), 'utf8')) as JsonObject;

  function refusal(json: JsonObject, uncles: JsonObject[] = []): Error {
    const error = thrown(() => blockFromJson(json, uncles));
    expect(error).toBeInstanceOf(JsonBlockError);
    return error;
  }

  it('the block used is accepted as it is', () => {
    const { json, uncles } = nodeJson(block12);
    expect(json.number).toBe('0xc');
    expect(json.transactions.map((tx) => tx.type)).toEqual(['0x0', '0x4', '0x0']);
    expect(blockFromJson(json, uncles).rlp.equals(block12.bytes)).toBe(true);
  });

  it('transactions given as hashes only (eth_getBlockByNumber(n, false)): asks for full transactions', () => {
    const { json } = nodeJson(block12);
    const error = refusal({ ...json, transactions: json.transactions.map((tx) => tx.hash) });
    expect(error.message).toContain('block 12');
    expect(error.message).toContain('full transactions');
  });

  it('an unknown transaction type 0x7e: names the types it encodes', () => {
    const { json } = nodeJson(block12);
    const error = refusal({ ...json, transactions: [json.transactions[0], { ...json.transactions[1], type: '0x7e' }] });
    expect(error.message).toContain('block 12 transaction 1');
    expect(error.message).toContain('type 126');
    expect(error.message).toContain('types 0 to 4');
  });

  it('a transaction whose hash does not match its fields: names the block, the index and both hashes', () => {
    const { json } = nodeJson(block12);
    const original = block12.block.transactions[2];
    const fields = listOf(original, 'legacy transaction').slice();
    const value = bigintOf(bytesOf(fields[4], 'value')) + 1n; // LEGACY_LAYOUT[4] is value
    fields[4] = Buffer.from(evenDigits(quantityJson(value)).slice(2), 'hex');
    const changedHash = hex(keccak256(encode(fields)));
    const changed = { ...transactionJson(fields, { blockHash: json.hash, blockNumber: json.number, index: 2 }), hash: json.transactions[2].hash };
    expect(changed.value).not.toBe(json.transactions[2].value);

    const error = refusal({ ...json, transactions: [json.transactions[0], json.transactions[1], changed] });
    expect(error.message).toContain('block 12 transaction 2');
    expect(error.message).toContain(changedHash);
    expect(error.message).toContain(json.transactions[2].hash);
  });

  it('a header with requestsHash but no parentBeaconBlockRoot: names both fields', () => {
    const { parentBeaconBlockRoot: _root, ...header } = headblock;
    const error = refusal({ ...header, transactions: [], withdrawals: [] });
    expect(error.message).toContain('requestsHash');
    expect(error.message).toContain('parentBeaconBlockRoot');
    expect(error.message).toContain('block 600');
  });

  it('a withdrawalsRoot without a withdrawals list: says the list is missing', () => {
    const { json } = nodeJson(block12);
    const { withdrawals: _withdrawals, ...withoutList } = json;
    const error = refusal(withoutList);
    expect(error.message).toBe('block 12 has a withdrawalsRoot but the node sent no withdrawals list');
  });

  it.each([
    ['the header gasUsed', (json: RpcBlock): JsonObject => ({ ...json, gasUsed: '0x' }), ['block 12 gasUsed', '"0x"']],
    ['a transaction nonce', (json: RpcBlock): JsonObject => ({ ...json, transactions: [{ ...json.transactions[0], nonce: '0x' }, ...json.transactions.slice(1)] }), ['block 12 transaction 0 nonce', '"0x"']],
    ['a withdrawal amount', (json: RpcBlock): JsonObject => ({ ...json, withdrawals: [{ index: '0x0', validatorIndex: '0x1', address: `0x${'11'.repeat(20)}`, amount: '0x' }] }), ['block 12 withdrawal 0 amount', '"0x"']],
    // The block number and the type are read by quantity(), not quantityBytes(): an earlier version passed "0x" to
    // BigInt, whose bare SyntaxError named no field and escaped block-source.ts's JsonBlockError handling.
    ['the block number', (json: RpcBlock): JsonObject => ({ ...json, number: '0x' }), ['block number', '"0x"']],
    ['a transaction type', (json: RpcBlock): JsonObject => ({ ...json, transactions: [{ ...json.transactions[0], type: '0x' }, ...json.transactions.slice(1)] }), ['block 12 transaction 0 type', '"0x"']],
  ])('a quantity "0x" in %s: a JsonBlockError naming the field', (_, rewrite, parts) => {
    const { json, uncles } = nodeJson(block12);
    const error = refusal(rewrite(json), uncles);
    for (const part of parts) expect(error.message).toContain(part);
  });

  it.each([
    ['a hash with an odd number of digits', { stateRoot: '0xabc' }, ['block 12 stateRoot', 'odd number of hex digits']],
    ['a hash with a digit that is not hex', { parentHash: `0x${'zz'.repeat(32)}` }, ['block 12 parentHash', 'not hex']],
    ['a bloom without its 0x', { logsBloom: '00'.repeat(256) }, ['block 12 logsBloom', '0x-prefixed hex string']],
    ['a quantity with a digit that is not hex', { gasLimit: '0x1c9g' }, ['block 12 gasLimit', 'not hex']],
    ['a quantity given as a number', { timestamp: -1 }, ['block 12 timestamp', '0x-prefixed hex string']],
  ])('%s in the header: a JsonBlockError naming the field', (_, change, parts) => {
    const { json, uncles } = nodeJson(block12);
    const error = refusal({ ...json, ...change }, uncles);
    for (const part of parts) expect(error.message).toContain(part);
  });

  it('header quantities with leading zeros or odd digit counts give the same bytes as the plain ones', () => {
    const { json, uncles } = nodeJson(block12);
    const padded = { ...json, gasLimit: `0x000${(json.gasLimit as string).slice(2)}`, number: '0x00c', difficulty: '0x00' };
    expect(blockFromJson(padded, uncles).rlp.equals(block12.bytes)).toBe(true);
  });
});
