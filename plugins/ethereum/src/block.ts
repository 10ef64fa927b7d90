// Ethereum blocks as export files hold them: `[header, transactions, ommers(, withdrawals)]`, with the header layout
// chosen by its field count, and the block hash computed under the chain's consensus rule.
import { ChainDecodeError, ChainDecodeErrorCode } from './chain-decode.errors';
import { keccak256 } from './keccak';
import { decode, encode, type RlpItem } from './rlp';

/** How a chain seals its blocks; only the BFT families hash anything other than the full header. */
export type ConsensusKind = 'ethash' | 'clique' | 'pos' | 'ibft2' | 'qbft' | 'istanbul';

export const HEADER_FIELD_NAMES = [
  'parentHash',
  'ommersHash',
  'coinbase',
  'stateRoot',
  'transactionsRoot',
  'receiptsRoot',
  'logsBloom',
  'difficulty',
  'number',
  'gasLimit',
  'gasUsed',
  'timestamp',
  'extraData',
  'mixHash',
  'nonce',
  'baseFeePerGas',
  'withdrawalsRoot',
  'blobGasUsed',
  'excessBlobGas',
  'parentBeaconBlockRoot',
  'requestsHash',
  'blockAccessListHash',
] as const;

export type HeaderFieldName = (typeof HEADER_FIELD_NAMES)[number];

/** The fork whose header layout a given field count denotes (fixtures README §0). */
export const HEADER_LAYOUTS: Readonly<Record<number, string>> = {
  15: 'frontier',
  16: 'london',
  17: 'shanghai',
  20: 'cancun',
  21: 'prague',
  22: 'amsterdam',
};

export interface BlockHeader {
  /** The header's RLP fields in order; their names are HEADER_FIELD_NAMES[0 … fields.length − 1]. */
  fields: Buffer[];
  layout: string;
  number: number;
  parentHash: Buffer;
}

export interface EthereumBlock {
  header: BlockHeader;
  transactions: RlpItem[];
  ommers: RlpItem[];
  /** Present from Shanghai on. */
  withdrawals?: RlpItem[];
}

function badBlock(message: string, offset?: number): ChainDecodeError {
  return new ChainDecodeError(ChainDecodeErrorCode.BAD_BLOCK, message, offset);
}

/** Reads a big-endian unsigned integer field, refusing values a JavaScript number cannot hold exactly. */
export function toSafeInteger(bytes: Buffer, what: string): number {
  if (bytes.length > 0 && bytes[0] === 0) throw badBlock(`${what} has a leading zero byte`);
  let value = 0;
  for (const byte of bytes) value = value * 256 + byte;
  if (!Number.isSafeInteger(value)) throw badBlock(`${what} 0x${bytes.toString('hex')} is too large`);
  return value;
}

export function headerField(header: BlockHeader, name: HeaderFieldName): Buffer | undefined {
  return header.fields[HEADER_FIELD_NAMES.indexOf(name)];
}

/** The number of fields of the newest header layout known. */
const NEWEST_LAYOUT = Math.max(...Object.keys(HEADER_LAYOUTS).map(Number));

export function decodeHeader(item: RlpItem): BlockHeader {
  if (!Array.isArray(item)) throw badBlock('block header is a byte string, expected a list');
  // Fields a newer fork appends after the last known one are kept as they are (and hashed with the rest).
  const newest = NEWEST_LAYOUT;
  const layout = HEADER_LAYOUTS[item.length] ?? (item.length > newest ? `${HEADER_LAYOUTS[newest]}+${item.length - newest}` : undefined);
  if (!layout) throw badBlock(`block header has ${item.length} fields; known layouts have ${Object.keys(HEADER_LAYOUTS).join('/')}`);
  const fields = item.map((field, i) => {
    if (Array.isArray(field)) throw badBlock(`block header field ${HEADER_FIELD_NAMES[i]} is a list, expected bytes`);
    return field;
  });
  if (fields[0].length !== 32) throw badBlock(`block header parentHash is ${fields[0].length} bytes, expected 32`);
  return { fields, layout, number: toSafeInteger(fields[8], 'block number'), parentHash: fields[0] };
}

/** Decodes one block, given as its RLP bytes or as an already decoded item. */
export function decodeBlock(input: Uint8Array | RlpItem[]): EthereumBlock {
  const item = Array.isArray(input) ? input : decode(input);
  if (!Array.isArray(item) || (item.length !== 3 && item.length !== 4)) {
    const shape = Array.isArray(item) ? `a list of ${item.length} elements` : 'a byte string';
    throw badBlock(`block is ${shape}, expected [header, transactions, ommers] or [header, transactions, ommers, withdrawals]`);
  }
  const [header, transactions, ommers, withdrawals] = item;
  if (!Array.isArray(transactions) || !Array.isArray(ommers) || (withdrawals !== undefined && !Array.isArray(withdrawals))) {
    throw badBlock('block body element is a byte string, expected a list');
  }
  return { header: decodeHeader(header), transactions, ommers, ...(withdrawals ? { withdrawals } : {}) };
}

const EXTRA_DATA = HEADER_FIELD_NAMES.indexOf('extraData');
const ISTANBUL_VANITY_BYTES = 32;

// GoQuorum istanbul (IBFT 1.0): extraData = vanity(32) ‖ rlp([validators, proposerSeal, committedSeals]); the block
// hash covers the proposer seal but not the committed seals, which are added after the block is agreed.
function istanbulHashExtraData(extraData: Buffer, number: number): Buffer {
  const vanity = extraData.subarray(0, ISTANBUL_VANITY_BYTES);
  let istanbul: RlpItem | undefined;
  try {
    istanbul = extraData.length > ISTANBUL_VANITY_BYTES ? decode(extraData.subarray(ISTANBUL_VANITY_BYTES)) : undefined;
  } catch {
    istanbul = undefined;
  }
  if (!Array.isArray(istanbul) || istanbul.length !== 3) {
    throw badBlock(`block ${number}: extraData is not istanbul extra data (32-byte vanity followed by [validators, seal, committedSeals])`);
  }
  return Buffer.concat([vanity, encode([istanbul[0], istanbul[1], []])]);
}

// Besu IBFT 2.0 and QBFT: extraData = rlp([vanity, validators, vote, round, committedSeals]); the block hash covers
// the header with the round and the committed seals left out.
function bft2HashExtraData(extraData: Buffer, number: number): Buffer {
  let bft: RlpItem;
  try {
    bft = decode(extraData);
  } catch {
    bft = extraData;
  }
  if (!Array.isArray(bft) || bft.length !== 5) {
    throw badBlock(`block ${number}: extraData is not IBFT 2.0/QBFT extra data ([vanity, validators, vote, round, committedSeals])`);
  }
  return encode(bft.slice(0, 3));
}

/**
 * The block hash as the chain's clients compute it, which is what the next block's parentHash refers to.
 * `encodedHeader`, when the caller has the header's RLP at hand, saves encoding it again for the rules that hash
 * the whole header.
 */
export function blockHash(header: BlockHeader, consensus: ConsensusKind, encodedHeader?: Buffer): Buffer {
  switch (consensus) {
    case 'ethash':
    case 'clique':
    case 'pos':
      return keccak256(encodedHeader ?? encode(header.fields));
    case 'istanbul':
    case 'ibft2':
    case 'qbft': {
      const extraData = header.fields[EXTRA_DATA];
      const hashed = consensus === 'istanbul' ? istanbulHashExtraData(extraData, header.number) : bft2HashExtraData(extraData, header.number);
      const fields = header.fields.slice();
      fields[EXTRA_DATA] = hashed;
      return keccak256(encode(fields));
    }
  }
}
