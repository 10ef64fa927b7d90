/**
 * Declaring a plugin: its identity, the protocols it serves, the schema of its node config
 * and the backup methods it offers.
 */
import { PLUGIN_API_VERSION } from './api-version';
import type {
  BackupContext,
  BackupOutcome,
  CleanupContext,
  InventoryContext,
  InventoryItem,
  RestoreContext,
  RestoreOutcome,
  RestoreTarget,
  RestoreTargetCheck,
  VerifyContext,
  VerifyReport,
} from './context';
import type { JsonObject, JsonSchema } from './json-schema';
import type { MachineConfig } from './machines';

/** One entry of a network's history document (DESIGN §7.1): which stored file covers which blocks. */
export type HistoryEntry = JsonObject;

/** A phase of a restore set: its name (shown in the job log and progress) and the nodes restored in it. */
export interface RestorePhase {
  name: string;
  /** Ids of the target nodes restored in this phase; every target of the set appears in exactly one phase. */
  nodeIds: string[];
}

/** Where a node keeps the data a method reads, so the host can tell two nodes on the same data apart from two nodes. */
export interface DataLocation {
  /** The machine (undefined: the chainvault host). */
  machine?: MachineConfig;
  /** An absolute path on that machine. */
  path: string;
}

/** `node`: one node per run. `network`: every node of a network in one consistent run. */
export type MethodScope = 'node' | 'network';

export interface BackupMethod<Config = JsonObject, Options = JsonObject, Target = Config, Metadata extends JsonObject = JsonObject> {
  scope: MethodScope;
  /** One sentence an operator reads when choosing a method. */
  description: string;
  /**
   * The method stops nodes (a wedge, a maintenance stop). The host never retries such a job on its
   * own, never hands it to another instance while the instance running it lives, and after a
   * cancel, a shutdown or a crash runs {@link cleanup} so the nodes run again. Since API 2.0.
   */
  disruptive?: boolean;
  /**
   * The method needs a node's data to itself: no other exclusive method, of this plugin or any
   * other, may be scheduled on the same data (same machine and data directory, by the plugins'
   * {@link PluginDefinition.dataLocations}). Policies that would break this are refused. Since API 2.0.
   */
  exclusive?: boolean;
  /**
   * Brings the nodes back after a disruptive run was cancelled, interrupted by a shutdown or
   * killed (then on the next start of the server). It gets what the run saved with
   * `ctx.state.save`. It must be safe to run when nothing was stopped, and more than once.
   */
  cleanup?(ctx: CleanupContext<Config, Options>): Promise<void>;
  /**
   * Orders a restore set (several target nodes at once) in phases run one after the other, for
   * example CAs, then orderers, then peers. Default: one phase with every target.
   */
  restorePhases?(targets: RestoreTarget<Target>[]): RestorePhase[];
  /**
   * The history entries this backup adds to the network's history document (DESIGN §7.1), or
   * null when the method keeps none. Declared by the plugin since API 2.0 (1.x plugins: the
   * host reads a `history` array from the metadata).
   */
  history?(metadata: Metadata): HistoryEntry[] | null;
  /**
   * Restoring with this method stops the target nodes. The restore is then handled like a
   * disruptive run: never retried by itself, and after a cancel, a shutdown or a crash (then on
   * the next start) {@link cleanup} runs with `kind: 'restore'` and the restore's targets, with
   * what the restore saved with `ctx.state.save`. Since API 2.0.
   */
  restoreStopsNodes?: boolean;
  /**
   * What the method keeps on a node right now (checkpoints on a replica's disk), for the
   * `checkpoints` query. Read only: it must change nothing. Since API 2.0.
   */
  inventory?(ctx: InventoryContext<Config, Options>): Promise<InventoryItem[]>;
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
  backup(ctx: BackupContext<Config, Options, Metadata>): Promise<BackupOutcome<Metadata> | void>;
  restore(ctx: RestoreContext<Target, Options, Metadata>): Promise<RestoreOutcome | void>;
  /**
   * Proves a stored backup against the protocol's own rules (block links, checkpoint
   * digests). The host has already re-hashed the stored data before calling it.
   */
  verify?(ctx: VerifyContext<Options, Metadata>): Promise<VerifyReport>;
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
  /**
   * Brings a node config written for an earlier version of this plugin up to this version's
   * schema, when the plugin is upgraded in place (`upgradePlugin`). Given the whole config,
   * secrets included, and the version it was written for; returns the new config, which the
   * host then checks with this version's schema and checkNodeConfig. Without it, configs must
   * fit the new schema as they are, or the upgrade is refused.
   */
  migrateNodeConfig?(config: JsonObject, from: { version: string }): JsonObject | Promise<JsonObject>;
  /**
   * Where a node's data lives. Two nodes, of any plugins, whose locations share a machine and a
   * path (or one path lies inside the other) hold the same data for exclusive methods.
   * Default: the node is its own data.
   */
  dataLocations?(config: Config): DataLocation[];
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
  if (d.dataLocations !== undefined && typeof d.dataLocations !== 'function') problems.push('dataLocations must be a function');
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
      for (const hook of ['verify', 'cleanup', 'restorePhases', 'history', 'inventory'] as const) {
        if (method[hook] !== undefined && typeof method[hook] !== 'function') problems.push(`method "${name}": ${hook} must be a function`);
      }
      if (method.disruptive && typeof method.cleanup !== 'function') problems.push(`method "${name}": a disruptive method must have a cleanup that starts what it stopped`);
      if (method.restoreStopsNodes && typeof method.cleanup !== 'function') problems.push(`method "${name}": a method whose restore stops nodes must have a cleanup that starts them`);
      for (const other of method.excludes ?? []) {
        if (!(other in d.methods)) problems.push(`method "${name}" excludes unknown method "${other}"`);
      }
    }
  }
  return problems;
}
