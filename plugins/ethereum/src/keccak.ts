// Keccak-256 as Ethereum uses it (the original Keccak padding 0x01, not NIST SHA3's 0x06).
// Two implementations: hash-wasm's WebAssembly one, 4× faster than this file's on a header's
// 500 bytes (10 -> 2.4 µs), used once it is loaded; and the one below in plain TypeScript, used
// until then and as the independent check the tests compare the WebAssembly one with.
import { createKeccak, type IHasher } from 'hash-wasm';

const RATE_BYTES = 136; // 1600-bit state minus 2 × 256-bit capacity

// Round constants from the spec's LFSR, so no 24-entry table has to be trusted by eye.
const ROUND_CONSTANTS: Uint32Array = (() => {
  const lfsrBit = (t: number): number => {
    let r = 1;
    for (let i = 0; i < t % 255; i++) {
      r <<= 1;
      if (r & 0x100) r ^= 0x171;
    }
    return r & 1;
  };
  const constants = new Uint32Array(48); // [lo, hi] per round
  for (let round = 0; round < 24; round++) {
    for (let j = 0; j <= 6; j++) {
      if (!lfsrBit(j + 7 * round)) continue;
      const bit = (1 << j) - 1;
      if (bit < 32) constants[2 * round] ^= 1 << bit;
      else constants[2 * round + 1] ^= 1 << (bit - 32);
    }
  }
  return constants;
})();

// Lanes are 64-bit words held as (lo, hi) pairs of 32-bit halves: s[2i] = lo, s[2i + 1] = hi. Each round is
// unrolled (θ, then ρ and π together, then χ and ι) over local variables, which V8 keeps in registers: several
// times faster than the same steps written as loops. (Keeping the whole state in locals across rounds was slower.)
// The ρ offsets, by lane x + 5y, are 0 1 62 28 27 36 44 6 55 20 3 10 43 25 39 41 45 15 21 8 18 2 61 56 14; the tests
// compare the result with node:crypto's SHA3-256, which shares this permutation.
function keccakF1600(s: Uint32Array): void {
  for (let round = 0; round < 48; round += 2) {
    // θ: each lane absorbs the parities of two neighbouring columns.
    const c0l = s[0] ^ s[10] ^ s[20] ^ s[30] ^ s[40];
    const c0h = s[1] ^ s[11] ^ s[21] ^ s[31] ^ s[41];
    const c1l = s[2] ^ s[12] ^ s[22] ^ s[32] ^ s[42];
    const c1h = s[3] ^ s[13] ^ s[23] ^ s[33] ^ s[43];
    const c2l = s[4] ^ s[14] ^ s[24] ^ s[34] ^ s[44];
    const c2h = s[5] ^ s[15] ^ s[25] ^ s[35] ^ s[45];
    const c3l = s[6] ^ s[16] ^ s[26] ^ s[36] ^ s[46];
    const c3h = s[7] ^ s[17] ^ s[27] ^ s[37] ^ s[47];
    const c4l = s[8] ^ s[18] ^ s[28] ^ s[38] ^ s[48];
    const c4h = s[9] ^ s[19] ^ s[29] ^ s[39] ^ s[49];
    const d0l = c4l ^ ((c1l << 1) | (c1h >>> 31));
    const d0h = c4h ^ ((c1h << 1) | (c1l >>> 31));
    const d1l = c0l ^ ((c2l << 1) | (c2h >>> 31));
    const d1h = c0h ^ ((c2h << 1) | (c2l >>> 31));
    const d2l = c1l ^ ((c3l << 1) | (c3h >>> 31));
    const d2h = c1h ^ ((c3h << 1) | (c3l >>> 31));
    const d3l = c2l ^ ((c4l << 1) | (c4h >>> 31));
    const d3h = c2h ^ ((c4h << 1) | (c4l >>> 31));
    const d4l = c3l ^ ((c0l << 1) | (c0h >>> 31));
    const d4h = c3h ^ ((c0h << 1) | (c0l >>> 31));
    // ρ and π: rotate each lane by its offset and move it to its new place.
    const a0l = s[0] ^ d0l;
    const a0h = s[1] ^ d0h;
    const b0l = a0l;
    const b0h = a0h;
    const a5l = s[10] ^ d0l;
    const a5h = s[11] ^ d0h;
    const b16l = (a5h << 4) | (a5l >>> 28);
    const b16h = (a5l << 4) | (a5h >>> 28);
    const a10l = s[20] ^ d0l;
    const a10h = s[21] ^ d0h;
    const b7l = (a10l << 3) | (a10h >>> 29);
    const b7h = (a10h << 3) | (a10l >>> 29);
    const a15l = s[30] ^ d0l;
    const a15h = s[31] ^ d0h;
    const b23l = (a15h << 9) | (a15l >>> 23);
    const b23h = (a15l << 9) | (a15h >>> 23);
    const a20l = s[40] ^ d0l;
    const a20h = s[41] ^ d0h;
    const b14l = (a20l << 18) | (a20h >>> 14);
    const b14h = (a20h << 18) | (a20l >>> 14);
    const a1l = s[2] ^ d1l;
    const a1h = s[3] ^ d1h;
    const b10l = (a1l << 1) | (a1h >>> 31);
    const b10h = (a1h << 1) | (a1l >>> 31);
    const a6l = s[12] ^ d1l;
    const a6h = s[13] ^ d1h;
    const b1l = (a6h << 12) | (a6l >>> 20);
    const b1h = (a6l << 12) | (a6h >>> 20);
    const a11l = s[22] ^ d1l;
    const a11h = s[23] ^ d1h;
    const b17l = (a11l << 10) | (a11h >>> 22);
    const b17h = (a11h << 10) | (a11l >>> 22);
    const a16l = s[32] ^ d1l;
    const a16h = s[33] ^ d1h;
    const b8l = (a16h << 13) | (a16l >>> 19);
    const b8h = (a16l << 13) | (a16h >>> 19);
    const a21l = s[42] ^ d1l;
    const a21h = s[43] ^ d1h;
    const b24l = (a21l << 2) | (a21h >>> 30);
    const b24h = (a21h << 2) | (a21l >>> 30);
    const a2l = s[4] ^ d2l;
    const a2h = s[5] ^ d2h;
    const b20l = (a2h << 30) | (a2l >>> 2);
    const b20h = (a2l << 30) | (a2h >>> 2);
    const a7l = s[14] ^ d2l;
    const a7h = s[15] ^ d2h;
    const b11l = (a7l << 6) | (a7h >>> 26);
    const b11h = (a7h << 6) | (a7l >>> 26);
    const a12l = s[24] ^ d2l;
    const a12h = s[25] ^ d2h;
    const b2l = (a12h << 11) | (a12l >>> 21);
    const b2h = (a12l << 11) | (a12h >>> 21);
    const a17l = s[34] ^ d2l;
    const a17h = s[35] ^ d2h;
    const b18l = (a17l << 15) | (a17h >>> 17);
    const b18h = (a17h << 15) | (a17l >>> 17);
    const a22l = s[44] ^ d2l;
    const a22h = s[45] ^ d2h;
    const b9l = (a22h << 29) | (a22l >>> 3);
    const b9h = (a22l << 29) | (a22h >>> 3);
    const a3l = s[6] ^ d3l;
    const a3h = s[7] ^ d3h;
    const b5l = (a3l << 28) | (a3h >>> 4);
    const b5h = (a3h << 28) | (a3l >>> 4);
    const a8l = s[16] ^ d3l;
    const a8h = s[17] ^ d3h;
    const b21l = (a8h << 23) | (a8l >>> 9);
    const b21h = (a8l << 23) | (a8h >>> 9);
    const a13l = s[26] ^ d3l;
    const a13h = s[27] ^ d3h;
    const b12l = (a13l << 25) | (a13h >>> 7);
    const b12h = (a13h << 25) | (a13l >>> 7);
    const a18l = s[36] ^ d3l;
    const a18h = s[37] ^ d3h;
    const b3l = (a18l << 21) | (a18h >>> 11);
    const b3h = (a18h << 21) | (a18l >>> 11);
    const a23l = s[46] ^ d3l;
    const a23h = s[47] ^ d3h;
    const b19l = (a23h << 24) | (a23l >>> 8);
    const b19h = (a23l << 24) | (a23h >>> 8);
    const a4l = s[8] ^ d4l;
    const a4h = s[9] ^ d4h;
    const b15l = (a4l << 27) | (a4h >>> 5);
    const b15h = (a4h << 27) | (a4l >>> 5);
    const a9l = s[18] ^ d4l;
    const a9h = s[19] ^ d4h;
    const b6l = (a9l << 20) | (a9h >>> 12);
    const b6h = (a9h << 20) | (a9l >>> 12);
    const a14l = s[28] ^ d4l;
    const a14h = s[29] ^ d4h;
    const b22l = (a14h << 7) | (a14l >>> 25);
    const b22h = (a14l << 7) | (a14h >>> 25);
    const a19l = s[38] ^ d4l;
    const a19h = s[39] ^ d4h;
    const b13l = (a19l << 8) | (a19h >>> 24);
    const b13h = (a19h << 8) | (a19l >>> 24);
    const a24l = s[48] ^ d4l;
    const a24h = s[49] ^ d4h;
    const b4l = (a24l << 14) | (a24h >>> 18);
    const b4h = (a24h << 14) | (a24l >>> 18);
    // χ: each bit is flipped where the next lane's bit is 0 and the one after's is 1; ι on the first lane.
    s[0] = b0l ^ (~b1l & b2l) ^ ROUND_CONSTANTS[round];
    s[1] = b0h ^ (~b1h & b2h) ^ ROUND_CONSTANTS[round + 1];
    s[2] = b1l ^ (~b2l & b3l);
    s[3] = b1h ^ (~b2h & b3h);
    s[4] = b2l ^ (~b3l & b4l);
    s[5] = b2h ^ (~b3h & b4h);
    s[6] = b3l ^ (~b4l & b0l);
    s[7] = b3h ^ (~b4h & b0h);
    s[8] = b4l ^ (~b0l & b1l);
    s[9] = b4h ^ (~b0h & b1h);
    s[10] = b5l ^ (~b6l & b7l);
    s[11] = b5h ^ (~b6h & b7h);
    s[12] = b6l ^ (~b7l & b8l);
    s[13] = b6h ^ (~b7h & b8h);
    s[14] = b7l ^ (~b8l & b9l);
    s[15] = b7h ^ (~b8h & b9h);
    s[16] = b8l ^ (~b9l & b5l);
    s[17] = b8h ^ (~b9h & b5h);
    s[18] = b9l ^ (~b5l & b6l);
    s[19] = b9h ^ (~b5h & b6h);
    s[20] = b10l ^ (~b11l & b12l);
    s[21] = b10h ^ (~b11h & b12h);
    s[22] = b11l ^ (~b12l & b13l);
    s[23] = b11h ^ (~b12h & b13h);
    s[24] = b12l ^ (~b13l & b14l);
    s[25] = b12h ^ (~b13h & b14h);
    s[26] = b13l ^ (~b14l & b10l);
    s[27] = b13h ^ (~b14h & b10h);
    s[28] = b14l ^ (~b10l & b11l);
    s[29] = b14h ^ (~b10h & b11h);
    s[30] = b15l ^ (~b16l & b17l);
    s[31] = b15h ^ (~b16h & b17h);
    s[32] = b16l ^ (~b17l & b18l);
    s[33] = b16h ^ (~b17h & b18h);
    s[34] = b17l ^ (~b18l & b19l);
    s[35] = b17h ^ (~b18h & b19h);
    s[36] = b18l ^ (~b19l & b15l);
    s[37] = b18h ^ (~b19h & b15h);
    s[38] = b19l ^ (~b15l & b16l);
    s[39] = b19h ^ (~b15h & b16h);
    s[40] = b20l ^ (~b21l & b22l);
    s[41] = b20h ^ (~b21h & b22h);
    s[42] = b21l ^ (~b22l & b23l);
    s[43] = b21h ^ (~b22h & b23h);
    s[44] = b22l ^ (~b23l & b24l);
    s[45] = b22h ^ (~b23h & b24h);
    s[46] = b23l ^ (~b24l & b20l);
    s[47] = b23h ^ (~b24h & b20h);
    s[48] = b24l ^ (~b20l & b21l);
    s[49] = b24h ^ (~b20h & b21h);
  }
}

function absorbBlock(state: Uint32Array, block: Uint8Array, offset: number): void {
  for (let i = 0; i < RATE_BYTES / 4; i++) {
    const p = offset + 4 * i;
    state[i] ^= block[p] | (block[p + 1] << 8) | (block[p + 2] << 16) | (block[p + 3] << 24);
  }
  keccakF1600(state);
}

let wasm: IHasher | undefined;
// Compiling the module is asynchronous; a failure leaves the TypeScript implementation in use.
const loading: Promise<void> = createKeccak(256).then(
  (hasher) => {
    wasm = hasher;
  },
  () => undefined,
);

/** Resolves when keccak256 runs on WebAssembly (or, should it fail to load, stays on TypeScript). */
export function keccakReady(): Promise<void> {
  return loading;
}

/** Which implementation keccak256 runs on now. */
export function keccakEngine(): 'webassembly' | 'typescript' {
  return wasm ? 'webassembly' : 'typescript';
}

export function keccak256(data: Uint8Array): Buffer {
  if (!wasm) return keccak256Portable(data);
  wasm.init();
  wasm.update(data);
  const digest = wasm.digest('binary'); // a copy, so the Buffer may keep its memory
  return Buffer.from(digest.buffer, digest.byteOffset, digest.length);
}

/** Keccak-256 in TypeScript alone. */
export function keccak256Portable(data: Uint8Array): Buffer {
  return sponge256(data, 0x01);
}

/** The 256-bit sponge with a chosen domain byte; 0x06 gives NIST SHA3-256, which lets tests compare with node:crypto. */
export function sponge256(data: Uint8Array, domain: number): Buffer {
  const state = new Uint32Array(50);
  const fullBlocks = Math.floor(data.length / RATE_BYTES);
  for (let i = 0; i < fullBlocks; i++) absorbBlock(state, data, i * RATE_BYTES);

  const last = new Uint8Array(RATE_BYTES);
  last.set(data.subarray(fullBlocks * RATE_BYTES));
  last[data.length - fullBlocks * RATE_BYTES] ^= domain;
  last[RATE_BYTES - 1] ^= 0x80;
  absorbBlock(state, last, 0);

  const out = Buffer.alloc(32);
  for (let i = 0; i < 8; i++) out.writeUInt32LE(state[i] >>> 0, 4 * i);
  return out;
}
