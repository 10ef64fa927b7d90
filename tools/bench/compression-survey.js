// Measures the compressors Node 20 ships on real chain data (the RLP and era1 fixtures), to
// choose the repository's compression. Usage: node tools/bench/compression-survey.js [fixtures dir]
const { readFileSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');
const zlib = require('node:zlib');

const root = process.argv[2] ?? join(__dirname, '..', '..', '..', 'shared', 'fixtures', 'ethereum');
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full);
    else if (/\.(rlp|blocks|bin)$/.test(name)) files.push(full);
  }
};
walk(root);
const corpus = Buffer.concat(files.map((f) => readFileSync(f)));

const candidates = {
  'deflate-1': (b) => zlib.deflateRawSync(b, { level: 1 }),
  'deflate-6': (b) => zlib.deflateRawSync(b, { level: 6 }),
  'brotli-1': (b) => zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } }),
  'brotli-3': (b) => zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 3 } }),
  'brotli-5': (b) => zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } }),
};
const decompress = { deflate: zlib.inflateRawSync, brotli: zlib.brotliDecompressSync };

console.log(`corpus: ${files.length} RLP files, ${(corpus.length / 1048576).toFixed(2)} MiB`);
const chunk = 1024 * 1024;
for (const [name, compress] of Object.entries(candidates)) {
  let out = 0;
  let t = process.hrtime.bigint();
  const packed = [];
  for (let i = 0; i < corpus.length; i += chunk) {
    const c = compress(corpus.subarray(i, i + chunk));
    packed.push(c);
    out += c.length;
  }
  const compressSeconds = Number(process.hrtime.bigint() - t) / 1e9;
  t = process.hrtime.bigint();
  for (const p of packed) decompress[name.split('-')[0]](p);
  const decompressSeconds = Number(process.hrtime.bigint() - t) / 1e9;
  const mib = corpus.length / 1048576;
  console.log(
    `${name.padEnd(10)} ratio ${(corpus.length / out).toFixed(2)}  compress ${(mib / compressSeconds).toFixed(0)} MiB/s  decompress ${(mib / decompressSeconds).toFixed(0)} MiB/s`,
  );
}
