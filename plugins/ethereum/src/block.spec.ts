import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { blockHash, decodeBlock, headerField, HEADER_FIELD_NAMES } from './block';
import { ChainDecodeErrorCode } from './chain-decode.errors';
import { keccak256 } from './keccak';
import { decodeStream, encode, type RlpItem } from './rlp';

const FIXTURES = join(__dirname, '..', '..', '..', '..', 'shared', 'fixtures');
const blocksOf = (file: string): Buffer[] =>
  [...decodeStream(readFileSync(join(FIXTURES, 'ethereum', file)))].map(({ item }) => encode(item));

describe('decodeBlock', () => {
  it('names the header fields of every fork layout in the Prague chain (Shanghai 17, Cancun 20, Prague 21)', () => {
    const blocks = blocksOf('geth-devp2p-prague/chain.rlp').map((raw) => decodeBlock(raw));
    expect(blocks.slice(0, 13).map((b) => [b.header.number, b.header.fields.length, b.header.layout])).toEqual([
      ...[1, 2, 3, 4, 5].map((n) => [n, 17, 'shanghai']),
      ...[6, 7, 8, 9, 10, 11].map((n) => [n, 20, 'cancun']),
      [12, 21, 'prague'],
      [13, 21, 'prague'],
    ]);
    // Prague requestsHash for empty requests is sha256("").
    expect(headerField(blocks[11].header, 'requestsHash')!.toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(headerField(blocks[11].header, 'timestamp')!.readUIntBE(0, headerField(blocks[11].header, 'timestamp')!.length)).toBe(120);
    expect(blocks.every((b) => b.withdrawals !== undefined)).toBe(true);
  });

  it('decodes pre-London mainnet blocks with 15 fields, no withdrawals, and their ommers', () => {
    const blocks = blocksOf('besu-mainnet-0-999/1000.blocks').map((raw) => decodeBlock(raw));
    expect(blocks[0].header.number).toBe(0);
    expect(blocks[0].header.fields).toHaveLength(15);
    expect(blocks[0].withdrawals).toBeUndefined();
    expect(blocks.reduce((sum, b) => sum + b.ommers.length, 0)).toBe(293);
  });

  it('reads the 22-field provisional Amsterdam header', () => {
    const [first] = blocksOf('besu-amsterdam-devnet/blocks.bin').map((raw) => decodeBlock(raw));
    expect(first.header.layout).toBe('amsterdam');
    expect(HEADER_FIELD_NAMES[first.header.fields.length - 1]).toBe('blockAccessListHash');
    expect(blockHash(first.header, 'pos').toString('hex')).toBe('562a49ce1f5c9513eeec4ca580579b90ba91edd77fc96b0e4c8c7d1d75c8c221');
  });

  it('keeps the fields a fork newer than Amsterdam appends, and hashes them with the rest', () => {
    const [last] = blocksOf('besu-amsterdam-devnet/blocks.bin').map((raw) => decodeBlock(raw)).slice(-1);
    const fields = [...last.header.fields, Buffer.from('future field')];
    const block = decodeBlock(encode([fields, last.transactions, last.ommers, ...(last.withdrawals ? [last.withdrawals] : [])]));
    expect(block.header.layout).toBe('amsterdam+1');
    expect(block.header.fields).toHaveLength(23);
    expect(blockHash(block.header, 'pos').equals(blockHash(last.header, 'pos'))).toBe(false);
  });

  it.each<[string, RlpItem, RegExp]>([
    ['a block that is not a list', Buffer.from('x'), /byte string/],
    ['a block with two elements', [[], []], /a list of 2 elements/],
    ['a header with 18 fields', [Array.from({ length: 18 }, () => Buffer.alloc(32)), [], []], /18 fields/],
    ['a block number with a leading zero', [[...Array.from({ length: 8 }, () => Buffer.alloc(32)), Buffer.from([0, 1]), ...Array.from({ length: 6 }, () => Buffer.alloc(1, 1))], [], []], /leading zero/],
  ])('rejects %s', (_name, item, message) => {
    expect(() => decodeBlock(encode(item))).toThrow(expect.objectContaining({ code: ChainDecodeErrorCode.BAD_BLOCK, message: expect.stringMatching(message) }));
  });
});

describe('blockHash under BFT consensus', () => {
  const [, ibftBlock1] = blocksOf('besu-ibft-quorum/ibft.blocks').map((raw) => decodeBlock(raw));

  it('hashes an istanbul (IBFT 1.0) header without its committed seals, unlike keccak(rlp(header))', () => {
    const plain = blockHash(ibftBlock1.header, 'ethash');
    expect(blockHash(ibftBlock1.header, 'istanbul').toString('hex')).toBe('4cc6b3bc7bef79494c38288b450622d5a74d6aa0ca884912d321565363e32de7');
    expect(plain.toString('hex')).not.toBe('4cc6b3bc7bef79494c38288b450622d5a74d6aa0ca884912d321565363e32de7');
  });

  it('rejects istanbul hashing of a header whose extraData is not istanbul extra data', () => {
    const [, pragueBlock] = blocksOf('geth-devp2p-prague/chain.rlp').map((raw) => decodeBlock(raw));
    expect(() => blockHash(pragueBlock.header, 'istanbul')).toThrow(/block 2: extraData is not istanbul extra data/);
  });

  it('hashes an IBFT 2.0 / QBFT header without the round and committed seals', () => {
    const vanity = Buffer.alloc(32, 0x11);
    const validators = [Buffer.alloc(20, 0xaa), Buffer.alloc(20, 0xbb)];
    const sealed = encode([vanity, validators, [], Buffer.from([0, 0, 0, 2]), [Buffer.alloc(65, 0x01), Buffer.alloc(65, 0x02)]]);
    const unsealed = encode([vanity, validators, []]);
    const fields = ibftBlock1.header.fields.slice();
    const withExtra = (extraData: Buffer) => {
      const copy = fields.slice();
      copy[HEADER_FIELD_NAMES.indexOf('extraData')] = extraData;
      return { ...ibftBlock1.header, fields: copy };
    };
    const expected = keccak256(encode(withExtra(unsealed).fields));
    expect(blockHash(withExtra(sealed), 'ibft2')).toEqual(expected);
    expect(blockHash(withExtra(sealed), 'qbft')).toEqual(expected);
    // A different set of committed seals or round must not change the hash; a different validator set must.
    const resealed = encode([vanity, validators, [], Buffer.from([0, 0, 0, 7]), [Buffer.alloc(65, 0x03)]]);
    expect(blockHash(withExtra(resealed), 'ibft2')).toEqual(expected);
    const otherValidators = encode([vanity, [validators[0]], [], Buffer.from([0, 0, 0, 2]), []]);
    expect(blockHash(withExtra(otherValidators), 'ibft2')).not.toEqual(expected);
    expect(() => blockHash(withExtra(encode([vanity, validators])), 'qbft')).toThrow(/not IBFT 2.0\/QBFT extra data/);
  });
});
