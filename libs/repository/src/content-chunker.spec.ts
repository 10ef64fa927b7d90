import { createHash, randomBytes } from 'node:crypto';
import { ContentChunker, DEFAULT_CHUNK_SIZES, checkChunkSizes, type ChunkSizes } from './content-chunker';

const small: ChunkSizes = { min: 2 * 1024, avg: 8 * 1024, max: 64 * 1024 };

function chunk(data: Buffer, sizes: ChunkSizes, pieceSize = data.length): Buffer[] {
  const chunker = new ContentChunker(sizes);
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += pieceSize) chunks.push(...chunker.push(data.subarray(i, i + pieceSize)));
  return [...chunks, ...chunker.end()];
}

const ids = (chunks: Buffer[]) => chunks.map((c) => createHash('sha256').update(c).digest('hex'));

describe('content-defined chunking', () => {
  const data = randomBytes(2 * 1024 * 1024);

  it('reassembles to the input, with every chunk but the last within min and max', () => {
    const chunks = chunk(data, small);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    for (const c of chunks.slice(0, -1)) {
      expect(c.length).toBeGreaterThanOrEqual(small.min);
      expect(c.length).toBeLessThanOrEqual(small.max);
    }
    const average = data.length / chunks.length;
    expect(average).toBeGreaterThan(small.avg / 2);
    expect(average).toBeLessThan(small.avg * 2);
  });

  it('cuts at the same places however the stream is split into reads', () => {
    const whole = ids(chunk(data, small));
    expect(ids(chunk(data, small, 1000))).toEqual(whole);
    expect(ids(chunk(data, small, 65536 + 7))).toEqual(whole);
    const head = data.subarray(0, 200 * 1024);
    expect(ids(chunk(head, small, 1))).toEqual(ids(chunk(head, small)));
  });

  it('after an insertion in the middle, keeps all chunks but the ones around it', () => {
    const middle = data.length / 2;
    const edited = Buffer.concat([data.subarray(0, middle), Buffer.from('a hundred and some inserted bytes '.repeat(4)), data.subarray(middle)]);
    const before = new Set(ids(chunk(data, small)));
    const after = ids(chunk(edited, small));
    const changed = after.filter((id) => !before.has(id));
    expect(changed.length).toBeGreaterThanOrEqual(1);
    expect(changed.length).toBeLessThanOrEqual(3);
  });

  it('after an append, keeps every chunk but the last', () => {
    const before = ids(chunk(data, small));
    const after = ids(chunk(Buffer.concat([data, randomBytes(50_000)]), small));
    expect(after.slice(0, before.length - 1)).toEqual(before.slice(0, -1));
  });

  it('cuts data without any content cut point at max', () => {
    const zeros = Buffer.alloc(300 * 1024);
    const chunks = chunk(zeros, small);
    expect(chunks.slice(0, -1).every((c) => c.length === small.max || c.length >= small.min)).toBe(true);
    expect(Buffer.concat(chunks).equals(zeros)).toBe(true);
  });

  it('returns nothing for an empty stream, and one chunk for one shorter than min', () => {
    expect(chunk(Buffer.alloc(0), small)).toEqual([]);
    const tiny = randomBytes(100);
    expect(chunk(tiny, small)).toEqual([tiny]);
  });

  it('uses sizes around 1 MiB by default and refuses impossible sizes', () => {
    expect(DEFAULT_CHUNK_SIZES.avg).toBe(1024 * 1024);
    expect(() => checkChunkSizes({ min: 10, avg: 8, max: 20 })).toThrow(/min < avg < max/);
  });
});
