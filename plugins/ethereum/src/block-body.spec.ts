import { createHash } from 'node:crypto';
import { decodeBlock, headerField, type EthereumBlock } from './block';
import { checkBlockBody, transactionEncoding, transactionsRoot, withdrawalsRoot } from './block-body';
import { keccak256 } from './keccak';
import { encode, type RlpItem } from './rlp';
import { EMPTY_TRIE_ROOT, orderedTrieRoot } from './trie';
import { hex, readChain } from './__fixtures__/chains';

/** 'legacy' for a transaction held as an RLP list, else its EIP-2718 type byte. */
function transactionKind(tx: RlpItem): string {
  return Array.isArray(tx) ? 'legacy' : `type ${tx[0]}`;
}

/** The block as an RLP item list, the way an export file holds it: [header, transactions, ommers(, withdrawals)]. */
function blockItem(block: EthereumBlock): RlpItem[] {
  return [block.header.fields, block.transactions, block.ommers, ...(block.withdrawals ? [block.withdrawals] : [])];
}

/** Re-encodes a block built from (possibly changed) decoded parts and decodes it again, as a reader of the file would. */
function rebuilt(block: EthereumBlock): EthereumBlock {
  return decodeBlock(encode(blockItem(block)));
}

function differingBytes(a: Buffer, b: Buffer): number {
  if (a.length !== b.length) return Math.abs(a.length - b.length) + 1;
  let count = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) count++;
  return count;
}

interface ChainCase {
  file: string;
  blocks: number;
  /** How many blocks have at least one transaction, so the check cannot pass on empty blocks alone. */
  blocksWithTransactions: number;
  transactions: number;
  withdrawals: number;
}

// Counts from fixtures/README.md §1 where it gives them; the others were counted once and pinned here.
const CHAINS: ChainCase[] = [
  { file: 'geth-devp2p-prague/chain.rlp', blocks: 600, blocksWithTransactions: 546, transactions: 603, withdrawals: 54 },
  { file: 'besu-simulatev1-allforks/chain.rlp', blocks: 45, blocksWithTransactions: 45, transactions: 160, withdrawals: 3 },
  { file: 'besu-mainnet-fragments/50.blocks', blocks: 50, blocksWithTransactions: 18, transactions: 18, withdrawals: 0 },
  { file: 'besu-mainnet-fragments/block_4400000.blocks', blocks: 1, blocksWithTransactions: 1, transactions: 66, withdrawals: 0 },
  { file: 'besu-mainnet-fragments/block_4400001.blocks', blocks: 1, blocksWithTransactions: 1, transactions: 121, withdrawals: 0 },
  { file: 'besu-mainnet-fragments/block_4400002.blocks', blocks: 1, blocksWithTransactions: 1, transactions: 35, withdrawals: 0 },
  // Mainnet 0-999 and the IBFT chain hold no transaction at all: they only exercise the empty root (and ommers).
  { file: 'besu-mainnet-0-999/1000.blocks', blocks: 1000, blocksWithTransactions: 0, transactions: 0, withdrawals: 0 },
  { file: 'besu-ibft-quorum/ibft.blocks', blocks: 101, blocksWithTransactions: 0, transactions: 0, withdrawals: 0 },
  { file: 'besu-clique/clique.blocks', blocks: 5, blocksWithTransactions: 3, transactions: 4, withdrawals: 0 },
  { file: 'besu-london-transition/testLondonBlockchain.blocks', blocks: 6, blocksWithTransactions: 4, transactions: 4, withdrawals: 0 },
  { file: 'rpc-api-test-chain/hive-testBlockchain.blocks', blocks: 35, blocksWithTransactions: 34, transactions: 34, withdrawals: 1 },
  { file: 'besu-snap-multifork/testBlockchain.blocks', blocks: 501, blocksWithTransactions: 402, transactions: 402, withdrawals: 84 },
];

describe('checkBlockBody over every block of the real chains', () => {
  describe.each(CHAINS)('$file', ({ file, blocks, blocksWithTransactions, transactions, withdrawals }) => {
    const chain = readChain(file);

    it(`finds the transactions and withdrawals roots of all ${blocks} blocks equal to their headers'`, () => {
      expect(chain).toHaveLength(blocks);
      const problems = chain.map(({ block }) => checkBlockBody(block)).filter((problem) => problem !== undefined);
      expect(problems).toEqual([]);
    });

    it(`checked ${blocksWithTransactions} blocks with transactions (${transactions} transactions) and ${withdrawals} withdrawals`, () => {
      expect(chain.filter(({ block }) => block.transactions.length > 0)).toHaveLength(blocksWithTransactions);
      expect(chain.reduce((sum, { block }) => sum + block.transactions.length, 0)).toBe(transactions);
      expect(chain.reduce((sum, { block }) => sum + (block.withdrawals?.length ?? 0), 0)).toBe(withdrawals);
    });

    it('recomputes, for every block after genesis, exactly the roots in its header', () => {
      // The same check as above, spelled out field by field so a failure shows which block and which root.
      const mismatches = chain
        .filter(({ block }) => block.header.number > 0)
        .flatMap(({ block }) => {
          const out: string[] = [];
          if (!transactionsRoot(block.transactions).equals(headerField(block.header, 'transactionsRoot')!)) out.push(`block ${block.header.number} transactionsRoot`);
          const expected = headerField(block.header, 'withdrawalsRoot');
          if (expected && !withdrawalsRoot(block.withdrawals ?? []).equals(expected)) out.push(`block ${block.header.number} withdrawalsRoot`);
          return out;
        });
      expect(mismatches).toEqual([]);
    });
  });

  it('the Prague chain has typed transactions of every type 1 to 4 among those checked, with the counts of the README', () => {
    const counts: Record<string, number> = {};
    for (const { block } of readChain('geth-devp2p-prague/chain.rlp')) {
      for (const tx of block.transactions) counts[transactionKind(tx)] = (counts[transactionKind(tx)] ?? 0) + 1;
    }
    expect(counts).toEqual({ legacy: 331, 'type 1': 108, 'type 2': 109, 'type 3': 54, 'type 4': 1 });
  });

  it('encodes a legacy transaction as its RLP list and a typed one as the bytes it is stored as', () => {
    const block12 = readChain('geth-devp2p-prague/chain.rlp')[11].block;
    expect(block12.header.number).toBe(12);
    const [legacy, setCode] = block12.transactions;
    expect(Array.isArray(legacy)).toBe(true);
    expect(transactionEncoding(legacy)).toEqual(encode(legacy));
    expect(transactionKind(setCode)).toBe('type 4');
    expect(transactionEncoding(setCode)).toBe(setCode);
  });
});

describe('EMPTY_TRIE_ROOT', () => {
  it('is keccak256(rlp("")), the well-known empty root', () => {
    expect(hex(EMPTY_TRIE_ROOT)).toBe('0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421');
    expect(hex(orderedTrieRoot([]))).toBe('0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421');
  });
});

describe('a body that is not the one its header names', () => {
  const prague = readChain('geth-devp2p-prague/chain.rlp');
  const block11 = prague[10].block; // 56 legacy transactions
  const block45 = readChain('besu-simulatev1-allforks/chain.rlp')[44].block; // 6 transactions of types 0 to 4

  it('uses real blocks that pass as they are', () => {
    expect(block11.header.number).toBe(11);
    expect(block11.transactions.length).toBeGreaterThan(50);
    expect(block45.header.number).toBe(45);
    expect(new Set(block45.transactions.map(transactionKind)).size).toBeGreaterThanOrEqual(4);
    expect(checkBlockBody(block11)).toBeUndefined();
    expect(checkBlockBody(block45)).toBeUndefined();
  });

  // One byte changed inside the signature's r of a legacy transaction (an RLP list), or inside a typed transaction's
  // payload, the block then rebuilt from its decoded parts: the file differs in exactly that byte.
  function withLegacyByteChanged(block: EthereumBlock, index: number): EthereumBlock {
    const tx = block.transactions[index];
    if (!Array.isArray(tx)) throw new Error(`transaction ${index} of block ${block.header.number} is not legacy`);
    const r = Buffer.from(tx[7] as Buffer);
    r[10] ^= 0x01;
    const transactions = block.transactions.slice();
    transactions[index] = [...tx.slice(0, 7), r, tx[8]];
    return rebuilt({ ...block, transactions });
  }

  function withTypedByteChanged(block: EthereumBlock, index: number): EthereumBlock {
    const tx = block.transactions[index];
    if (Array.isArray(tx)) throw new Error(`transaction ${index} of block ${block.header.number} is not typed`);
    const changed = Buffer.from(tx);
    changed[changed.length - 5] ^= 0x01; // inside s, the payload's last field
    const transactions = block.transactions.slice();
    transactions[index] = changed;
    return rebuilt({ ...block, transactions });
  }

  it.each([
    ['a legacy transaction of block 11', () => block11, (b: EthereumBlock) => withLegacyByteChanged(b, 17)],
    ['the EIP-7702 transaction of block 45', () => block45, (b: EthereumBlock) => withTypedByteChanged(b, block45.transactions.findIndex((tx) => transactionKind(tx) === 'type 4'))],
  ])('a byte changed inside %s names the block and its transactions root', (_, original, tamper) => {
    const block = original();
    const changed = tamper(block);
    expect(differingBytes(encode(blockItem(changed)), encode(blockItem(block)))).toBe(1);

    const problem = checkBlockBody(changed);
    const headerRoot = hex(headerField(block.header, 'transactionsRoot')!);
    expect(problem).toBe(
      `block ${block.header.number}: its ${block.transactions.length} transactions hash to root ${hex(transactionsRoot(changed.transactions))}, but the header's transactionsRoot is ${headerRoot}`,
    );
    expect(hex(transactionsRoot(changed.transactions))).not.toBe(headerRoot);
  });

  it('two transactions swapped are detected, although the set of transactions is the same', () => {
    const transactions = block45.transactions.slice();
    [transactions[1], transactions[4]] = [transactions[4], transactions[1]];
    const problem = checkBlockBody(rebuilt({ ...block45, transactions }));
    expect(problem).toMatch(/^block 45: its 6 transactions hash to root 0x[0-9a-f]{64}, but the header's transactionsRoot is 0x[0-9a-f]{64}$/);
  });

  it('a withdrawal dropped is reported as a withdrawals root problem', () => {
    const { block } = prague.find(({ block: b }) => (b.withdrawals?.length ?? 0) > 0)!;
    const withdrawals = block.withdrawals!.slice(1);
    const problem = checkBlockBody(rebuilt({ ...block, withdrawals }));
    expect(problem).toBe(
      `block ${block.header.number}: its ${withdrawals.length} withdrawals hash to root ${hex(withdrawalsRoot(withdrawals))}, but the header's withdrawalsRoot is ${hex(headerField(block.header, 'withdrawalsRoot')!)}`,
    );
  });

  it('a block whose header has a withdrawalsRoot but whose body has no withdrawals list is refused', () => {
    const { block } = prague[0];
    const withoutList = decodeBlock(encode([block.header.fields, block.transactions, block.ommers]));
    expect(checkBlockBody(withoutList)).toBe('block 1: the header has a withdrawalsRoot but the block has no withdrawals list');
  });

  it('a genesis block with a transaction is refused, while the real genesis passes', () => {
    const hive = readChain('rpc-api-test-chain/hive-testBlockchain.blocks');
    const genesis = hive[0].block;
    expect(genesis.header.number).toBe(0);
    expect(checkBlockBody(genesis)).toBeUndefined();
    const withTransaction = rebuilt({ ...genesis, transactions: [hive[1].block.transactions[0]] });
    expect(checkBlockBody(withTransaction)).toBe('block 0 (genesis) has transactions, ommers or withdrawals');
  });

  // A header also commits to its ommers, as ommersHash = keccak256(rlp(ommers)); geth refuses a block whose ommers
  // do not match ("uncle root hash mismatch"), and block-source.ts relies on this to prove uncle headers re-encoded
  // from JSON.
  it('an ommer dropped from a real mainnet block is refused (ommersHash)', () => {
    const { block } = readChain('besu-mainnet-fragments/50.blocks').find(({ block: b }) => b.ommers.length > 0)!;
    expect(keccak256(encode(block.ommers)).equals(headerField(block.header, 'ommersHash')!)).toBe(true);
    const problem = checkBlockBody(rebuilt({ ...block, ommers: [] }));
    expect(problem).toEqual(expect.stringContaining(`block ${block.header.number}`));
    expect(problem).toMatch(/ommers/i);
  });
});

// An Ethereum trie built the other way round from trie.ts: keys inserted one at a time into explicit nodes, splitting
// leaves and extensions as they go, written from the Yellow Paper (appendix D), and only then hashed. It is anchored
// to real blocks below before it is used as the reference for more than 128 transactions.
type Nibbles = readonly number[];
type TrieNode =
  | { kind: 'leaf'; path: Nibbles; value: Buffer }
  | { kind: 'extension'; path: Nibbles; child: TrieNode }
  | { kind: 'branch'; children: (TrieNode | undefined)[]; value?: Buffer };

function sharedLength(a: Nibbles, b: Nibbles): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

function branchWith(entries: { path: Nibbles; node?: TrieNode; value?: Buffer }[]): TrieNode {
  const branch: TrieNode = { kind: 'branch', children: new Array<TrieNode | undefined>(16).fill(undefined) };
  for (const { path, node, value } of entries) {
    if (path.length === 0) {
      branch.value = value;
      continue;
    }
    const rest = path.slice(1);
    branch.children[path[0]] = node ? (rest.length === 0 ? node : { kind: 'extension', path: rest, child: node }) : { kind: 'leaf', path: rest, value: value! };
  }
  return branch;
}

function insert(node: TrieNode | undefined, path: Nibbles, value: Buffer): TrieNode {
  if (!node) return { kind: 'leaf', path, value };
  if (node.kind === 'branch') {
    if (path.length === 0) return { ...node, value };
    const children = node.children.slice();
    children[path[0]] = insert(children[path[0]], path.slice(1), value);
    return { ...node, children };
  }
  const shared = sharedLength(node.path, path);
  if (node.kind === 'leaf' && shared === node.path.length && shared === path.length) return { ...node, value };
  if (node.kind === 'extension' && shared === node.path.length) return { ...node, child: insert(node.child, path.slice(shared), value) };
  const old = node.kind === 'leaf' ? { path: node.path.slice(shared), value: node.value } : { path: node.path.slice(shared), node: node.child };
  const split = branchWith([old, { path: path.slice(shared), value }]);
  return shared === 0 ? split : { kind: 'extension', path: path.slice(0, shared), child: split };
}

function compactPath(path: Nibbles, leaf: boolean): Buffer {
  const flagged = path.length % 2 === 1 ? [(leaf ? 3 : 1), ...path] : [(leaf ? 2 : 0), 0, ...path];
  return Buffer.from(Array.from({ length: flagged.length / 2 }, (_, i) => flagged[2 * i] * 16 + flagged[2 * i + 1]));
}

function nodeItem(node: TrieNode): RlpItem {
  switch (node.kind) {
    case 'leaf':
      return [compactPath(node.path, true), node.value];
    case 'extension':
      return [compactPath(node.path, false), childReference(node.child)];
    case 'branch':
      return [...node.children.map((child) => (child ? childReference(child) : Buffer.alloc(0))), node.value ?? Buffer.alloc(0)];
  }
}

function childReference(node: TrieNode): RlpItem {
  const item = nodeItem(node);
  const encoded = encode(item);
  return encoded.length < 32 ? item : keccak256(encoded);
}

/** rlp(index) written out by hand: 0 is the empty string 0x80, 1-127 the byte itself, then 0x80+length ‖ big-endian. */
function indexKey(index: number): Buffer {
  if (index === 0) return Buffer.from([0x80]);
  if (index < 0x80) return Buffer.from([index]);
  const bytes = Buffer.from(index.toString(16).padStart(index < 0x100 ? 2 : index < 0x10000 ? 4 : 6, '0'), 'hex');
  return Buffer.concat([Buffer.from([0x80 + bytes.length]), bytes]);
}

function referenceTrieRoot(values: readonly Buffer[]): Buffer {
  let root: TrieNode | undefined;
  values.forEach((value, index) => {
    const key = indexKey(index);
    root = insert(root, [...key].flatMap((byte) => [byte >> 4, byte & 0x0f]), value);
  });
  return root ? keccak256(encode(nodeItem(root))) : EMPTY_TRIE_ROOT;
}

describe('orderedTrieRoot with more than 128 entries', () => {
  // No block of the fixtures has more than 128 transactions (the largest, mainnet 4400001, has 121), so keys from
  // rlp(128) = 0x8180 on are never met in real data here. The check below is therefore weaker than the real-chain
  // ones: synthetic values, compared with the independent insertion trie above (which is itself first checked
  // against real headers), plus determinism and sensitivity to every value.
  const values = Array.from({ length: 200 }, (_, i) => {
    const digest = createHash('sha256').update(`value ${i}`).digest();
    // Lengths 1 to 90: short values give leaves under 32 bytes, which are embedded in their parent instead of hashed.
    return Buffer.concat([digest, digest, digest]).subarray(0, 1 + ((i * 37) % 90));
  });

  it('the reference trie reproduces real transactions roots (up to 121 transactions) and withdrawals roots', () => {
    const real = [
      ...readChain('besu-mainnet-fragments/block_4400001.blocks'),
      ...readChain('besu-mainnet-fragments/block_4400000.blocks'),
      ...readChain('geth-devp2p-prague/chain.rlp').slice(0, 40),
      ...readChain('besu-simulatev1-allforks/chain.rlp'),
    ].map(({ block }) => block);
    expect(Math.max(...real.map((b) => b.transactions.length))).toBe(121);
    for (const block of real) {
      expect(hex(referenceTrieRoot(block.transactions.map(transactionEncoding)))).toBe(hex(headerField(block.header, 'transactionsRoot')!));
      const withdrawalsRootField = headerField(block.header, 'withdrawalsRoot');
      if (withdrawalsRootField) expect(hex(referenceTrieRoot(block.withdrawals!.map((w) => encode(w))))).toBe(hex(withdrawalsRootField));
    }
  });

  it('uses keys rlp(128) = 0x8180 and rlp(199) = 0x81c7 for the 129th and 200th values', () => {
    expect(hex(indexKey(128))).toBe('0x8180');
    expect(hex(indexKey(199))).toBe('0x81c7');
    expect(hex(indexKey(300))).toBe('0x82012c');
  });

  it.each([129, 200, 256, 300])('agrees with the reference trie for %i values', (count) => {
    const list = count <= values.length ? values.slice(0, count) : [...values, ...values.slice(0, count - values.length).map((v) => Buffer.concat([v, Buffer.from([count])]))];
    expect(hex(orderedTrieRoot(list))).toBe(hex(referenceTrieRoot(list)));
  });

  it('is deterministic, and changes when any one of the 200 values changes, or two are swapped', () => {
    const root = orderedTrieRoot(values);
    expect(orderedTrieRoot(values.map((v) => Buffer.from(v))).equals(root)).toBe(true);
    const roots = new Set<string>([hex(root)]);
    values.forEach((value, i) => {
      const changed = values.slice();
      const copy = Buffer.from(value);
      copy[copy.length - 1] ^= 0x01;
      changed[i] = copy;
      roots.add(hex(orderedTrieRoot(changed)));
    });
    expect(roots.size).toBe(values.length + 1);

    const swapped = values.slice();
    [swapped[127], swapped[128]] = [swapped[128], swapped[127]];
    expect(orderedTrieRoot(swapped).equals(root)).toBe(false);
    expect(orderedTrieRoot(values.slice(0, 199)).equals(root)).toBe(false);
  });
});
