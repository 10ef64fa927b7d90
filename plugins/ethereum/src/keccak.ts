// Keccak-256 as Ethereum uses it (the original Keccak padding 0x01, not NIST SHA3's 0x06),
// written here because the workspace has no hashing dependency to lean on.

const RATE_BYTES = 136; // 1600-bit state minus 2 × 256-bit capacity

// Rotation offsets indexed by lane x + 5y.
const ROTATIONS = [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14];

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

// Lanes are 64-bit words held as (lo, hi) pairs of 32-bit halves: s[2i] = lo, s[2i + 1] = hi.
function keccakF1600(s: Uint32Array): void {
  const c = new Uint32Array(10);
  const b = new Uint32Array(50);
  for (let round = 0; round < 24; round++) {
    // θ
    for (let x = 0; x < 5; x++) {
      c[2 * x] = s[2 * x] ^ s[2 * x + 10] ^ s[2 * x + 20] ^ s[2 * x + 30] ^ s[2 * x + 40];
      c[2 * x + 1] = s[2 * x + 1] ^ s[2 * x + 11] ^ s[2 * x + 21] ^ s[2 * x + 31] ^ s[2 * x + 41];
    }
    for (let x = 0; x < 5; x++) {
      const prev = (x + 4) % 5;
      const next = (x + 1) % 5;
      const lo = c[2 * next];
      const hi = c[2 * next + 1];
      const dLo = c[2 * prev] ^ ((lo << 1) | (hi >>> 31));
      const dHi = c[2 * prev + 1] ^ ((hi << 1) | (lo >>> 31));
      for (let y = 0; y < 25; y += 5) {
        s[2 * (x + y)] ^= dLo;
        s[2 * (x + y) + 1] ^= dHi;
      }
    }
    // ρ and π
    for (let x = 0; x < 5; x++) {
      for (let y = 0; y < 5; y++) {
        const from = x + 5 * y;
        const to = y + 5 * ((2 * x + 3 * y) % 5);
        const n = ROTATIONS[from];
        const lo = s[2 * from];
        const hi = s[2 * from + 1];
        if (n === 0) {
          b[2 * to] = lo;
          b[2 * to + 1] = hi;
        } else if (n < 32) {
          b[2 * to] = (lo << n) | (hi >>> (32 - n));
          b[2 * to + 1] = (hi << n) | (lo >>> (32 - n));
        } else if (n === 32) {
          b[2 * to] = hi;
          b[2 * to + 1] = lo;
        } else {
          const m = n - 32;
          b[2 * to] = (hi << m) | (lo >>> (32 - m));
          b[2 * to + 1] = (lo << m) | (hi >>> (32 - m));
        }
      }
    }
    // χ
    for (let y = 0; y < 25; y += 5) {
      for (let x = 0; x < 5; x++) {
        const i = 2 * (x + y);
        const i1 = 2 * (((x + 1) % 5) + y);
        const i2 = 2 * (((x + 2) % 5) + y);
        s[i] = b[i] ^ (~b[i1] & b[i2]);
        s[i + 1] = b[i + 1] ^ (~b[i1 + 1] & b[i2 + 1]);
      }
    }
    // ι
    s[0] ^= ROUND_CONSTANTS[2 * round];
    s[1] ^= ROUND_CONSTANTS[2 * round + 1];
  }
}

function absorbBlock(state: Uint32Array, block: Uint8Array, offset: number): void {
  for (let i = 0; i < RATE_BYTES / 4; i++) {
    const p = offset + 4 * i;
    state[i] ^= block[p] | (block[p + 1] << 8) | (block[p + 2] << 16) | (block[p + 3] << 24);
  }
  keccakF1600(state);
}

export function keccak256(data: Uint8Array): Buffer {
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
