/**
 * chainvault's RocksDB plugin: online checkpoint backups of live RocksDB databases (VMware
 * Blockchain replicas and any other), shipped off the node, proven with RocksDB and restored
 * with one command. See ../README.md and seed 002 (RocksDB checkpoint-based backup).
 */
import {
  PluginError,
  definePlugin,
  type BackupContext,
  type BackupOutcome,
  type CleanupContext,
  type InventoryContext,
  type JsonObject,
  type Machine,
  type RestoreContext,
  type VerifyContext,
} from '@chainvault/plugin-sdk';
import { readdir, rm, stat } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { checkNodeConfig, nodeConfigSchema, optionsSchema, withDefaults, type CheckpointOptions, type RocksdbNodeConfig } from './config';
import {
  WORK_PREFIX,
  checkNodeLayout,
  checkpointPathOf,
  copiedBytes,
  copyLiveDatabase,
  diskFacts,
  listCheckpoints,
  removeCheckpoint,
  removeUnlisted,
  type NodeCheckpoint,
} from './node-checkpoints';
import { blockIdOf, inspectDatabase, verifyDatabase, type BlockOptions, type DatabaseFacts } from './tool';

export interface CheckpointMetadata extends JsonObject {
  /** The checkpoint's folder name on the node: its last block id. */
  checkpointId: number;
  /** The last block the checkpoint holds (its sequence number when the node has no block keys). */
  lastBlockId: number;
  lastBlockFrom: 'keys' | 'sequence';
  sequence: number;
  rocksdbVersion: string;
  source: 'chainvault' | 'node';
  manifest: string;
  columnFamilies: string[];
  files: { name: string; size: number }[];
  blockKeyPrefix: string | null;
  blockColumnFamily: string | null;
  nodePath: string;
  machine: string;
}

type Options = Partial<CheckpointOptions>;
type Ctx = BackupContext<RocksdbNodeConfig, Options, CheckpointMetadata>;

/** A file in each checkpoint folder chainvault made, so it never removes one the node made itself. */
const MARKER = 'CHAINVAULT-CHECKPOINT';
/** Attempts at a live copy before giving up: each fails only when compaction removed a file under it. */
const COPY_ATTEMPTS = 6;
const POLL_MS = 500;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });

const blockOptions = (config: Pick<RocksdbNodeConfig, 'blockKeyPrefix' | 'blockColumnFamily'>, expectBlock?: number): BlockOptions => ({
  ...(config.blockKeyPrefix ? { blockKeyPrefix: config.blockKeyPrefix } : {}),
  ...(config.blockColumnFamily ? { blockColumnFamily: config.blockColumnFamily } : {}),
  ...(expectBlock !== undefined ? { expectBlock } : {}),
});

const commandTimeout = (config: RocksdbNodeConfig) => (config.commandTimeoutSeconds ?? 300) * 1000;

function describeBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${bytes} bytes`;
}

/**
 * The folder on the chainvault host RocksDB opens: a checkpoint chainvault made on this host
 * itself, or else its mirror in the node's workspace (a node may remove its own checkpoints at
 * any time, so those are always copied first; only what the mirror lacks moves).
 */
async function bringHome(ctx: Ctx, machine: Machine, folder: string, options: { owned: boolean }): Promise<string> {
  if (machine.local && options.owned) return folder;
  const mirror = join(await ctx.workspaces.node(ctx.node!.id), 'checkpoint');
  const moved = await machine.rsyncFrom(folder, mirror);
  ctx.log.info(`copied ${folder} from ${machine.name}: ${describeBytes(moved.bytesMoved)} moved of ${describeBytes(moved.totalBytes)} (${moved.filesTransferred} files)`);
  return mirror;
}

function metadataOf(ctx: Ctx, machine: Machine, facts: DatabaseFacts, checkpoint: { id: number; path: string }, source: 'chainvault' | 'node'): CheckpointMetadata {
  const config = ctx.node!.config;
  return {
    checkpointId: checkpoint.id,
    lastBlockId: blockIdOf(facts),
    lastBlockFrom: facts.lastBlock === null ? 'sequence' : 'keys',
    sequence: facts.sequence,
    rocksdbVersion: facts.rocksdbVersion,
    source,
    manifest: facts.manifest,
    columnFamilies: facts.columnFamilies,
    files: facts.liveFiles.map((f) => ({ name: f.name, size: f.size })),
    blockKeyPrefix: config.blockKeyPrefix ?? null,
    blockColumnFamily: config.blockColumnFamily ?? null,
    nodePath: checkpoint.path,
    machine: machine.name,
  };
}

async function store(ctx: Ctx, folder: string, metadata: CheckpointMetadata): Promise<BackupOutcome<CheckpointMetadata>> {
  const summary = await ctx.artifacts.addTree(folder, { as: 'checkpoint' });
  ctx.log.info(`stored checkpoint ${metadata.checkpointId} (block ${metadata.lastBlockId}, sequence ${metadata.sequence}, RocksDB ${metadata.rocksdbVersion}): ${JSON.stringify(summary)}`);
  return { metadata };
}

function logPartial(ctx: Ctx, checkpoints: NodeCheckpoint[]): void {
  for (const partial of checkpoints.filter((c) => !c.complete)) ctx.log.info(`skipping partial checkpoint ${partial.id} at ${partial.path} (${partial.missing}): still being written, or abandoned`);
}

/** The block id the last checkpoint stood at: the newest on the node, or the last one backed up. */
function lastCheckpointBlock(ctx: Ctx, newest: NodeCheckpoint | undefined): number | null {
  const shipped = ctx.previous?.metadata.lastBlockId;
  const ids = [newest?.id, typeof shipped === 'number' ? shipped : undefined].filter((id): id is number => id !== undefined);
  return ids.length ? Math.max(...ids) : null;
}

/** chainvault makes the checkpoint of the live database, with the seed's knobs, and ships it. */
async function makeCheckpoint(ctx: Ctx, machine: Machine, options: CheckpointOptions, checkpointPath: string): Promise<BackupOutcome<CheckpointMetadata>> {
  const config = ctx.node!.config;
  const scheduled = ctx.trigger === 'schedule';
  for (const stale of (await machine.list(checkpointPath)).filter((e) => e.name.startsWith(WORK_PREFIX))) {
    await removeCheckpoint(machine, checkpointPath, join(checkpointPath, stale.name));
    ctx.log.info(`removed ${stale.name}, left by an earlier run that did not finish`);
  }
  const existing = await listCheckpoints(machine, checkpointPath);
  logPartial(ctx, existing);
  const newest = existing.filter((c) => c.complete).at(-1);
  const lastAt = Math.max(newest?.createdAt.getTime() ?? 0, ctx.previous?.createdAt.getTime() ?? 0);
  if (scheduled && lastAt > 0) {
    const age = (Date.now() - lastAt) / 1000;
    if (age < options.db_checkpoint_duration) {
      return { skipped: `the last checkpoint is ${Math.floor(age)} s old, under db_checkpoint_duration (${options.db_checkpoint_duration} s)` };
    }
  }

  const disk = await diskFacts(machine, config.dataDirectory, checkpointPath);
  const cost = await copiedBytes(machine, config.dataDirectory);
  const floor = options.db_checkpoint_diskspace_threshold * disk.databaseBytes;
  ctx.log.info(`database ${describeBytes(disk.databaseBytes)}, ${describeBytes(disk.freeBytes)} free on ${checkpointPath}; a checkpoint copies ${describeBytes(cost)} and links the rest`);
  if (disk.freeBytes - cost < floor) {
    return {
      skipped:
        `not enough free disk for a checkpoint: ${disk.freeBytes} bytes free on ${checkpointPath}, ${disk.freeBytes - cost} after the checkpoint's ${cost} copied bytes, ` +
        `under db_checkpoint_diskspace_threshold ${options.db_checkpoint_diskspace_threshold} × the database's ${disk.databaseBytes} bytes = ${Math.ceil(floor)} bytes`,
    };
  }

  const work = join(checkpointPath, `${WORK_PREFIX}${Date.now()}`);
  let facts: DatabaseFacts | undefined;
  let home = work;
  try {
    for (let attempt = 1; !facts; attempt++) {
      ctx.signal.throwIfAborted();
      if (!(await copyLiveDatabase(machine, config.dataDirectory, work))) {
        if (attempt >= COPY_ATTEMPTS) throw new PluginError('INCONSISTENT', `the database at ${config.dataDirectory} changed its MANIFEST under each of ${COPY_ATTEMPTS} copies`, { retryable: true });
        ctx.log.info(`the database started a new MANIFEST during copy ${attempt}; copying again`);
        continue;
      }
      home = await bringHome(ctx, machine, work, { owned: true });
      try {
        facts = await inspectDatabase(ctx.commands, home, blockOptions(config));
      } catch (error) {
        // Only a file that went missing is a race with compaction; anything else (corruption, a format too new) is said at once.
        if (attempt >= COPY_ATTEMPTS || !/No such file|missing|not found/i.test((error as Error).message)) throw error;
        ctx.log.info(`copy ${attempt} does not open (${(error as Error).message}): a compaction removed a file under it; copying again`);
      }
    }
    const extra = await removeUnlisted(machine, work, new Set(facts.liveFiles.map((f) => f.name)));
    if (!machine.local) for (const name of extra) await rm(join(home, name), { force: true });
    if (extra.length) ctx.log.info(`left out ${extra.length} SST file(s) compaction had replaced: ${extra.join(', ')}`);
    const blockId = blockIdOf(facts);
    const last = lastCheckpointBlock(ctx, newest);
    if (scheduled && last !== null && blockId - last < options.dbcheckpoint_window) {
      await removeCheckpoint(machine, checkpointPath, work);
      return {
        skipped: `${Math.max(0, blockId - last)} blocks executed since the last checkpoint (block ${last}; the database is at ${blockId}), under dbcheckpoint_window (${options.dbcheckpoint_window})`,
      };
    }
    const final = join(checkpointPath, String(blockId));
    if (await machine.stat(final)) {
      if (!(await machine.stat(join(final, MARKER)))) {
        // The node made one at the same block itself: it stays, and is the one shipped.
        await removeCheckpoint(machine, checkpointPath, work);
        ctx.log.info(`the node already has a checkpoint at block ${blockId}; shipping that one`);
        return await store(ctx, await bringHome(ctx, machine, final, { owned: false }), metadataOf(ctx, machine, facts, { id: blockId, path: final }, 'node'));
      }
      await removeCheckpoint(machine, checkpointPath, final);
    }
    await machine.writeFile(join(work, MARKER), `made by chainvault at ${new Date().toISOString()}\n`);
    await machine.run(['mv', '--', work, final], { logged: false });
    if (machine.local) home = final;
    ctx.log.info(`made checkpoint ${blockId} of the live database at ${final} (${facts.liveFiles.length} SST files, sequence ${facts.sequence})`);
    // Only chainvault's own checkpoints are removed: those the node made are the node's to keep.
    const complete = [];
    for (const c of await listCheckpoints(machine, checkpointPath)) if (c.complete && c.id !== blockId && (await machine.stat(join(c.path, MARKER)))) complete.push(c);
    const excess = complete.length + 1 - options.num_of_rocksdbcheckpoints;
    for (const old of complete.slice(0, Math.max(0, excess))) {
      await removeCheckpoint(machine, checkpointPath, old.path);
      ctx.log.info(`removed checkpoint ${old.id} from the node: num_of_rocksdbcheckpoints is ${options.num_of_rocksdbcheckpoints}`);
    }
    return await store(ctx, home, metadataOf(ctx, machine, facts, { id: blockId, path: final }, 'chainvault'));
  } finally {
    if (!ctx.signal.aborted && (await machine.stat(work).catch(() => null))) await removeCheckpoint(machine, checkpointPath, work).catch(() => undefined);
  }
}

/** Ships the newest checkpoint the node made itself (asking for one first on a manual run, when the node has the command). */
async function shipNodeCheckpoint(ctx: Ctx, machine: Machine, options: CheckpointOptions, checkpointPath: string): Promise<BackupOutcome<CheckpointMetadata>> {
  const config = ctx.node!.config;
  const scheduled = ctx.trigger === 'schedule';
  let checkpoints = await listCheckpoints(machine, checkpointPath);
  if (!scheduled && config.commands?.createCheckpoint) {
    const before = checkpoints.filter((c) => c.complete).at(-1)?.id ?? -1;
    await machine.run(config.commands.createCheckpoint, { timeoutMs: commandTimeout(config) });
    ctx.log.info(`asked the node for a checkpoint; waiting up to ${options.createTimeoutSeconds} s for it to appear in ${checkpointPath}`);
    const deadline = Date.now() + options.createTimeoutSeconds * 1000;
    while (!checkpoints.some((c) => c.complete && c.id > before)) {
      if (Date.now() > deadline) {
        throw new PluginError('TIMEOUT', `the node made no checkpoint newer than block ${before} in ${checkpointPath} within ${options.createTimeoutSeconds} s of its createCheckpoint command`);
      }
      await sleep(POLL_MS, ctx.signal);
      checkpoints = await listCheckpoints(machine, checkpointPath);
    }
  }
  if (config.commands?.checkpointStatus) await machine.run(config.commands.checkpointStatus, { timeoutMs: commandTimeout(config) });
  logPartial(ctx, checkpoints);
  const shipped = ctx.previous?.metadata.lastBlockId;
  // The node keeps only its newest few: one may go while it is copied, and the next newest is taken.
  for (let attempt = 1; ; attempt++) {
    const newest = checkpoints.filter((c) => c.complete).at(-1);
    if (!newest) return { skipped: `the node has no complete checkpoint in ${checkpointPath} yet` };
    if (typeof shipped === 'number' && newest.id <= shipped) return { skipped: `no checkpoint newer than block ${shipped}, the last one backed up (the newest on the node is ${newest.id})` };
    if (scheduled && typeof shipped === 'number' && newest.id - shipped < options.dbcheckpoint_window) {
      return { skipped: `${newest.id - shipped} blocks executed since the last checkpoint backed up (block ${shipped}; the node's newest is ${newest.id}), under dbcheckpoint_window (${options.dbcheckpoint_window})` };
    }
    try {
      const home = await bringHome(ctx, machine, newest.path, { owned: false });
      const facts = await inspectDatabase(ctx.commands, home, blockOptions(config, config.blockKeyPrefix ? newest.id : undefined));
      ctx.log.info(`checkpoint ${newest.id} opens with RocksDB ${facts.rocksdbVersion}: sequence ${facts.sequence}, ${facts.liveFiles.length} SST files`);
      return await store(ctx, home, metadataOf(ctx, machine, facts, newest, 'node'));
    } catch (error) {
      if (attempt >= COPY_ATTEMPTS || (await machine.stat(join(newest.path, 'CURRENT')))) throw error;
      ctx.log.info(`the node removed checkpoint ${newest.id} while it was copied; taking its newest again`);
      checkpoints = await listCheckpoints(machine, checkpointPath);
    }
  }
}

async function backup(ctx: Ctx): Promise<BackupOutcome<CheckpointMetadata>> {
  const options = withDefaults(ctx.options);
  const config = ctx.node!.config;
  if (!options.FEATURE_db_checkpoints) return { skipped: 'checkpoints are turned off for this policy (FEATURE_db_checkpoints is false)' };
  const machine = await ctx.machines.get(config.machine);
  const checkpointPath = checkpointPathOf(config, options);
  await checkNodeLayout(machine, config, checkpointPath);
  return options.source === 'node' ? shipNodeCheckpoint(ctx, machine, options, checkpointPath) : makeCheckpoint(ctx, machine, options, checkpointPath);
}

/** What the restore saved before each step, so a cleanup after a crash knows where the data is. */
interface RestoreState extends JsonObject {
  dataDirectory: string;
  incoming: string;
  aside: string;
  incomingReady: boolean;
  stopped: boolean;
  asideDone: boolean;
  placed: boolean;
}

async function startNode(ctx: { log: { info(m: string): void } }, machine: Machine, config: RocksdbNodeConfig): Promise<void> {
  if (!config.commands?.start) return;
  await machine.run(config.commands.start, { timeoutMs: commandTimeout(config) });
  ctx.log.info(`started the node on ${machine.name}`);
}

async function restore(ctx: RestoreContext<RocksdbNodeConfig, JsonObject, CheckpointMetadata>) {
  const config = ctx.target.config;
  const meta = ctx.backup.metadata;
  const name = ctx.target.node ? `node ${ctx.target.node.name}` : config.dataDirectory;
  const staging = join(ctx.tempDir, 'checkpoint');
  await ctx.artifacts.extractTree(staging, { from: 'checkpoint' });
  const expect = meta.lastBlockFrom === 'keys' ? meta.lastBlockId : undefined;
  const checked = await inspectDatabase(ctx.commands, staging, blockOptions({ blockKeyPrefix: meta.blockKeyPrefix ?? undefined, blockColumnFamily: meta.blockColumnFamily ?? undefined }, expect));
  ctx.log.info(`checkpoint ${meta.checkpointId} opens with RocksDB: block ${blockIdOf(checked)}, sequence ${checked.sequence}`);

  const machine = await ctx.machines.get(config.machine);
  const dataDirectory = normalize(config.dataDirectory).replace(/\/+$/, '');
  const parent = dataDirectory.slice(0, dataDirectory.lastIndexOf('/')) || '/';
  if (!(await machine.stat(parent))) throw new PluginError('INVALID_TARGET', `the folder ${parent} that holds ${dataDirectory} does not exist on ${machine.name}`);
  if (!config.commands?.stop && (await machine.stat(dataDirectory))) {
    throw new PluginError(
      'INVALID_TARGET',
      `${name} has data at ${dataDirectory} and no stop command: the node may be using it, so nothing was changed; give the node commands.stop and commands.start, or restore into a folder that does not exist yet`,
    );
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const state: RestoreState = {
    dataDirectory,
    incoming: `${dataDirectory}.chainvault-incoming`,
    aside: `${dataDirectory}.before-restore-${stamp}`,
    incomingReady: false,
    stopped: false,
    asideDone: false,
    placed: false,
  };
  const save = async (patch: Partial<RestoreState>) => {
    Object.assign(state, patch);
    await ctx.state.save({ ...state });
  };
  // The checkpoint goes next to the data first, while the node still runs: the stop is short.
  await machine.run(['rm', '-rf', '--', state.incoming], { logged: false });
  const moved = await machine.rsyncTo(staging, state.incoming);
  ctx.log.info(`copied the checkpoint to ${state.incoming} on ${machine.name} (${describeBytes(moved.bytesMoved)})`);
  await save({ incomingReady: true });
  let failed = true;
  try {
    if (config.commands?.stop) {
      await save({ stopped: true });
      await machine.run(config.commands.stop, { timeoutMs: commandTimeout(config) });
      ctx.log.info(`stopped ${name}`);
    }
    if (await machine.stat(dataDirectory)) {
      await machine.run(['mv', '--', dataDirectory, state.aside]);
      await save({ asideDone: true });
      ctx.log.info(`kept the current data aside at ${state.aside} (the restore never deletes it)`);
    }
    await machine.run(['mv', '--', state.incoming, dataDirectory]);
    await save({ placed: true });
    ctx.log.info(`put checkpoint ${meta.checkpointId} in place at ${dataDirectory}`);
    if (machine.local) {
      const placed = await inspectDatabase(ctx.commands, dataDirectory, blockOptions({ blockKeyPrefix: meta.blockKeyPrefix ?? undefined, blockColumnFamily: meta.blockColumnFamily ?? undefined }, expect));
      ctx.log.info(`RocksDB opens ${dataDirectory}: block ${blockIdOf(placed)}, sequence ${placed.sequence}`);
    } else {
      await checkSameFiles(machine, dataDirectory, staging);
      ctx.log.info(`${dataDirectory} on ${machine.name} holds every file of the checkpoint RocksDB opened, with the same sizes`);
    }
    failed = false;
    return { details: { dataDirectory, keptAside: state.asideDone ? state.aside : null, lastBlockId: meta.lastBlockId, checkpointId: meta.checkpointId } };
  } finally {
    if (!ctx.signal.aborted) {
      try {
        if (failed && state.asideDone) await putBack(ctx, machine, state, stamp);
      } finally {
        if (state.stopped) await startNode(ctx, machine, config);
        await save({ stopped: false });
      }
    }
  }
}

/** After a failed restore: the new data moved out of the way, the old data back in place. */
async function putBack(ctx: { log: { info(m: string): void } }, machine: Machine, state: RestoreState, stamp: string): Promise<void> {
  if (state.placed) await machine.run(['mv', '--', state.dataDirectory, `${state.dataDirectory}.failed-restore-${stamp}`]);
  await machine.run(['mv', '--', state.aside, state.dataDirectory]);
  ctx.log.info(`the restore failed: put the old data back at ${state.dataDirectory}`);
}

async function checkSameFiles(machine: Machine, remote: string, local: string): Promise<void> {
  const there = new Map((await machine.list(remote)).map((e) => [e.name, e.size]));
  for (const name of await readdir(local)) {
    const size = (await stat(join(local, name))).size;
    if (there.get(name) !== size) throw new PluginError('INCONSISTENT', `${join(remote, name)} on ${machine.name} is ${there.has(name) ? `${there.get(name)} bytes, not ${size}` : 'missing'} after the copy`);
  }
}

/**
 * After a restore that stopped its node did not finish. When the server stopped (a crash or a
 * shutdown), the restore is carried through: the checkpoint, copied and opened before the stop,
 * goes in place and the old data stays aside. When it was cancelled or failed, it is undone: the
 * old data goes back. Either way the node is started again.
 */
async function cleanup(ctx: CleanupContext<RocksdbNodeConfig>): Promise<void> {
  if (ctx.kind !== 'restore') return;
  const saved = ctx.saved as Partial<RestoreState>;
  const target = ctx.targets?.[0];
  if (!target || !saved.dataDirectory || !saved.stopped) return;
  const machine = await ctx.machines.get(target.config.machine);
  const exists = async (path: string | undefined) => Boolean(path && (await machine.stat(path)));
  // The stop may have been cut off: it must have finished before any folder moves (a stop that fails on a stopped node is no reason not to start it).
  if (target.config.commands?.stop) {
    await machine.run(target.config.commands.stop, { timeoutMs: commandTimeout(target.config) }).catch((error: Error) => ctx.log.warn(`the stop command failed (${error.message}); going on`));
  }
  const forward = ctx.reason === 'crashed' || ctx.reason === 'shutdown';
  if (forward && !saved.placed && saved.incomingReady && (await exists(saved.incoming))) {
    if (!saved.asideDone && (await exists(saved.dataDirectory))) await machine.run(['mv', '--', saved.dataDirectory, saved.aside!]);
    await machine.run(['mv', '--', saved.incoming!, saved.dataDirectory]);
    ctx.log.info(`the server stopped during the restore: its checkpoint, copied and opened before the node was stopped, is now in place at ${saved.dataDirectory}; the old data is kept aside at ${saved.aside}`);
  } else if (!forward && (await exists(saved.aside))) {
    if (await exists(saved.dataDirectory)) await machine.run(['mv', '--', saved.dataDirectory, `${saved.dataDirectory}.cancelled-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`]);
    await machine.run(['mv', '--', saved.aside!, saved.dataDirectory]);
    ctx.log.info(`the restore was ${ctx.reason}: the old data is back at ${saved.dataDirectory}`);
  } else if (await exists(saved.aside)) {
    ctx.log.info(`the old data stays aside at ${saved.aside}`);
  }
  await startNode(ctx, machine, target.config);
}

async function verify(ctx: VerifyContext<Options, CheckpointMetadata>) {
  const meta = ctx.backup.metadata;
  const folder = join(ctx.tempDir, 'checkpoint');
  await ctx.artifacts.extractTree(folder, { from: 'checkpoint' });
  const problems: string[] = [];
  let facts: DatabaseFacts | undefined;
  try {
    facts = await verifyDatabase(ctx.commands, folder, blockOptions({ blockKeyPrefix: meta.blockKeyPrefix ?? undefined, blockColumnFamily: meta.blockColumnFamily ?? undefined }));
  } catch (error) {
    problems.push((error as Error).message.replaceAll(folder, 'checkpoint'));
  }
  if (facts) {
    if (blockIdOf(facts) !== meta.lastBlockId) problems.push(`the checkpoint holds block ${blockIdOf(facts)}, but the backup recorded block ${meta.lastBlockId}`);
    if (facts.sequence !== meta.sequence) problems.push(`the checkpoint's sequence number is ${facts.sequence}, but the backup recorded ${meta.sequence}`);
    const recorded = new Set(meta.files.map((f) => f.name));
    for (const file of facts.liveFiles) if (!recorded.has(file.name)) problems.push(`${file.name} is in the MANIFEST but not in the backup's file list`);
  }
  return { problems, checked: { sstFiles: facts?.checkedFiles ?? 0, files: meta.files.length } };
}

async function inventory(ctx: InventoryContext<RocksdbNodeConfig, Options>) {
  const options = withDefaults(ctx.options);
  const machine = await ctx.machines.get(ctx.node.config.machine);
  const checkpointPath = checkpointPathOf(ctx.node.config, options);
  return (await listCheckpoints(machine, checkpointPath)).map((c) => ({
    id: String(c.id),
    path: c.path,
    createdAt: c.createdAt,
    sizeBytes: c.sizeBytes,
    lastBlockId: String(c.id),
    complete: c.complete,
    ...(c.missing ? { details: { missing: c.missing } } : {}),
  }));
}

export default definePlugin<RocksdbNodeConfig>({
  id: 'rocksdb',
  protocols: ['rocksdb', 'concord'],
  description: 'Online checkpoint backups of live RocksDB databases (VMware Blockchain replicas and others).',
  nodeConfigSchema,
  checkNodeConfig,
  dataLocations: (config) => [{ ...(config.machine ? { machine: config.machine } : {}), path: config.dataDirectory }],
  methods: {
    checkpoint: {
      scope: 'node',
      exclusive: true,
      restoreStopsNodes: true,
      description: "Ships a checkpoint of the live database (made by chainvault, or the node's own), with no maintenance window.",
      optionsSchema,
      checkRestoreTarget: ({ target }) => {
        try {
          checkNodeConfig(target.config);
        } catch (error) {
          throw new PluginError('INVALID_TARGET', (error as Error).message);
        }
      },
      backup,
      restore,
      cleanup,
      verify,
      inventory,
    },
  },
});
