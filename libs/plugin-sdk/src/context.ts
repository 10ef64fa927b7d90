/**
 * What a plugin method receives. The same narrow context for every plugin: it never sees the
 * host's injector, database or other plugins.
 */
import type { ArtifactSink, ArtifactSource } from './artifacts';
import type { CommandRunner } from './command';
import type { JsonObject } from './json-schema';

/** A node as the plugin sees it: its config with secret fields already decrypted. */
export interface NodeHandle<Config = JsonObject> {
  id: string;
  name: string;
  /** replica, client, validator, monitor, peer, orderer, ca, ... */
  role: string;
  config: Config;
}

export interface NetworkHandle {
  id: string;
  name: string;
  protocol: string;
}

export type ProgressUnit = 'bytes' | 'blocks' | 'files' | 'steps';

export interface ProgressUpdate {
  unit: ProgressUnit;
  done: number;
  total?: number;
  /** A short line saying what is happening now ("exporting blocks 1000-1999"). */
  message?: string;
}

export interface ProgressReporter {
  update(progress: ProgressUpdate): void;
}

/** Lines written here appear in the job's log. */
export interface PluginLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** What a plugin knows of an earlier backup, for incremental work. */
export interface BackupRecord {
  id: string;
  createdAt: Date;
  metadata: JsonObject;
}

interface CommonContext<Options> {
  /** The method being run. */
  method: string;
  options: Options;
  progress: ProgressReporter;
  log: PluginLogger;
  /** Aborted when the job is cancelled or the host shuts down. Stop promptly and clean up. */
  signal: AbortSignal;
  /** A directory for this job only; the host removes it afterwards. */
  tempDir: string;
  /** Runs external programs with timeouts, bound to `signal`. */
  commands: CommandRunner;
}

export interface BackupContext<Config = JsonObject, Options = JsonObject> extends CommonContext<Options> {
  network: NetworkHandle;
  /** Node scope: the node being backed up. Network scope: undefined. */
  node: NodeHandle<Config> | undefined;
  /** Node scope: `[node]`. Network scope: every node of the network. */
  nodes: NodeHandle<Config>[];
  /** The latest completed backup of the same policy, or null for the first one. */
  previous: BackupRecord | null;
  artifacts: ArtifactSink;
  /** When the maintenance window this run is allowed in closes, if the policy has one. */
  windowEndsAt?: Date;
}

export interface BackupOutcome {
  /** What the plugin learned about this backup (block ranges and hashes, checkpoint ids). Stored in the catalog and the manifest. */
  metadata?: JsonObject;
  /** True when restoring this backup also needs the previous one (segments, incremental chains). */
  dependsOnPrevious?: boolean;
}

export interface RestoreTarget<Config = JsonObject> {
  /** The node restored to, when the restore targets a registered node. */
  node?: NodeHandle<Config>;
  /** The target's config: a registered node's config, or an ad-hoc `targetConfig`. */
  config: Config;
}

/** A backup the restored one builds on, opened only when the plugin needs its content. */
export interface EarlierBackup {
  backup: BackupRecord;
  open(): Promise<ArtifactSource>;
}

export interface RestoreContext<Config = JsonObject, Options = JsonObject> extends CommonContext<Options> {
  backup: BackupRecord;
  /**
   * The backups this one depends on (`dependsOnPrevious`), oldest first: the earlier chain
   * segments a restore may need besides this backup's own content. Empty when it stands alone.
   * Since plugin API 1.1.
   */
  earlier: EarlierBackup[];
  /** The nodes the backup was taken from. */
  sources: NodeHandle<Config>[];
  target: RestoreTarget<Config>;
  artifacts: ArtifactSource;
}

export interface RestoreOutcome {
  /** Facts worth recording on the restore (files written, blocks imported). */
  details?: JsonObject;
}

export interface VerifyContext<Options = JsonObject> extends CommonContext<Options> {
  backup: BackupRecord;
  artifacts: ArtifactSource;
}

export interface VerifyReport {
  /** Empty when the backup is sound. Each entry says what is wrong and where. */
  problems: string[];
  /** What was checked, for the record ("blocks": 1000). */
  checked?: Record<string, number>;
}

/** What `checkRestoreTarget` receives, before any job is created. */
export interface RestoreTargetCheck<Config = JsonObject, Options = JsonObject> {
  sources: NodeHandle<Config>[];
  target: RestoreTarget<Config>;
  options: Options;
}
