import { PLUGIN_API_VERSION } from './api-version';
import { PluginError, isPluginError } from './errors';
import { definePlugin, describeDefinitionProblems, type BackupMethod, type PluginDefinition } from './plugin';

const method = (extra: Partial<BackupMethod> = {}): BackupMethod => ({
  scope: 'node',
  description: 'copies the data directory',
  backup: async () => undefined,
  restore: async () => undefined,
  ...extra,
});

const good: PluginDefinition = {
  id: 'geth',
  protocols: ['geth', 'besu'],
  nodeConfigSchema: { type: 'object' },
  methods: { snapshot: method(), 'era-export': method({ scope: 'network', excludes: ['snapshot'] }) },
};

describe('definePlugin', () => {
  it('returns the definition with the SDK API version, frozen', () => {
    const plugin = definePlugin(good);
    expect(plugin).toMatchObject({ id: 'geth', protocols: ['geth', 'besu'], apiVersion: PLUGIN_API_VERSION });
    expect(Object.keys(plugin.methods)).toEqual(['snapshot', 'era-export']);
    expect(Object.isFrozen(plugin)).toBe(true);
  });

  it.each<[string, unknown, string]>([
    ['not an object', null, 'the definition is not an object'],
    ['an id with capitals', { ...good, id: 'Geth' }, 'id must be lowercase letters, digits and dashes'],
    ['an id starting with a digit', { ...good, id: '1geth' }, 'id must be lowercase letters, digits and dashes'],
    ['no protocols', { ...good, protocols: [] }, 'protocols must be a non-empty list of strings'],
    ['a non-string protocol', { ...good, protocols: ['geth', 7] }, 'protocols must be a non-empty list of strings'],
    ['no node config schema', { ...good, nodeConfigSchema: undefined }, 'nodeConfigSchema must be a JSON schema object'],
    ['no methods', { ...good, methods: {} }, 'methods must declare at least one method'],
    ['a method name with a space', { ...good, methods: { 'full copy': method() } }, 'method name "full copy" must be lowercase'],
    ['a method that is not an object', { ...good, methods: { snapshot: 'copy' } }, 'method "snapshot" is not an object'],
    ['a bad scope', { ...good, methods: { snapshot: method({ scope: 'cluster' as never }) } }, 'method "snapshot": scope must be "node" or "network"'],
    ['no backup function', { ...good, methods: { snapshot: method({ backup: undefined }) } }, 'method "snapshot": backup must be a function'],
    ['no restore function', { ...good, methods: { snapshot: method({ restore: 'yes' as never }) } }, 'method "snapshot": restore must be a function'],
    ['a verify that is not a function', { ...good, methods: { snapshot: method({ verify: {} as never }) } }, 'method "snapshot": verify must be a function'],
    ['an exclusion of an unknown method', { ...good, methods: { snapshot: method({ excludes: ['rsync'] }) } }, 'method "snapshot" excludes unknown method "rsync"'],
  ])('rejects a definition with %s, naming the problem', (_, definition, problem) => {
    expect(() => definePlugin(definition as PluginDefinition)).toThrow(TypeError);
    expect(() => definePlugin(definition as PluginDefinition)).toThrow(problem);
  });

  it('names the plugin and lists every problem at once', () => {
    const definition = { ...good, protocols: [], methods: { snapshot: method({ scope: 'x' as never, restore: undefined }) } };
    expect(() => definePlugin(definition as PluginDefinition)).toThrow(
      'invalid plugin definition "geth": protocols must be a non-empty list of strings; method "snapshot": scope must be "node" or "network"; method "snapshot": restore must be a function',
    );
    expect(describeDefinitionProblems(definition)).toHaveLength(3);
    expect(describeDefinitionProblems(good)).toEqual([]);
  });
});

describe('PluginError and isPluginError', () => {
  it('carries a code, retryability and details', () => {
    const error = new PluginError('TIMEOUT', 'the node did not answer', { retryable: true, details: { url: 'http://127.0.0.1:8545' } });
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'PluginError', code: 'TIMEOUT', retryable: true, details: { url: 'http://127.0.0.1:8545' } });
    expect(new PluginError('FAILED', 'x')).toMatchObject({ retryable: false, details: {} });
    expect(isPluginError(error)).toBe(true);
  });

  it('recognises a PluginError made by a separately loaded copy of the SDK', () => {
    let Copy: typeof PluginError | undefined;
    jest.isolateModules(() => {
      Copy = (require('./errors') as typeof import('./errors')).PluginError;
    });
    expect(Copy).not.toBe(PluginError);
    const foreign = new Copy!('UNREACHABLE', 'node down', { retryable: true });
    expect(foreign instanceof PluginError).toBe(false);
    expect(isPluginError(foreign)).toBe(true);
  });

  it.each([
    ['a plain Error', new Error('boom')],
    ['an Error with a code', Object.assign(new Error('boom'), { code: 'TIMEOUT', name: 'PluginError' })],
    ['a copy of a PluginError’s fields', { ...new PluginError('FAILED', 'x') }],
    ['null', null],
    ['a string', 'PluginError'],
  ])('is false for %s', (_, value) => {
    expect(isPluginError(value)).toBe(false);
  });
});
