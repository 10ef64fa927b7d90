import { ChainDecodeError, ChainDecodeErrorCode } from './chain-decode.errors';
import { decode, decodeStream, encode, type RlpItem } from './rlp';

const b = (hex: string): Buffer => Buffer.from(hex, 'hex');

function decodeError(hex: string): ChainDecodeError {
  try {
    decode(b(hex));
  } catch (error) {
    if (error instanceof ChainDecodeError) return error;
    throw error;
  }
  throw new Error(`decoding ${hex} did not fail`);
}

describe('RLP encoding', () => {
  it.each<[string, RlpItem, string]>([
    ['the empty string', b(''), '80'],
    ['a single byte below 0x80 as itself', b('7f'), '7f'],
    ['a zero byte as itself', b('00'), '00'],
    ['a single byte 0x80 as a one-byte string', b('80'), '8180'],
    ['"dog"', Buffer.from('dog'), '83646f67'],
    ['a 55-byte string in the short form', Buffer.alloc(55, 0x61), 'b7' + '61'.repeat(55)],
    ['a 56-byte string in the long form', Buffer.alloc(56, 0x61), 'b838' + '61'.repeat(56)],
    ['a 1024-byte string with a two-byte length', Buffer.alloc(1024, 0xaa), 'b90400' + 'aa'.repeat(1024)],
    ['the empty list', [], 'c0'],
    ['["cat", "dog"]', [Buffer.from('cat'), Buffer.from('dog')], 'c88363617483646f67'],
    ['the set-theoretic three', [[], [[]], [[], [[]]]], 'c7c0c1c0c3c0c1c0'],
    ['a list with a 56-byte payload in the long form', [Buffer.alloc(55, 0x62)], 'f838b7' + '62'.repeat(55)],
  ])('encodes %s and decodes it back', (_name, item, hex) => {
    expect(encode(item).toString('hex')).toBe(hex);
    expect(decode(b(hex))).toEqual(item);
  });
});

describe('strict RLP decoding', () => {
  it.each<[string, string, ChainDecodeErrorCode, number, RegExp]>([
    ['empty input', '', ChainDecodeErrorCode.TRUNCATED, 0, /offset 0: prefix needs 1 bytes/],
    ['a string shorter than its prefix says', '83646f', ChainDecodeErrorCode.TRUNCATED, 0, /string needs 3 bytes from offset 1, but only 2 remain/],
    ['a long length cut off', 'b904', ChainDecodeErrorCode.TRUNCATED, 0, /length needs 2 bytes/],
    ['a list shorter than its prefix says', 'c88363617483646f', ChainDecodeErrorCode.TRUNCATED, 0, /list needs 8 bytes/],
    ['a single byte below 0x80 encoded as a string', '8105', ChainDecodeErrorCode.NON_CANONICAL, 0, /single byte 0x05 encoded as a string/],
    ['a long-form string length of 55 or less', 'b803616263', ChainDecodeErrorCode.NON_CANONICAL, 0, /long form used for a length of 3/],
    ['a long-form list length of 55 or less', 'f80180', ChainDecodeErrorCode.NON_CANONICAL, 0, /long form used for a length of 1/],
    ['a length with a leading zero', 'b90038' + '61'.repeat(56), ChainDecodeErrorCode.NON_CANONICAL, 0, /leading zero/],
    ['a nested non-canonical item, at its own offset', 'c28105', ChainDecodeErrorCode.NON_CANONICAL, 1, /offset 1: single byte 0x05/],
    ['an item that runs past its enclosing list', 'c28363617400', ChainDecodeErrorCode.ITEM_OVERRUNS_LIST, 1, /enclosing list ends at offset 3/],
    ['trailing bytes after the item', '83646f6700', ChainDecodeErrorCode.TRAILING_BYTES, 4, /1 trailing byte\(s\) after the item ending at offset 4/],
  ])('rejects %s', (_name, hex, code, offset, message) => {
    const error = decodeError(hex);
    expect(error.code).toBe(code);
    expect(error.offset).toBe(offset);
    expect(error.message).toMatch(message);
  });
});

describe('decodeStream', () => {
  it('returns each concatenated item with its byte range', () => {
    const stream = Buffer.concat([encode([Buffer.from('cat')]), encode(Buffer.from('dog')), encode(b('01'))]);
    expect([...decodeStream(stream)]).toEqual([
      { item: [Buffer.from('cat')], start: 0, end: 5 },
      { item: Buffer.from('dog'), start: 5, end: 9 },
      { item: b('01'), start: 9, end: 10 },
    ]);
  });

  it('yields nothing for an empty file', () => {
    expect([...decodeStream(Buffer.alloc(0))]).toEqual([]);
  });

  it('fails on a truncated last item, naming where that item starts', () => {
    const stream = Buffer.concat([encode([Buffer.from('cat')]), encode(Buffer.from('dog')).subarray(0, 3)]);
    const items = decodeStream(stream);
    expect(items.next().value).toEqual({ item: [Buffer.from('cat')], start: 0, end: 5 });
    expect(() => items.next()).toThrow(/RLP item at offset 5: string needs 3 bytes from offset 6, but only 2 remain/);
  });
});
