import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeBlock, headerField, type ConsensusKind } from './block';
import { ChainDecodeError, ChainDecodeErrorCode } from './chain-decode.errors';
import { checkChain, readRlpBlocks } from './rlp-file';

// The shared, upstream-sourced fixtures are read in place (see fixtures/README.md §1 and §5).
const FIXTURES = join(__dirname, '..', '..', '..', '..', 'shared', 'fixtures');

interface IndexRow {
  number: number;
  hash: string;
  parentHash: string;
  byteOffset: number;
  byteLength: number;
  headerFields: number;
}

function readIndex(file: string): IndexRow[] {
  const [, ...rows] = readFileSync(join(FIXTURES, 'derived', 'ethereum', `${file}.index.csv`), 'utf8').trim().split('\n');
  return rows.map((row) => {
    const [number, hash, parentHash, byteOffset, byteLength, headerFields] = row.split(',');
    return { number: Number(number), hash, parentHash, byteOffset: Number(byteOffset), byteLength: Number(byteLength), headerFields: Number(headerFields) };
  });
}

const fixture = (file: string): Buffer => readFileSync(join(FIXTURES, 'ethereum', file));
const hex = (bytes: Buffer): string => `0x${bytes.toString('hex')}`;

describe.each<[string, ConsensusKind, number, string, string]>([
  ['geth-devp2p-prague/chain.rlp', 'pos', 600, '0x728bf4239628d65246678bb48fbf2548facfdbe47486e28e87ca1b77a86574e8', '0x44e3809c9a3cda717f00aea3a9da336d149612c8d5657fbc0028176ef8d94d2a'],
  ['besu-mainnet-0-999/1000.blocks', 'ethash', 1000, '0xd4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3', '0xc31b362e591aa07faa977dbc492ae43cd47eef291920435153bbbf3acaf2fc2f'],
  ['besu-ibft-quorum/ibft.blocks', 'istanbul', 101, '0xac6d4694b39ddb55667c3fedb0cbbaf364b59be57f718e5eaa3ad2d6e76ed9d2', '0x66c50338a9ec939a3219a80b3b5e7d51c154507d5748f08dbda9422520bb3251'],
  ['besu-clique/clique.blocks', 'clique', 5, '0x815c2ed5f07175936649d2cd8a3e09eb8037c6528be07b9241f48343e97e763c', '0xae48cf1ec1ba9ca96eb32fdac8b00ee22880e508fdb2aac93774b43a701aec1c'],
  ['besu-snap-multifork/testBlockchain.blocks', 'ethash', 501, '0x3d35e0b689cdd20720592d9a4d0d208de0612ebcb46e391141501e7d55d55b42', '0x36a166f0dcd160fc5e5c61c9a7c2d7f236d9175bf27f43aaa2150e291f092ef7'],
])('%s (%s)', (file, consensus, count, firstHash, lastHash) => {
  const blocks = readRlpBlocks(fixture(file), consensus);
  const index = readIndex(file);

  it(`holds ${count} blocks, first ${firstHash.slice(0, 10)}…, last ${lastHash.slice(0, 10)}…`, () => {
    expect(blocks).toHaveLength(count);
    expect(hex(blocks[0].hash)).toBe(firstHash);
    expect(hex(blocks[count - 1].hash)).toBe(lastHash);
  });

  it('gives every block the number, hash, parent hash, byte range and header layout of the derived index', () => {
    expect(index).toHaveLength(count);
    const actual = blocks.map((block) => ({
      number: block.number,
      hash: hex(block.hash),
      parentHash: hex(block.parentHash),
      byteOffset: block.start,
      byteLength: block.end - block.start,
      headerFields: block.headerFieldCount,
    }));
    expect(actual).toEqual(index);
  });

  it('forms one unbroken chain', () => {
    expect(checkChain(blocks)).toEqual([]);
    expect(checkChain(blocks.slice(1), { number: blocks[0].number, hash: blocks[0].hash })).toEqual([]);
  });
});

describe('damaged export files', () => {
  const original = fixture('geth-devp2p-prague/chain.rlp');
  const pristine = readRlpBlocks(original, 'pos');
  const target = pristine.find((block) => block.number === 300)!;

  it('a byte flipped in a header changes that block hash, and checkChain reports the break at the next block', () => {
    const stateRoot = headerField(decodeBlock(original.subarray(target.start, target.end)).header, 'stateRoot')!;
    const damaged = Buffer.from(original);
    damaged[original.indexOf(stateRoot, target.start) + 5] ^= 0x01;

    const blocks = readRlpBlocks(damaged, 'pos');
    const changed = blocks.filter((block, i) => !block.hash.equals(pristine[i].hash)).map((block) => block.number);
    expect(changed).toEqual([300]);

    const problems = checkChain(blocks);
    expect(problems).toEqual([
      {
        kind: 'PARENT_MISMATCH',
        blockNumber: 301,
        message: `block 301 has parentHash ${hex(pristine[299].hash)}, but block 300 hashes to ${hex(blocks[299].hash)}`,
      },
    ]);
  });

  it('a missing block is reported as a gap and a broken parent link at the block after it', () => {
    const withoutBlock300 = Buffer.concat([original.subarray(0, target.start), original.subarray(target.end)]);
    const problems = checkChain(readRlpBlocks(withoutBlock300, 'pos'));
    expect(problems.map((p) => [p.kind, p.blockNumber])).toEqual([
      ['NUMBER_GAP', 301],
      ['PARENT_MISMATCH', 301],
    ]);
    expect(problems[0].message).toBe('block 301 follows block 299; expected block 300');
  });

  it('an export that does not continue from the expected parent is reported at its first block', () => {
    const problems = checkChain(pristine.slice(300), { number: 299, hash: pristine[298].hash });
    expect(problems.map((p) => [p.kind, p.blockNumber])).toEqual([
      ['NUMBER_GAP', 301],
      ['PARENT_MISMATCH', 301],
    ]);
  });

  it('a truncated file fails with an error naming the offset of the cut block', () => {
    const truncated = original.subarray(0, target.start + 100);
    let error: unknown;
    try {
      readRlpBlocks(truncated, 'pos');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ChainDecodeError);
    expect((error as ChainDecodeError).code).toBe(ChainDecodeErrorCode.TRUNCATED);
    expect((error as ChainDecodeError).offset).toBe(target.start);
    expect((error as ChainDecodeError).message).toContain(`RLP item at offset ${target.start}:`);
    expect((error as ChainDecodeError).message).toContain('only 97 remain in the input');
  });
});
