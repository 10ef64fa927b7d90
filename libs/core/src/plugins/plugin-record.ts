import type { BackupMethod, ChainvaultPlugin, JsonSchema } from '@chainvault/plugin-sdk';
import type { ValidateFunction } from 'ajv';
import type { PluginProcesses } from './isolation/isolated-plugin';

export enum PluginStatus {
  LOADED = 'LOADED',
  FAILED = 'FAILED',
  /** Turned off by an admin: its code is not loaded and its jobs fail, saying so, until it is enabled. */
  DISABLED = 'DISABLED',
  /**
   * Loaded and in use, but its last job call in its own process went wrong there: it hung, ran out
   * of memory, exited or did not stop when cancelled (`error` says which). The next call that ends
   * as calls should makes it LOADED again; `lastFault` stays.
   */
  DEGRADED = 'DEGRADED',
}

/** The last time a plugin's process had to be stopped or was lost during a job call. */
export interface PluginFault {
  at: Date;
  message: string;
}

export interface MethodDescription {
  name: string;
  scope: 'node' | 'network';
  description: string;
  excludes: string[];
  /** Stops nodes: never retried by itself, cleaned up after a cancel or a crash. */
  disruptive: boolean;
  /** Needs the node's data to itself, against every other exclusive method of any plugin. */
  exclusive: boolean;
  /** Orders restore sets in phases. */
  phasedRestore: boolean;
  /** Declares the history document entries of its backups. */
  history: boolean;
  optionsSchema: JsonSchema;
  restoreOptionsSchema: JsonSchema;
  /** Null: the node config schema. */
  restoreTargetSchema: JsonSchema | null;
}

/** What the host knows of one plugin package, loaded or not. */
export interface PluginRecord {
  /** The plugin id, or the package name when the manifest could not be read. */
  id: string;
  packageName: string;
  version: string;
  /** The plugin API range the package declares. */
  apiVersion: string;
  location: string;
  source: 'builtin' | 'installed';
  /**
   * sha512 of the package tarball an installed plugin was installed from, as npm writes integrity
   * (`sha512-<base64>`); null for builtin plugins and for packages installed before it was recorded.
   */
  integrity: string | null;
  status: PluginStatus;
  error: string | null;
  lastFault: PluginFault | null;
  protocols: string[];
  /** The node roles the plugin understands; empty: any. */
  roles: string[];
  methods: MethodDescription[];
  nodeConfigSchema: JsonSchema | null;
}

/** A loaded plugin with its compiled validators. */
export interface LoadedPlugin {
  record: PluginRecord;
  plugin: ChainvaultPlugin;
  /** The package's entry file (relative to its folder), which an isolated call loads again. */
  entry: string;
  /** The processes it runs in, when it is isolated (null: it runs in the server's). */
  processes: PluginProcesses | null;
  validateNodeConfig: ValidateFunction;
  validateOptions: Map<string, ValidateFunction>;
  validateTarget: Map<string, ValidateFunction>;
  validateRestoreOptions: Map<string, ValidateFunction>;
}

export type AnyMethod = BackupMethod<Record<string, unknown>, Record<string, unknown>, Record<string, unknown>>;
