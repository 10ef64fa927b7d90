// What a block's header commits to in its body: the ommers hash and the transactions and withdrawals roots. A body
// that does not hash to them is not the block the header names, whatever the header hash says.
import { headerField, type EthereumBlock } from './block';
import { hex } from './hex';
import { keccak256 } from './keccak';
import { encode, type RlpItem } from './rlp';
import { orderedTrieRoot } from './trie';

/** A transaction's canonical encoding: the RLP list for legacy ones, `type ‖ rlp(payload)` for typed ones (EIP-2718). */
export function transactionEncoding(item: RlpItem): Buffer {
  return Array.isArray(item) ? encode(item) : item;
}

export function transactionsRoot(transactions: readonly RlpItem[]): Buffer {
  return orderedTrieRoot(transactions.map(transactionEncoding));
}

export function withdrawalsRoot(withdrawals: readonly RlpItem[]): Buffer {
  return orderedTrieRoot(withdrawals.map((w) => encode(w)));
}

/** keccak256(rlp([])): the ommersHash of every block without uncles (all of them since the merge). */
const EMPTY_OMMERS_HASH = keccak256(encode([]));

/** Says how the body disagrees with the header, or returns undefined when both roots match. */
export function checkBlockBody(block: EthereumBlock): string | undefined {
  const number = block.header.number;
  // A genesis header is written by the chain's spec, not derived from a body (Hardhat's carries keccak('') as its
  // transactionsRoot): it is only required to have no body.
  if (number === 0) {
    const empty = block.transactions.length === 0 && block.ommers.length === 0 && (block.withdrawals?.length ?? 0) === 0;
    return empty ? undefined : 'block 0 (genesis) has transactions, ommers or withdrawals';
  }
  const expectedOmmers = headerField(block.header, 'ommersHash')!;
  const actualOmmers = block.ommers.length === 0 ? EMPTY_OMMERS_HASH : keccak256(encode(block.ommers));
  if (!actualOmmers.equals(expectedOmmers)) {
    return `block ${number}: its ${block.ommers.length} ommers (uncles) hash to ${hex(actualOmmers)}, but the header's ommersHash is ${hex(expectedOmmers)}`;
  }
  const expectedTransactions = headerField(block.header, 'transactionsRoot')!;
  const actualTransactions = transactionsRoot(block.transactions);
  if (!actualTransactions.equals(expectedTransactions)) {
    return `block ${number}: its ${block.transactions.length} transactions hash to root ${hex(actualTransactions)}, but the header's transactionsRoot is ${hex(expectedTransactions)}`;
  }
  const expectedWithdrawals = headerField(block.header, 'withdrawalsRoot');
  if (expectedWithdrawals && !block.withdrawals) return `block ${number}: the header has a withdrawalsRoot but the block has no withdrawals list`;
  if (!expectedWithdrawals && block.withdrawals) return `block ${number}: the block has a withdrawals list but its header has no withdrawalsRoot`;
  if (expectedWithdrawals && block.withdrawals) {
    const actual = withdrawalsRoot(block.withdrawals);
    if (!actual.equals(expectedWithdrawals)) {
      return `block ${number}: its ${block.withdrawals.length} withdrawals hash to root ${hex(actual)}, but the header's withdrawalsRoot is ${hex(expectedWithdrawals)}`;
    }
  }
  return undefined;
}
