// Reading RLP block-export files (`geth export`, `besu blocks export`) and checking that they form one unbroken chain.
import { blockHash, decodeBlock, type ConsensusKind } from './block';
import { ChainDecodeError, ChainDecodeErrorCode } from './chain-decode.errors';
import { hex } from './hex';
import { decodeStream } from './rlp';

export interface ExportedBlock {
  number: number;
  hash: Buffer;
  parentHash: Buffer;
  headerFieldCount: number;
  /** Byte range of the block's RLP item in the file: [start, end). */
  start: number;
  end: number;
}

export interface ChainLink {
  number: number;
  hash: Uint8Array;
}

export type ChainProblemKind = 'NUMBER_GAP' | 'PARENT_MISMATCH';

export interface ChainProblem {
  kind: ChainProblemKind;
  /** The block whose number or parentHash does not follow from the block before it. */
  blockNumber: number;
  message: string;
}

export function readRlpBlocks(buffer: Uint8Array, consensus: ConsensusKind): ExportedBlock[] {
  const blocks: ExportedBlock[] = [];
  for (const { item, start, end } of decodeStream(buffer)) {
    try {
      if (!Array.isArray(item)) throw new ChainDecodeError(ChainDecodeErrorCode.BAD_BLOCK, 'block is a byte string, expected a list');
      const { header } = decodeBlock(item);
      blocks.push({ number: header.number, hash: blockHash(header, consensus), parentHash: header.parentHash, headerFieldCount: header.fields.length, start, end });
    } catch (error) {
      if (error instanceof ChainDecodeError) {
        throw new ChainDecodeError(error.code, `block record at offset ${start}: ${error.message}`, start);
      }
      throw error;
    }
  }
  return blocks;
}

/** Reports every place where the blocks stop forming one chain; `expectedParent` is the block the first one must follow. */
export function checkChain(blocks: readonly ExportedBlock[], expectedParent?: ChainLink): ChainProblem[] {
  const problems: ChainProblem[] = [];
  let previous: ChainLink | undefined = expectedParent;
  for (const block of blocks) {
    if (previous) {
      if (block.number !== previous.number + 1) {
        problems.push({
          kind: 'NUMBER_GAP',
          blockNumber: block.number,
          message: `block ${block.number} follows block ${previous.number}; expected block ${previous.number + 1}`,
        });
      }
      if (!block.parentHash.equals(previous.hash)) {
        problems.push({
          kind: 'PARENT_MISMATCH',
          blockNumber: block.number,
          message: `block ${block.number} has parentHash ${hex(block.parentHash)}, but block ${previous.number} hashes to ${hex(previous.hash)}`,
        });
      }
    }
    previous = block;
  }
  return problems;
}
