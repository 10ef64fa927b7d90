/**
 * What a plugin method receives. The same narrow context for every plugin: it never sees the
 * host's injector, database or other plugins.
 */
import type { ArtifactSink, ArtifactSource } from './artifacts';
import type { CommandRunner } from './command';
import type { JsonObject } from './json-schema';
import type { MachineProvider } from './machines';

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
export interface BackupRecord<Metadata extends JsonObject = JsonObject> {
  id: string;
  createdAt: Date;
  metadata: Metadata;
  /** The backups this one depends on (since API 2.0; empty for one that stands alone). */
  dependsOn?: string[];
}

/**
 * Folders that last between jobs (rsync mirrors, staging), one per node and one per network,
 * under the server's data directory. Removed with their node or network. Since API 2.0.
 */
export interface Workspaces {
  /** The network's folder, created on first use. */
  network(): Promise<string>;
  /** A node's folder, created on first use. Only nodes of the job's network. */
  node(nodeId: string): Promise<string>;
}

/**
 * What a disruptive run saves as it goes (the nodes it stopped), kept in the catalog at once so
 * the cleanup after a crash knows what to start again. Since API 2.0.
 */
export interface RunState {
  /** What was saved so far in this run ({} at its start). */
  get(): JsonObject;
  /** Merges `patch` into the state and writes it to the catalog before returning. */
  save(patch: JsonObject): Promise<void>;
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
  /** Runs external programs on the chainvault host with timeouts, bound to `signal`. */
  commands: CommandRunner;
  /** The machines nodes live on: commands, files and rsync, local or over SSH (API 2.0). */
  machines: MachineProvider;
  /** Folders that last between jobs (API 2.0). */
  workspaces: Workspaces;
}

export interface BackupContext<Config = JsonObject, Options = JsonObject, Metadata extends JsonObject = JsonObject> extends CommonContext<Options> {
  network: NetworkHandle;
  /** Node scope: the node being backed up. Network scope: undefined. */
  node: NodeHandle<Config> | undefined;
  /** Node scope: `[node]`. Network scope: every node of the network. */
  nodes: NodeHandle<Config>[];
  /** The latest completed (or partial) backup of the same policy, or null for the first one. */
  previous: BackupRecord<Metadata> | null;
  artifacts: ArtifactSink;
  /** When the maintenance window this run is allowed in closes, if the policy has one. */
  windowEndsAt?: Date;
  /** What a disruptive run saves for its cleanup (API 2.0). */
  state: RunState;
  /**
   * What started the run: `schedule` (the policy's schedule) or `manual` (runBackup, the CLI,
   * an on-demand request). A method may skip a scheduled run that has nothing to do. Since API 2.0.
   */
  trigger: 'schedule' | 'manual';
}

/** How one node of a network-scope run fared. */
export interface NodeOutcome {
  nodeId: string;
  status: 'completed' | 'failed';
  /** Why it failed, for a person. */
  reason?: string;
}

export interface BackupOutcome<Metadata extends JsonObject = JsonObject> {
  /** What the plugin learned about this backup (block ranges and hashes, checkpoint ids). Stored in the catalog and the manifest. */
  metadata?: Metadata;
  /** True when restoring this backup also needs the previous one (segments, incremental chains). */
  dependsOnPrevious?: boolean;
  /**
   * The earlier backups restoring this one needs, by id (since API 2.0; replaces
   * `dependsOnPrevious`, which still means `[previous.id]`). Each must exist and not be deleted.
   */
  dependsOn?: string[];
  /**
   * Per node, for a network-scope run: when some nodes failed and others completed, the backup is
   * recorded as PARTIAL with this report (a run where every node failed should throw instead).
   */
  nodes?: NodeOutcome[];
  /**
   * The run had nothing to back up (no new checkpoint, too few blocks since the last, too little
   * free disk): the reason, with its numbers. The job ends SKIPPED with it and no backup is
   * recorded; whatever the run stored is left for the next prune. Since API 2.0.
   */
  skipped?: string;
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

/** Where a restore set stands, when the restore targets several nodes (API 2.0). */
export interface RestorePhaseInfo {
  name: string;
  /** 1-based. */
  index: number;
  count: number;
  /** Every target of the set, across phases. */
  allTargets: RestoreTarget[];
}

export interface RestoreContext<Config = JsonObject, Options = JsonObject, Metadata extends JsonObject = JsonObject> extends CommonContext<Options> {
  backup: BackupRecord<Metadata>;
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
  /** The phase of a restore set this target is restored in; undefined for a single-target restore. */
  phase?: RestorePhaseInfo;
  /** What a restore that stops nodes saves for its cleanup ({@link BackupMethod.restoreStopsNodes}). Since API 2.0. */
  state: RunState;
}

export interface RestoreOutcome {
  /** Facts worth recording on the restore (files written, blocks imported). */
  details?: JsonObject;
}

/** Receives the policy's options since API 2.0. */
export interface VerifyContext<Options = JsonObject, Metadata extends JsonObject = JsonObject> extends CommonContext<Options> {
  backup: BackupRecord<Metadata>;
  artifacts: ArtifactSource;
}

/** What a disruptive method's `cleanup` receives: the run's nodes and what it saved. Its signal ends with the cleanup's grace period. */
export interface CleanupContext<Config = JsonObject, Options = JsonObject> extends CommonContext<Options> {
  network: NetworkHandle;
  node: NodeHandle<Config> | undefined;
  nodes: NodeHandle<Config>[];
  /** What the run saved with `ctx.state.save`. */
  saved: JsonObject;
  /** Why the cleanup runs: `cancelled`, `shutdown`, `crashed` (the server died mid-run) or `failed`. */
  reason: 'cancelled' | 'shutdown' | 'crashed' | 'failed';
  /** `backup`, or `restore` for a restore of a method that stops nodes (then `targets` are set). */
  kind: 'backup' | 'restore';
  /** The restore's targets, when `kind` is `restore`. */
  targets?: RestoreTarget<Config>[];
}

/** What a method's `inventory` receives: one node, read only. Since API 2.0. */
export interface InventoryContext<Config = JsonObject, Options = JsonObject> {
  node: NodeHandle<Config>;
  /** The options of the node's policy with this method, or the method's defaults when it has none. */
  options: Options;
  log: PluginLogger;
  signal: AbortSignal;
  tempDir: string;
  commands: CommandRunner;
  machines: MachineProvider;
}

/** Something a method keeps on a node (a checkpoint on the replica's disk), as `inventory` lists it. */
export interface InventoryItem {
  /** The item's id on the node (a checkpoint's last block id). */
  id: string;
  /** Where it is on the node's machine. */
  path?: string;
  createdAt?: Date;
  sizeBytes?: number;
  /** The block id it holds up to, when the protocol has blocks. */
  lastBlockId?: string;
  /** False for something still being written (a partial checkpoint). */
  complete: boolean;
  details?: JsonObject;
}

export interface VerifyReport {
  /** Empty when the backup is sound. Each entry says what is wrong and where. */
  problems: string[];
  /** What was checked, for the record ("blocks": 1000). */
  checked?: Record<string, number>;
}

/** What `checkRestoreTarget` receives, before any job is created. */
export interface RestoreTargetCheck<Config = JsonObject, Options = JsonObject, Metadata extends JsonObject = JsonObject> {
  sources: NodeHandle<Config>[];
  target: RestoreTarget<Config>;
  options: Options;
  /** The backup being restored, so a check can hold the options against what it holds. Since API 2.0 (hosts before 2026-12 left it out). */
  backup?: BackupRecord<Metadata>;
}
