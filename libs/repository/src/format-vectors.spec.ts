/**
 * The test vectors in README.md, recomputed from the code. The vectors are read from the README
 * itself, so a change to the format's code or to its description shows here.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContentChunker, DEFAULT_CHUNK_SIZES, GEAR, chunkMasks, type ChunkSizes } from './content-chunker';
import { blobId, deriveKey, unseal } from './crypto';
import { newPackId, packIdOf, packKey, packObject, readPackHeader, type ObjectSealing, type PackBlob } from './pack-format';

const README = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');

/** The JSON block under `<!-- format-vector: name -->` in the README. */
function vector<T>(name: string): T {
  const match = new RegExp(`<!-- format-vector: ${name} -->\\s*\`\`\`json\\n([\\s\\S]*?)\`\`\``).exec(README);
  if (!match) throw new Error(`README.md has no format vector "${name}"`);
  return JSON.parse(match[1]) as T;
}

/** The vector files' content: SHA-256 of `chainvault-vector:<i>` for i = 0, 1, …, cut to `bytes`. */
function vectorFile(bytes: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 0; i * 32 < bytes; i += 1) blocks.push(createHash('sha256').update(`chainvault-vector:${i}`).digest());
  return Buffer.concat(blocks).subarray(0, bytes);
}

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');
const word = (w: number) => `0x${w.toString(16).padStart(8, '0')}`;
const plain: ObjectSealing = { close: (b) => b, open: (b) => b };

/** [offset, length, id] of each chunk, feeding the chunker `piece` bytes at a time. */
function cut(data: Buffer, sizes: ChunkSizes, piece: number): [number, number, string][] {
  const chunker = new ContentChunker(sizes);
  const chunks: Buffer[] = [];
  for (let at = 0; at < data.length; at += piece) chunks.push(...chunker.push(data.subarray(at, at + piece)));
  chunks.push(...chunker.end());
  let offset = 0;
  return chunks.map((chunk) => {
    const row: [number, number, string] = [offset, chunk.length, blobId(chunk, null)];
    offset += chunk.length;
    return row;
  });
}

interface ChunkVector {
  bytes: number;
  sizes: ChunkSizes;
  sha256: string;
  chunks: [number, number, string][];
}

describe('the format vectors in README.md', () => {
  it('gear-table: the gear table derived from its seed', () => {
    const table = Buffer.alloc(1024);
    GEAR.forEach((w, i) => table.writeUInt32BE(w, i * 4));
    expect({ first: [...GEAR.slice(0, 8)].map(word), last: word(GEAR[255]), sha256: sha256(table) }).toEqual(vector('gear-table'));
  });

  it('masks: the strict and loose masks of each chunk size', () => {
    const expected = vector<(ChunkSizes & { strict: string; loose: string })[]>('masks');
    expect(expected[0]).toMatchObject(DEFAULT_CHUNK_SIZES);
    for (const row of expected) {
      const masks = chunkMasks(row);
      expect({ ...row, strict: word(masks.strict), loose: word(masks.loose) }).toEqual(row);
    }
  });

  it.each(['chunks-small', 'chunks-default'])('%s: a file, its chunk boundaries and ids, however it is read', (name) => {
    const expected = vector<ChunkVector>(name);
    const data = vectorFile(expected.bytes);
    expect(sha256(data)).toBe(expected.sha256);
    expect(cut(data, expected.sizes, data.length)).toEqual(expected.chunks);
    // Boundaries depend on the bytes only, not on the pieces they arrive in.
    expect(cut(data, expected.sizes, 4093)).toEqual(expected.chunks);
    expect(expected.chunks.reduce((n, [, length]) => n + length, 0)).toBe(expected.bytes);
  });

  it('the README\'s description of chunking, written out on its own, cuts the vector files the same way', () => {
    // Follows README.md, "Chunks", step by step, sharing no code with content-chunker.ts.
    const gear: number[] = [];
    for (let i = 0; i < 256; i += 8) {
      const block = createHash('sha256').update(`chainvault-cdc-v1:${i}`).digest();
      for (let j = 0; j < 8; j += 1) gear.push(block.readUInt32BE(j * 4));
    }
    const mask = (n: number) => Number((0xffffffffn << BigInt(32 - n)) & 0xffffffffn);
    for (const name of ['chunks-small', 'chunks-default']) {
      const { bytes, sizes, chunks } = vector<ChunkVector>(name);
      const data = vectorFile(bytes);
      const bits = Math.round(Math.log2(sizes.avg));
      const [strict, loose] = [mask(bits + 2), mask(bits - 2)];
      const lengths: number[] = [];
      for (let start = 0; start < data.length; ) {
        let length = Math.min(sizes.max, data.length - start);
        let h = 0;
        for (let k = sizes.min; k < sizes.max && start + k < data.length; k += 1) {
          h = ((h << 1) + gear[data[start + k]]) >>> 0;
          if ((h & (k < sizes.avg ? strict : loose)) >>> 0 === 0) {
            length = k + 1;
            break;
          }
        }
        lengths.push(length);
        start += length;
      }
      expect(lengths).toEqual(chunks.map(([, length]) => length));
    }
  });

  it('encrypted-chunk-id: a chunk id under an id key', () => {
    const expected = vector<{ idKey: string; plaintext: string; id: string }>('encrypted-chunk-id');
    const idKey = Buffer.from(expected.idKey, 'hex');
    expect(blobId(Buffer.from(expected.plaintext), { id: idKey, data: Buffer.alloc(32) })).toBe(expected.id);
  });

  it('passphrase-key: the key derived from a passphrase, the same for its NFC and NFD spellings', async () => {
    const expected = vector<{ passphraseNfcUtf8Hex: string; passphraseNfdUtf8Hex: string; kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string }; key: string }>('passphrase-key');
    const nfc = Buffer.from(expected.passphraseNfcUtf8Hex, 'hex').toString('utf8');
    const nfd = Buffer.from(expected.passphraseNfdUtf8Hex, 'hex').toString('utf8');
    expect(nfc).not.toBe(nfd);
    expect((await deriveKey(nfc, expected.kdf)).toString('hex')).toBe(expected.key);
    expect((await deriveKey(nfd, expected.kdf)).toString('hex')).toBe(expected.key);
  });

  it('pack: a whole pack, its header and its key', () => {
    const expected = vector<{ blobs: string[]; id: string; key: string; header: string; hex: string }>('pack');
    const parts = expected.blobs.map((b) => Buffer.from(b));
    let offset = 0;
    const blobs: PackBlob[] = parts.map((part) => {
      const blob: PackBlob = { id: blobId(part, null), offset, length: part.length, rawLength: part.length, encoding: 'raw' };
      offset += part.length;
      return blob;
    });
    const pack = Buffer.concat(packObject(parts, blobs, plain));
    expect(pack.toString('hex')).toBe(expected.hex);
    expect(readPackHeader(pack, 'the vector pack', plain)).toEqual(JSON.parse(expected.header).blobs);
    expect(pack.subarray(offset, pack.length - 4).toString('utf8')).toBe(expected.header);
    expect(pack.readUInt32LE(pack.length - 4)).toBe(Buffer.byteLength(expected.header));
    expect(packKey(expected.id)).toBe(expected.key);
    expect(packIdOf(expected.key)).toBe(expected.id);
    expect(newPackId()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('sealed-header: a sealed object opens to its plaintext under the data key', () => {
    const expected = vector<{ dataKey: string; plaintext: string; sealed: string }>('sealed-header');
    const sealed = Buffer.from(expected.sealed, 'hex');
    expect(unseal(Buffer.from(expected.dataKey, 'hex'), sealed, 'the vector header').toString('utf8')).toBe(expected.plaintext);
    expect(expected.plaintext).toBe(vector<{ header: string }>('pack').header);
    sealed[20] ^= 1;
    expect(() => unseal(Buffer.from(expected.dataKey, 'hex'), sealed, 'the vector header')).toThrow(/fails authentication/);
  });
});
