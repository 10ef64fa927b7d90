/**
 * Declaring a plugin: its identity, the protocols it serves, the schema of its node config
 * and the backup methods it offers.
 */
import { PLUGIN_API_VERSION } from './api-version';
import type {
  BackupContext,
  BackupOutcome,
  RestoreContext,
  RestoreOutcome,
  RestoreTargetCheck,
  VerifyContext,
  VerifyReport,
} from './context';
import type { JsonObject, JsonSchema } from './json-schema';

/** `node`: one node per run. `network`: every node of a network in one consistent run. */
export type MethodScope = 'node' | 'network';

export interface BackupMethod<Config = JsonObject, Options = JsonObject, Target = Config> {
  scope: MethodScope;
  /** One sentence an operator reads when choosing a method. */
  description: string;
  /** Schema of the policy's `options` for this method. Default: an empty object. */
  optionsSchema?: JsonSchema;
  /** Schema of the `options` of a restore with this method. Default: an empty object. */
  restoreOptionsSchema?: JsonSchema;
  /** Schema of an ad-hoc restore `targetConfig`. Default: the node config schema. */
  restoreTargetSchema?: JsonSchema;
  /** Methods of this plugin that cannot be scheduled on the same node as this one. */
  excludes?: string[];
  /**
   * Checks a restore request before any job is created, so a bad target is refused at once.
   * Throw a PluginError with code INVALID_TARGET to refuse.
   */
  checkRestoreTarget?(check: RestoreTargetCheck<Config, Options>): void | Promise<void>;
  backup(ctx: BackupContext<Config, Options>): Promise<BackupOutcome | void>;
  restore(ctx: RestoreContext<Target, Options>): Promise<RestoreOutcome | void>;
  /**
   * Proves a stored backup against the protocol's own rules (block links, checkpoint
   * digests). The host has already re-hashed the stored data before calling it.
   */
  verify?(ctx: VerifyContext<Options>): Promise<VerifyReport>;
}

export interface PluginDefinition<Config = JsonObject> {
  /** Unique id, the same as in the package.json manifest: lowercase, digits and dashes. */
  id: string;
  /** Protocols served, e.g. `['geth', 'quorum', 'besu']`. */
  protocols: string[];
  description?: string;
  /** Node roles this plugin understands. Default: any. */
  roles?: string[];
  /** Schema of a node's config. Mark secret fields with `writeOnly: true`. */
  nodeConfigSchema: JsonSchema;
  /** Checks beyond the schema (a URL that must be loopback, two fields that go together). */
  checkNodeConfig?(config: Config): void | Promise<void>;
  // Methods are typed loosely here: each method narrows its own options and target types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  methods: Record<string, BackupMethod<Config, any, any>>;
}

const PLUGIN_BRAND = Symbol.for('chainvault.plugin');

/** A plugin as the host loads it. */
export interface ChainvaultPlugin<Config = JsonObject> extends PluginDefinition<Config> {
  /** The API version the plugin was built against. */
  readonly apiVersion: string;
}

const ID_PATTERN = /^[a-z][a-z0-9-]{0,63}$/;

/**
 * Declares a plugin. The result is the default export of the plugin's entry module.
 * Throws at once if the definition is malformed, so the mistake shows when the plugin loads.
 */
export function definePlugin<Config = JsonObject>(definition: PluginDefinition<Config>): ChainvaultPlugin<Config> {
  const problems = describeDefinitionProblems(definition);
  if (problems.length > 0) {
    throw new TypeError(`invalid plugin definition${definition?.id ? ` "${definition.id}"` : ''}: ${problems.join('; ')}`);
  }
  const plugin = { ...definition, apiVersion: PLUGIN_API_VERSION };
  Object.defineProperty(plugin, PLUGIN_BRAND, { value: true });
  return Object.freeze(plugin);
}

/** Lists what is wrong with a plugin definition, for hosts loading code they did not build. */
export function describeDefinitionProblems(definition: unknown): string[] {
  if (typeof definition !== 'object' || definition === null) return ['the definition is not an object'];
  const d = definition as Partial<PluginDefinition>;
  const problems: string[] = [];
  if (typeof d.id !== 'string' || !ID_PATTERN.test(d.id)) {
    problems.push('id must be lowercase letters, digits and dashes, starting with a letter');
  }
  if (!Array.isArray(d.protocols) || d.protocols.length === 0 || d.protocols.some((p) => typeof p !== 'string')) {
    problems.push('protocols must be a non-empty list of strings');
  }
  if (typeof d.nodeConfigSchema !== 'object' || d.nodeConfigSchema === null) {
    problems.push('nodeConfigSchema must be a JSON schema object');
  }
  if (typeof d.methods !== 'object' || d.methods === null || Object.keys(d.methods).length === 0) {
    problems.push('methods must declare at least one method');
  } else {
    for (const [name, method] of Object.entries(d.methods)) {
      if (!ID_PATTERN.test(name)) problems.push(`method name "${name}" must be lowercase letters, digits and dashes`);
      if (typeof method !== 'object' || method === null) {
        problems.push(`method "${name}" is not an object`);
        continue;
      }
      if (method.scope !== 'node' && method.scope !== 'network') problems.push(`method "${name}": scope must be "node" or "network"`);
      if (typeof method.backup !== 'function') problems.push(`method "${name}": backup must be a function`);
      if (typeof method.restore !== 'function') problems.push(`method "${name}": restore must be a function`);
      if (method.verify !== undefined && typeof method.verify !== 'function') problems.push(`method "${name}": verify must be a function`);
      for (const other of method.excludes ?? []) {
        if (!(other in d.methods)) problems.push(`method "${name}" excludes unknown method "${other}"`);
      }
    }
  }
  return problems;
}
