/**
 * "ledger", a small third-party plugin written as a package folder, in versions whose node
 * config differs: for install, upgrade and registry tests.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A plugin that backs up the folder its config names, under the field name `field`. */
export function ledgerSource(field: string, extra: { required?: string[]; migrate?: string } = {}): string {
  const properties = { [field]: { type: 'string', minLength: 1 }, token: { type: 'string', writeOnly: true }, region: { type: 'string' } };
  return `'use strict';
const { definePlugin, PluginError } = require('@chainvault/plugin-sdk');
module.exports = definePlugin({
  id: 'ledger',
  protocols: ['ledger'],
  nodeConfigSchema: { type: 'object', properties: ${JSON.stringify(properties)}, required: ${JSON.stringify([field, ...(extra.required ?? [])])}, additionalProperties: false },
  ${extra.migrate ? `migrateNodeConfig: ${extra.migrate},` : ''}
  methods: {
    snapshot: {
      scope: 'node',
      description: 'Copies the ledger folder.',
      restoreTargetSchema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
      async backup(ctx) {
        if (typeof ctx.node.config.token !== 'string') throw new PluginError('INVALID_CONFIG', 'no token');
        const summary = await ctx.artifacts.addTree(ctx.node.config.${field});
        return { metadata: { files: summary.files } };
      },
      async restore(ctx) {
        await ctx.artifacts.extractTree(ctx.target.config.path);
      },
    },
  },
});
`;
}

export async function writeLedger(root: string, folder: string, version: string, index: string, apiVersion = '^2.0.0'): Promise<string> {
  const dir = join(root, folder);
  await mkdir(dir, { recursive: true });
  const pkg = { name: 'chainvault-plugin-ledger', version, main: 'index.js', chainvault: { plugin: { id: 'ledger', apiVersion, entry: './index.js' } }, peerDependencies: { '@chainvault/plugin-sdk': '^2.0.0' } };
  await writeFile(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  await writeFile(join(dir, 'index.js'), index);
  return dir;
}
