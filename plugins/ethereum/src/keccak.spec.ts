import { createHash } from 'node:crypto';
import { keccak256, keccak256Portable, keccakEngine, keccakReady, sponge256 } from './keccak';

const hex = (s: string): string => keccak256(Buffer.from(s, 'utf8')).toString('hex');

describe('keccak256', () => {
  beforeAll(() => keccakReady());

  it('hashes the empty input to the well-known Ethereum empty hash (0x01 padding, not SHA3-256)', () => {
    expect(hex('')).toBe('c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470');
  });

  it('hashes "abc" to the published Keccak-256 vector', () => {
    expect(hex('abc')).toBe('4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45');
  });

  it('hashes the RLP of an empty list to the empty ommers hash every pre-merge header carries', () => {
    expect(keccak256(Buffer.from([0xc0])).toString('hex')).toBe('1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347');
  });

  it('runs the same permutation as node:crypto SHA3-256 for every length from 0 to 420 bytes (rate boundaries included)', () => {
    // SHA3-256 is Keccak-f[1600] at the same rate with domain byte 0x06, so this checks the permutation and
    // multi-block absorption against an independent implementation.
    const input = Buffer.from(Array.from({ length: 420 }, (_, i) => (i * 31 + 7) & 0xff));
    for (let n = 0; n <= 420; n++) {
      const slice = input.subarray(0, n);
      expect(sponge256(slice, 0x06).toString('hex')).toBe(createHash('sha3-256').update(slice).digest('hex'));
    }
  });

  it('gives on WebAssembly what the TypeScript sponge gives, for every length from 0 to 700 bytes and for 1 MiB', () => {
    expect(keccakEngine()).toBe('webassembly');
    const input = Buffer.from(Array.from({ length: 700 }, (_, i) => (i * 131 + 3) & 0xff));
    for (let n = 0; n <= 700; n++) {
      const slice = input.subarray(0, n);
      expect(keccak256(slice).toString('hex')).toBe(keccak256Portable(slice).toString('hex'));
    }
    const large = Buffer.alloc(1 << 20, 0x5a);
    expect(keccak256(large).toString('hex')).toBe(keccak256Portable(large).toString('hex'));
  });

  it('returns a digest of its own each time (a later hash does not change an earlier one)', () => {
    const first = keccak256(Buffer.from('first'));
    const copy = Buffer.from(first);
    keccak256(Buffer.from('second'));
    expect(first.equals(copy)).toBe(true);
    expect(first.length).toBe(32);
  });
});
