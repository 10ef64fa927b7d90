import { declaresPlugin, readPluginManifest } from './manifest';

const good = {
  name: '@acme/chainvault-plugin-besu',
  version: '2.1.0',
  chainvault: { plugin: { id: 'besu', apiVersion: '^1.0.0', entry: './dist/index.js' } },
};

function withPlugin(plugin: Record<string, unknown>): unknown {
  return { ...good, chainvault: { plugin: { ...good.chainvault.plugin, ...plugin } } };
}

describe('readPluginManifest', () => {
  it('reads a good manifest', () => {
    expect(readPluginManifest(good)).toEqual({
      packageName: '@acme/chainvault-plugin-besu',
      version: '2.1.0',
      id: 'besu',
      apiVersion: '^1.0.0',
      entry: './dist/index.js',
    });
  });

  it.each([
    ['not an object', 'just a string', 'package.json is not a JSON object'],
    ['null', null, 'package.json is not a JSON object'],
    ['no name', { ...good, name: undefined }, 'package.json has no "name"'],
    ['an empty name', { ...good, name: '' }, 'package.json has no "name"'],
    ['no version', { ...good, version: undefined }, '@acme/chainvault-plugin-besu: package.json has no "version"'],
    ['no chainvault block', { ...good, chainvault: undefined }, '@acme/chainvault-plugin-besu: package.json has no "chainvault.plugin" manifest'],
    ['a chainvault block without plugin', { ...good, chainvault: {} }, 'has no "chainvault.plugin" manifest'],
    ['a null chainvault block', { ...good, chainvault: null }, 'has no "chainvault.plugin" manifest'],
    ['no id', withPlugin({ id: undefined }), '"chainvault.plugin.id" must be a non-empty string'],
    ['an empty id', withPlugin({ id: '' }), '"chainvault.plugin.id" must be a non-empty string'],
    ['a numeric apiVersion', withPlugin({ apiVersion: 1 }), '"chainvault.plugin.apiVersion" must be a non-empty string'],
    ['no entry', withPlugin({ entry: undefined }), '"chainvault.plugin.entry" must be a non-empty string'],
  ])('names the problem when the package.json has %s', (_, packageJson, message) => {
    expect(() => readPluginManifest(packageJson)).toThrow(message);
  });

  it.each(['/usr/lib/node_modules/evil/index.js', '../other-package/index.js', './dist/../../other/index.js', 'dist\\..\\..\\evil.js'])(
    'refuses an entry that leaves the package: %s',
    (entry) => {
      expect(() => readPluginManifest(withPlugin({ entry }))).toThrow(
        `@acme/chainvault-plugin-besu: "chainvault.plugin.entry" must stay inside the package, got "${entry}"`,
      );
    },
  );

  it('accepts entries that only look unusual', () => {
    expect(readPluginManifest(withPlugin({ entry: 'lib/...dots/index.js' })).entry).toBe('lib/...dots/index.js');
  });
});

describe('declaresPlugin', () => {
  it('is true for any package with a chainvault.plugin block, even a broken one, and false otherwise', () => {
    expect(declaresPlugin(good)).toBe(true);
    expect(declaresPlugin(withPlugin({ id: '' }))).toBe(true);
    expect(declaresPlugin({ name: 'left-pad', version: '1.0.0' })).toBe(false);
    expect(declaresPlugin({ name: 'x', chainvault: {} })).toBe(false);
    expect(declaresPlugin(null)).toBe(false);
  });
});
