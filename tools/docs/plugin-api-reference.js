#!/usr/bin/env node
// Writes docs/plugin-api.md from the plugin SDK's declaration files (libs/plugin-sdk/dist,
// built by `npm run build`): every public type with its doc comments, as the compiler emits
// them, so the reference cannot drift from the SDK. `--check` fails when the file is stale.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const ROOT = join(__dirname, '..', '..');
const DIST = join(ROOT, 'libs', 'plugin-sdk', 'dist');
const OUT = join(ROOT, 'docs', 'plugin-api.md');

// The modules `@chainvault/plugin-sdk` and `@chainvault/plugin-sdk/testing` export, in reading order.
const SECTIONS = [
  ['plugin.d.ts', 'Defining a plugin', '@chainvault/plugin-sdk'],
  ['context.d.ts', 'What a method is given', '@chainvault/plugin-sdk'],
  ['artifacts.d.ts', 'Artifacts: storing and reading backup content', '@chainvault/plugin-sdk'],
  ['machines.d.ts', 'Machines: nodes on this host or over SSH', '@chainvault/plugin-sdk'],
  ['command.d.ts', 'Running programs', '@chainvault/plugin-sdk'],
  ['errors.d.ts', 'Errors', '@chainvault/plugin-sdk'],
  ['json-schema.d.ts', 'JSON and schemas', '@chainvault/plugin-sdk'],
  ['manifest.d.ts', 'The package manifest', '@chainvault/plugin-sdk'],
  ['api-version.d.ts', 'API versions', '@chainvault/plugin-sdk'],
  ['testing/conformance.d.ts', 'The conformance kit', '@chainvault/plugin-sdk/testing'],
];

function declarations(file) {
  return readFileSync(join(DIST, file), 'utf8')
    .split('\n')
    .filter((line) => !/^import |^\/\/# sourceMappingURL|^export \{\};?$/.test(line))
    .join('\n')
    .trim();
}

function render() {
  const parts = [
    '# The plugin SDK API reference',
    '',
    'Generated from the declaration files of `@chainvault/plugin-sdk` by `node tools/docs/plugin-api-reference.js`',
    '(after `npm run build`); a test fails when this file differs from what the SDK declares. How to write a',
    'plugin: [plugins.md](plugins.md) and the [SDK README](../libs/plugin-sdk/README.md).',
  ];
  for (const [file, title, from] of SECTIONS) parts.push('', `## ${title}`, '', `From \`${from}\` (\`${file.replace(/\.d\.ts$/, '.ts')}\`):`, '', '```ts', declarations(file), '```');
  return `${parts.join('\n')}\n`;
}

if (require.main === module) {
  const text = render();
  if (process.argv.includes('--check')) {
    const current = readFileSync(OUT, 'utf8');
    if (current !== text) {
      console.error('docs/plugin-api.md is out of date: run node tools/docs/plugin-api-reference.js');
      process.exit(1);
    }
  } else {
    writeFileSync(OUT, text);
  }
}

module.exports = { render, OUT };
