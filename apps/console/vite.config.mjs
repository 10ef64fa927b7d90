// The console is built into dist/ as static files the server serves at / (no CDN: every
// script and style is a file of dist/assets). Preact's JSX runtime keeps the bundle small.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    // One file per kind: the server serves dist/assets/<name> and nothing else.
    modulePreload: { polyfill: false },
  },
  plugins: [
    {
      name: 'chainvault-bundle-size',
      // Prints the gzipped size of the JavaScript, which the issue caps at 400 KB.
      async writeBundle(options, bundle) {
        const { gzipSync } = await import('node:zlib');
        let raw = 0;
        let gzipped = 0;
        for (const chunk of Object.values(bundle)) {
          if (chunk.type !== 'chunk') continue;
          raw += Buffer.byteLength(chunk.code);
          gzipped += gzipSync(chunk.code).length;
        }
        console.log(`console JavaScript: ${(raw / 1024).toFixed(1)} KB, ${(gzipped / 1024).toFixed(1)} KB gzipped (limit 400 KB)`);
        if (gzipped > 400 * 1024) throw new Error(`the console's JavaScript is ${(gzipped / 1024).toFixed(1)} KB gzipped, over the 400 KB limit`);
      },
    },
  ],
});
