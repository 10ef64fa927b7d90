// Test support: the shared, upstream-sourced chain fixtures, read in place (see fixtures/README.md §1 and §5).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeBlock, type EthereumBlock } from '../block';
import { decodeStream } from '../rlp';

export const FIXTURES = join(__dirname, '..', '..', '..', '..', '..', 'shared', 'fixtures');

export { hex } from '../hex';

/** One block of an RLP export file: its exact bytes, and decoded. */
export interface FixtureBlock {
  bytes: Buffer;
  block: EthereumBlock;
}

/** Every block of an export file under fixtures/ethereum. */
export function readChain(file: string): FixtureBlock[] {
  const buffer = readFileSync(join(FIXTURES, 'ethereum', file));
  return [...decodeStream(buffer)].map(({ start, end }) => {
    const bytes = buffer.subarray(start, end);
    return { bytes, block: decodeBlock(bytes) };
  });
}
