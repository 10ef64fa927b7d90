/**
 * chainvault's VMware Blockchain plugin: the intermittent backup of a whole replica network as
 * one job (seed 001). Hourly `sync` runs keep a mirror of each replica; inside a maintenance
 * window, `intermittent` stops the clients, wedges the replicas at one checkpoint, stops them,
 * proves they stopped at one block, copies what changed since the last sync, archives the
 * clients' files, and always starts everything again.
 */
import {
  PluginError,
  definePlugin,
  type BackupContext,
  type BackupOutcome,
  type CleanupContext,
  type JsonObject,
  type RestoreContext,
  type RestoreOutcome,
  type RestoreTarget,
} from '@chainvault/plugin-sdk';
import { join } from 'node:path';
import {
  DEFAULT_CLIENT_FILES,
  DEFAULT_INTERMITTENT,
  DEFAULT_SYNC,
  checkNodeConfig,
  intermittentOptionsSchema,
  nodeConfigSchema,
  restoreOptionsSchema,
  syncOptionsSchema,
  type IntermittentOptions,
  type SyncOptions,
  type VmbcNodeConfig,
} from './config';
import { Network, addressOf, agentUrlOf, dataDirectoryOf, timeoutOf, type VmbcNode } from './network';

export interface ReplicaRecord extends JsonObject {
  name: string;
  lastBlockId: number;
  lastReachableBlockId: number;
  bytesMoved: number;
}

export interface IntermittentMetadata extends JsonObject {
  blockId: number;
  replicas: ReplicaRecord[];
  clients: { name: string; archive: string; files: string[] }[];
  /** Seconds from the first stop to the last start. */
  consistentRunSeconds: number;
  /** The replicas stopped at different blocks and the policy accepted it (acceptLag); blockId is the highest. */
  lagAccepted: boolean;
}

/** What a run saved before each disruptive step, so a cleanup knows what to start again. */
interface RunState extends JsonObject {
  stoppedClients: string[];
  stoppedReplicas: string[];
  wedged: boolean;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });

const mirrorOf = async (ctx: { workspaces: { node(id: string): Promise<string> } }, node: VmbcNode) => join(await ctx.workspaces.node(node.id), 'mirror');

function rolesOf(nodes: VmbcNode[]) {
  const replicas = nodes.filter((n) => n.role === 'replica').sort((a, b) => a.name.localeCompare(b.name));
  const clients = nodes.filter((n) => n.role === 'client').sort((a, b) => a.name.localeCompare(b.name));
  return { replicas, clients };
}

function operatorOf(clients: VmbcNode[]): VmbcNode {
  const operators = clients.filter((c) => c.config.operatorCommand);
  if (operators.length !== 1) {
    throw new PluginError('INVALID_CONFIG', operators.length === 0 ? 'no client of the network runs the operator: give one client an operatorCommand' : `several clients have an operatorCommand (${operators.map((o) => o.name).join(', ')}): give it to one`);
  }
  return operators[0];
}

/** `sync`: an online rsync of one replica's data into its own mirror, delta only (the seed's hourly job). */
async function sync(ctx: BackupContext<VmbcNodeConfig, Partial<SyncOptions>>): Promise<BackupOutcome> {
  const node = ctx.node!;
  if (node.role !== 'replica') throw new PluginError('INVALID_CONFIG', `sync backs up replicas; ${node.name} is a ${node.role}`);
  const options = { ...DEFAULT_SYNC, ...ctx.options };
  const mirror = await mirrorOf(ctx, node);
  const network = new Network(ctx.machines, ctx.log);
  const machine = await network.machineOf(node);
  let bytesMoved = 0;
  if (options.via === 'agent') {
    // The seed's own route: the agent keeps an hourly schedule of its own (set, or set again, here)
    // and is asked to push now; chainvault's host is the backup server.
    const destination = options.backupServer ? `${options.backupServer}:${mirror}` : mirror;
    const body = { backup_destination: destination, rsync_user_name: options.rsyncUser, backup_time_zone: options.timeZone };
    for (const action of ['schedule', 'run_now'] as const) {
      const answer = await machine.request(`${agentUrlOf(node)}/api/backup?action=${action}`, {
        method: 'POST',
        body: action === 'schedule' ? { ...body, schedule_frequency: options.scheduleFrequency } : body,
        timeoutMs: timeoutOf(node),
      });
      if (answer.status < 200 || answer.status >= 300) throw new PluginError('COMMAND_FAILED', `the agent of ${node.name} answered ${answer.status} to ${action}: ${answer.body.slice(0, 300)}`);
      if (action === 'run_now') {
        try {
          bytesMoved = Number((JSON.parse(answer.body) as { transferredBytes?: number }).transferredBytes ?? 0);
        } catch {
          ctx.log.warn(`the agent of ${node.name} answered run_now with something that is not JSON: ${answer.body.slice(0, 200)}`);
        }
      }
    }
    ctx.log.info(`the agent of ${node.name} pushed its data to ${destination} (${bytesMoved} bytes), and pushes ${options.scheduleFrequency.toLowerCase()} on its own`);
  } else {
    const moved = await machine.rsyncFrom(dataDirectoryOf(node), mirror, { retries: 5 });
    bytesMoved = moved.bytesMoved;
    ctx.log.info(`synced ${node.name}: ${moved.bytesMoved} bytes moved of ${moved.totalBytes} (${moved.filesTransferred} files)`);
  }
  ctx.progress.update({ unit: 'bytes', done: bytesMoved, message: `synced ${node.name}` });
  // The mirror of a running replica is not a consistent copy: it is kept for the next consistent run, and recorded as such.
  await ctx.artifacts.addTree(mirror, { as: `replicas/${node.name}` });
  return { metadata: { consistent: false, replica: node.name, bytesMoved } };
}

/** Starts again, in order, what a run stopped: replicas, unwedge, clients. Every step is tried; the first error is returned. */
async function restartNetwork(network: Network, nodes: VmbcNode[], state: RunState, save: (s: RunState) => Promise<void>, options: IntermittentOptions, signal: AbortSignal, log: { info(m: string): void; error(m: string): void }): Promise<unknown> {
  const { replicas, clients } = rolesOf(nodes);
  let first: unknown;
  const attempt = async (what: string, step: () => Promise<void>) => {
    try {
      await step();
    } catch (error) {
      first ??= error;
      log.error(`${what} failed: ${(error as Error).message}`);
    }
  };
  for (const replica of replicas.filter((r) => state.stoppedReplicas.includes(r.id))) {
    await attempt(`starting replica ${replica.name}`, async () => {
      await network.manage(replica, 'start');
      await save({ ...state, stoppedReplicas: (state.stoppedReplicas = state.stoppedReplicas.filter((id) => id !== replica.id)) });
    });
  }
  if (state.wedged) {
    await attempt('unwedging the replicas', async () => {
      const operator = operatorOf(clients);
      const answer = await network.concop(operator, ['unwedge'], options.wedgeCommandTimeoutSeconds * 1000);
      if (answer.succ !== true) throw new PluginError('COMMAND_FAILED', `concop unwedge answered ${JSON.stringify(answer)}`);
      if (!(await waitForWedge(network, operator, replicas, false, options, signal, log))) {
        throw new PluginError('TIMEOUT', `the replicas still report wedged ${options.wedgeTimeoutSeconds} s after concop unwedge`);
      }
      await save({ ...state, wedged: (state.wedged = false) });
      log.info('unwedged the replicas: wedge status is false on every one');
    });
  }
  for (const client of clients.filter((c) => state.stoppedClients.includes(c.id))) {
    await attempt(`starting client ${client.name}`, async () => {
      await network.manage(client, 'start');
      await save({ ...state, stoppedClients: (state.stoppedClients = state.stoppedClients.filter((id) => id !== client.id)) });
    });
  }
  return first;
}

/** Polls `concop wedge status` until every replica reports `wanted`; false when the timeout passes first. */
async function waitForWedge(
  network: Network,
  operator: VmbcNode,
  replicas: VmbcNode[],
  wanted: boolean,
  options: IntermittentOptions,
  signal: AbortSignal,
  log: { info(m: string): void },
  beforeEachPoll?: () => void,
): Promise<boolean> {
  const deadline = Date.now() + options.wedgeTimeoutSeconds * 1000;
  let last = '';
  for (;;) {
    beforeEachPoll?.();
    const status = await network.concop(operator, ['wedge', 'status'], options.wedgeCommandTimeoutSeconds * 1000);
    const pending = replicas.filter((r) => (status[addressOf(r)] === true) !== wanted);
    const line = pending.length ? `wedge status: waiting for ${pending.map((r) => `${r.name} (${addressOf(r)})`).join(', ')} to be ${wanted}` : '';
    if (pending.length === 0) return true;
    if (line !== last) log.info(line);
    last = line;
    if (Date.now() > deadline) return false;
    await sleep(options.wedgePollSeconds * 1000, signal);
  }
}

async function intermittent(ctx: BackupContext<VmbcNodeConfig, Partial<IntermittentOptions>>): Promise<BackupOutcome<IntermittentMetadata>> {
  const options = { ...DEFAULT_INTERMITTENT, ...ctx.options };
  const { replicas, clients } = rolesOf(ctx.nodes);
  if (replicas.length === 0) throw new PluginError('INVALID_CONFIG', 'the network has no replica nodes');
  const operator = operatorOf(clients);
  if (!ctx.windowEndsAt) {
    throw new PluginError('INVALID_OPTIONS', 'the intermittent backup stops the network, so it runs only inside a maintenance window: give the policy maintenanceWindows');
  }
  const network = new Network(ctx.machines, ctx.log);
  const totalSteps = 9;
  let step = 0;
  const stepDone = (message: string) => ctx.progress.update({ unit: 'steps', done: ++step, total: totalSteps, message });
  /** Refuses to go on when the window would close before the run could restart the network. */
  const windowCheck = (next: string) => {
    if (ctx.windowEndsAt && Date.now() > ctx.windowEndsAt.getTime() - options.windowMarginSeconds * 1000) {
      throw new PluginError('TIMEOUT', `the maintenance window closes at ${ctx.windowEndsAt.toISOString()}: stopped before ${next} (${step} of ${totalSteps} steps done), and the network is started again`);
    }
  };

  // 1. Health: every replica answering, none in state transfer.
  const problems: string[] = [];
  for (const node of [...replicas, ...clients]) {
    try {
      const status = await network.status(node);
      if (!status.running) problems.push(`${node.name} is not running`);
      else if (node.role === 'replica' && status.stateTransfer) problems.push(`replica ${node.name} is in state transfer`);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length) throw new PluginError('INCONSISTENT', `the network is not healthy, so nothing was stopped: ${problems.join('; ')}`);
  stepDone('the network is healthy');

  const state: RunState = { stoppedClients: [], stoppedReplicas: [], wedged: false };
  const save = (s: RunState) => ctx.state.save({ ...s });
  let stoppedAt = 0;
  let failure: unknown;
  const replicaRecords: ReplicaRecord[] = [];
  const snapshots = new Map<string, string>();
  const clientRecords: IntermittentMetadata['clients'] = [];
  try {
    // 2. Stop the clients (the applications using the ledger are the operator's to stop).
    windowCheck('stopping the clients');
    stoppedAt = Date.now();
    for (const client of clients) {
      await save({ ...state, stoppedClients: (state.stoppedClients = [...state.stoppedClients, client.id]) });
      await network.manage(client, 'stop');
    }
    stepDone('clients stopped');

    // 3. Wedge: all replicas stop at the same checkpoint. A wedge that times out is issued again.
    windowCheck('wedging the replicas');
    await save({ ...state, wedged: (state.wedged = true) });
    let wedged = false;
    for (let attempt = 1; !wedged; attempt++) {
      windowCheck(`wedge attempt ${attempt}`);
      try {
        const answer = await network.concop(operator, ['wedge', 'stop'], options.wedgeCommandTimeoutSeconds * 1000);
        if (answer.succ !== true) throw new PluginError('COMMAND_FAILED', `concop wedge stop answered ${JSON.stringify(answer)}`);
        wedged = await waitForWedge(network, operator, replicas, true, options, ctx.signal, ctx.log, () => windowCheck('the replicas reported wedged'));
        if (!wedged) ctx.log.warn(`the replicas did not all report wedged within ${options.wedgeTimeoutSeconds} s (attempt ${attempt} of ${options.wedgeAttempts})`);
      } catch (error) {
        if (ctx.signal.aborted || (error as PluginError).code !== 'TIMEOUT') throw error;
        ctx.log.warn(`concop wedge stop timed out (attempt ${attempt} of ${options.wedgeAttempts}): ${(error as Error).message}`);
      }
      if (!wedged && attempt >= options.wedgeAttempts) throw new PluginError('TIMEOUT', `the replicas did not wedge after ${options.wedgeAttempts} attempts`);
      if (!wedged) ctx.log.info('issuing the wedge again, as the procedure says');
    }
    stepDone('replicas wedged');

    // 4. Stop the replicas.
    windowCheck('stopping the replicas');
    for (const replica of replicas) {
      await save({ ...state, stoppedReplicas: (state.stoppedReplicas = [...state.stoppedReplicas, replica.id]) });
      await network.manage(replica, 'stop');
    }
    stepDone('replicas stopped');

    // 5. Every replica stopped at one block: last block id = last reachable block id, and the same on all.
    const ids: { replica: VmbcNode; lastBlockId: number; lastReachableBlockId: number }[] = [];
    for (const replica of replicas) ids.push({ replica, ...(await network.blockIds(replica)) });
    for (const id of ids) ctx.log.info(`${id.replica.name}: last block id ${id.lastBlockId}, last reachable block id ${id.lastReachableBlockId}`);
    const lagging = ids.filter((i) => i.lastBlockId !== i.lastReachableBlockId || i.lastBlockId !== ids[0].lastBlockId);
    if (lagging.length && !options.acceptLag) {
      throw new PluginError(
        'INCONSISTENT',
        `the replicas did not stop at one block: ${ids.map((i) => `${i.replica.name} last block id ${i.lastBlockId}, last reachable ${i.lastReachableBlockId}`).join('; ')}; a lagging replica must catch up (state transfer) before a consistent backup`,
      );
    }
    if (lagging.length) ctx.log.warn(`going on with lagging replicas (acceptLag): ${lagging.map((i) => i.replica.name).join(', ')}`);
    stepDone(`replicas stopped at block ${ids[0].lastBlockId}`);

    // 6. The final rsync of each replica into its mirror (only what changed since the last sync). The
    // mirrors are stored after the restart: once the rsync ends they are a consistent copy, and the
    // network need not stay down while the repository reads them.
    windowCheck('copying the replicas');
    let bytes = 0;
    for (const id of ids) {
      windowCheck(`copying ${id.replica.name}`);
      const machine = await network.machineOf(id.replica);
      const mirror = await mirrorOf(ctx, id.replica);
      const moved = await machine.rsyncFrom(dataDirectoryOf(id.replica), mirror, { retries: 5 });
      bytes += moved.bytesMoved;
      ctx.progress.update({ unit: 'bytes', done: bytes, message: `copied ${id.replica.name}` });
      ctx.log.info(`copied ${id.replica.name}: ${moved.bytesMoved} bytes moved of ${moved.totalBytes} (${moved.filesTransferred} files) since the last sync`);
      // A hard-linked snapshot of the mirror, taken while the replica is stopped: whatever writes into the
      // mirror later (a sync, the agent's own schedule) replaces files and leaves the snapshot's as they are.
      const snapshot = `${mirror}-snapshot`;
      await ctx.commands.run('rm', ['-rf', '--', snapshot]);
      await ctx.commands.run('cp', ['-al', '--', mirror, snapshot]);
      snapshots.set(id.replica.name, snapshot);
      replicaRecords.push({ name: id.replica.name, lastBlockId: id.lastBlockId, lastReachableBlockId: id.lastReachableBlockId, bytesMoved: moved.bytesMoved });
    }
    stepDone('replicas copied');

    // 7. The clients' files as .tar.gz.
    for (const client of clients) {
      const files = [...(client.config.clientFiles ?? DEFAULT_CLIENT_FILES), ...(options.includeClientDatabase && client.config.clientDatabase ? [client.config.clientDatabase] : [])];
      const machine = await network.machineOf(client);
      const archive = `clients/${client.name}.tar.gz`;
      const tar = machine.spawn(['tar', 'czf', '-', '-C', '/', ...files.map((f) => f.replace(/^\/+/, ''))], { timeoutMs: timeoutOf(client) });
      tar.stdin.end();
      const [stored] = await Promise.all([ctx.artifacts.writeFile(archive, tar.stdout), tar.done]);
      ctx.log.info(`archived ${files.length} path(s) of client ${client.name} as ${archive} (${stored.size} bytes)`);
      clientRecords.push({ name: client.name, archive, files });
    }
    stepDone('client files archived');
  } catch (error) {
    failure = error;
  } finally {
    // 8–9. Whatever happened after the first stop: replicas started, unwedged, clients started.
    if (!ctx.signal.aborted && stoppedAt > 0) {
      const restartError = await restartNetwork(network, ctx.nodes, state, save, options, ctx.signal, ctx.log);
      failure ??= restartError;
      if (!restartError) stepDone('network started and unwedged');
    }
  }
  if (failure) throw failure;
  const seconds = (Date.now() - stoppedAt) / 1000;
  ctx.log.info(`consistent run: ${seconds.toFixed(1)} s from the first stop to the last start`);
  // The network runs again; the mirrors hold the copy taken while it was stopped (no sync runs meanwhile: a network run and a node run never overlap).
  try {
    for (const record of replicaRecords) {
      await ctx.artifacts.addTree(snapshots.get(record.name)!, { as: `replicas/${record.name}` });
      ctx.log.info(`stored the copy of ${record.name} at block ${record.lastBlockId}`);
    }
  } finally {
    for (const snapshot of snapshots.values()) await ctx.commands.run('rm', ['-rf', '--', snapshot]).catch(() => undefined);
  }
  stepDone('done');
  const blockIds = replicaRecords.map((r) => r.lastBlockId);
  return {
    metadata: {
      blockId: Math.max(...blockIds),
      lagAccepted: new Set(blockIds).size > 1,
      replicas: replicaRecords,
      clients: clientRecords,
      consistentRunSeconds: Math.round(seconds * 10) / 10,
    },
  };
}

/** After a cancel, a shutdown or a crash: every replica and client the run stopped is started, and the replicas unwedged. */
async function cleanup(ctx: CleanupContext<VmbcNodeConfig>): Promise<void> {
  if (ctx.kind === 'restore') return restoreCleanup(ctx);
  const saved = ctx.saved as Partial<RunState>;
  const state: RunState = { stoppedClients: saved.stoppedClients ?? [], stoppedReplicas: saved.stoppedReplicas ?? [], wedged: saved.wedged === true };
  if (!state.stoppedClients.length && !state.stoppedReplicas.length && !state.wedged) return;
  const options = { ...DEFAULT_INTERMITTENT, ...(ctx.options as Partial<IntermittentOptions>), wedgePollSeconds: 1 };
  const failure = await restartNetwork(new Network(ctx.machines, ctx.log), ctx.nodes, state, async () => undefined, options, ctx.signal, ctx.log);
  if (failure) throw failure;
}

/** Restore sets: replicas first, then the clients' config archives. */
function restorePhases(targets: RestoreTarget<VmbcNodeConfig>[]) {
  const ids = (role: string) => targets.filter((t) => t.node?.role === role).map((t) => t.node!.id);
  return [
    { name: 'replicas', nodeIds: ids('replica') },
    { name: 'clients', nodeIds: targets.filter((t) => t.node?.role !== 'replica').map((t) => t.node!.id) },
  ].filter((p) => p.nodeIds.length > 0);
}

/** The source node a target takes its data from: the one of the same name, else the one at the same place among its role. */
function sourceFor(ctx: RestoreContext<VmbcNodeConfig>): VmbcNode {
  const target = ctx.target.node;
  const role = target?.role ?? 'replica';
  const same = target && ctx.sources.find((s) => s.name === target.name);
  if (same) return same;
  const sources = ctx.sources.filter((s) => s.role === role).sort((a, b) => a.name.localeCompare(b.name));
  const peers = (ctx.phase?.allTargets ?? [ctx.target]).filter((t) => (t.node?.role ?? 'replica') === role).sort((a, b) => (a.node?.name ?? '').localeCompare(b.node?.name ?? ''));
  const index = Math.max(0, peers.findIndex((t) => t === ctx.target || (t.node && target && t.node.id === target.id)));
  const source = sources[index];
  if (!source) throw new PluginError('INVALID_TARGET', `the backup has no ${role} for target ${target?.name ?? 'ad hoc'} (it holds ${sources.length} ${role}s)`);
  return source;
}

interface RestoreState extends JsonObject {
  dataDirectory: string;
  incoming: string;
  aside: string;
  stopped: boolean;
  asideDone: boolean;
  placed: boolean;
}

async function restore(ctx: RestoreContext<VmbcNodeConfig, { clientArchiveDirectory?: string }, JsonObject>): Promise<RestoreOutcome> {
  const source = sourceFor(ctx);
  const target: VmbcNode = ctx.target.node ?? { id: 'ad-hoc', name: 'ad-hoc target', role: source.role, config: ctx.target.config };
  const network = new Network(ctx.machines, ctx.log);
  const machine = await network.machineOf(target);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const phase = ctx.phase ? ` (phase ${ctx.phase.index} of ${ctx.phase.count}: ${ctx.phase.name})` : '';
  const saved: Partial<RestoreState> = {};
  const save = async (patch: Partial<RestoreState>) => {
    Object.assign(saved, patch);
    await ctx.state.save({ ...saved, targetId: target.id });
  };
  if (source.role === 'client') {
    const archive = `clients/${source.name}.tar.gz`;
    const folder = ctx.options.clientArchiveDirectory ?? '/tmp';
    const path = join(folder, `${source.name}-${ctx.backup.id}.tar.gz`);
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.artifacts.read(archive)) chunks.push(Buffer.from(chunk));
    const files = (((ctx.backup.metadata.clients as IntermittentMetadata['clients']) ?? []).find((c) => c.name === source.name)?.files ?? []).map((f) => f.replace(/^\/+/, ''));
    // What is there now is kept aside, readable by its owner only (config files hold passwords), before the backup's files go over it.
    const aside = join(folder, `${target.name}-before-restore-${stamp}.tar.gz`);
    await save({ stopped: true, dataDirectory: '', incoming: '', aside: '', asideDone: false, placed: false });
    await network.manage(target, 'stop');
    try {
      await machine.writeFile(path, Buffer.concat(chunks), { mode: 0o600 });
      await machine.run(['sh', '-c', 'umask 077; out=$1; shift; cd / || exit 1; n=$#; for f in "$@"; do [ -e "$f" ] && set -- "$@" "$f"; done; shift "$n"; [ $# -eq 0 ] || tar czf "$out" -- "$@"', 'keep-aside', aside, ...files], { timeoutMs: timeoutOf(target) });
      await machine.run(['tar', 'xzf', path, '-C', '/'], { timeoutMs: timeoutOf(target) });
      await machine.run(['rm', '-f', '--', path], { logged: false });
    } finally {
      if (!ctx.signal.aborted) {
        await network.manage(target, 'start');
        await save({ stopped: false });
      }
    }
    ctx.log.info(`restored the files of client ${source.name} onto ${target.name}${phase}; what was there is kept in ${aside}`);
    return { details: { node: target.name, from: source.name, keptAside: aside } };
  }

  const replicas = (ctx.backup.metadata.replicas as ReplicaRecord[] | undefined) ?? [];
  const recorded = replicas.find((r) => r.name === source.name);
  if (!recorded) throw new PluginError('INVALID_TARGET', `backup ${ctx.backup.id} holds no consistent copy of replica ${source.name} (a sync backup is not consistent: restore from an intermittent one)`);
  const staging = join(ctx.tempDir, 'replica');
  await ctx.artifacts.extractTree(staging, { from: `replicas/${source.name}` });
  const dataDirectory = dataDirectoryOf(target).replace(/\/+$/, '');
  const state: RestoreState = { dataDirectory, incoming: `${dataDirectory}.chainvault-incoming`, aside: `${dataDirectory}.before-restore-${stamp}`, stopped: false, asideDone: false, placed: false };
  Object.assign(saved, state);
  await machine.run(['rm', '-rf', '--', state.incoming], { logged: false });
  const moved = await machine.rsyncTo(staging, state.incoming, { retries: 5 });
  ctx.log.info(`copied replica ${source.name}'s data to ${machine.name}:${state.incoming} (${moved.bytesMoved} bytes)${phase}`);
  const mark = async (patch: Partial<RestoreState>) => {
    Object.assign(state, patch);
    await save(patch);
  };
  let failed = true;
  try {
    await mark({ stopped: true });
    await network.manage(target, 'stop');
    if (await machine.stat(dataDirectory)) {
      await machine.run(['mv', '--', dataDirectory, state.aside]);
      await mark({ asideDone: true });
      ctx.log.info(`kept the data of ${target.name} aside at ${state.aside}`);
    }
    await machine.run(['mv', '--', state.incoming, dataDirectory]);
    await mark({ placed: true });
    const ids = await network.blockIds(target);
    if (ids.lastBlockId !== recorded.lastBlockId || ids.lastReachableBlockId !== recorded.lastReachableBlockId) {
      throw new PluginError('INCONSISTENT', `${target.name} holds last block id ${ids.lastBlockId} (reachable ${ids.lastReachableBlockId}) after the restore, but the backup recorded ${recorded.lastBlockId}`);
    }
    ctx.log.info(`${target.name} holds block id ${ids.lastBlockId}, as the backup recorded`);
    failed = false;
    return { details: { node: target.name, from: source.name, lastBlockId: ids.lastBlockId, keptAside: state.asideDone ? state.aside : null } };
  } finally {
    if (!ctx.signal.aborted) {
      try {
        if (failed && state.asideDone) {
          if (state.placed) await machine.run(['mv', '--', dataDirectory, `${dataDirectory}.failed-restore-${stamp}`]);
          await machine.run(['mv', '--', state.aside, dataDirectory]);
          ctx.log.info(`the restore failed: put the old data of ${target.name} back`);
        }
      } finally {
        if (state.stopped) await network.manage(target, 'start');
        await mark({ stopped: false });
      }
    }
  }
}

/** A restore that stopped a replica and did not finish: the copied data in place when the server stopped, the old data back on a cancel; the replica started. */
async function restoreCleanup(ctx: CleanupContext<VmbcNodeConfig>): Promise<void> {
  const saved = ctx.saved as Partial<RestoreState> & { targetId?: string };
  const found = (ctx.targets ?? []).find((t) => (t.node?.id ?? 'ad-hoc') === saved.targetId);
  if (!found || !saved.stopped) return;
  const target: VmbcNode = found.node ?? { id: 'ad-hoc', name: 'ad-hoc target', role: 'replica', config: found.config };
  if (!saved.dataDirectory) {
    // A client whose files were being restored: it is started again.
    await new Network(ctx.machines, ctx.log).manage(target, 'start');
    return;
  }
  const network = new Network(ctx.machines, ctx.log);
  const machine = await network.machineOf(target);
  const exists = async (path?: string) => Boolean(path && (await machine.stat(path)));
  if ((ctx.reason === 'crashed' || ctx.reason === 'shutdown') && !saved.placed && (await exists(saved.incoming))) {
    if (!saved.asideDone && (await exists(saved.dataDirectory))) await machine.run(['mv', '--', saved.dataDirectory, saved.aside!]);
    await machine.run(['mv', '--', saved.incoming!, saved.dataDirectory]);
    ctx.log.info(`the server stopped during the restore: the copied data is now in place on ${target.name}; the old data is aside at ${saved.aside}`);
  } else if (ctx.reason !== 'crashed' && ctx.reason !== 'shutdown' && (await exists(saved.aside))) {
    if (await exists(saved.dataDirectory)) await machine.run(['mv', '--', saved.dataDirectory, `${saved.dataDirectory}.cancelled-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`]);
    await machine.run(['mv', '--', saved.aside!, saved.dataDirectory]);
    ctx.log.info(`the restore was ${ctx.reason}: the old data of ${target.name} is back`);
  }
  await network.manage(target, 'start');
}

export default definePlugin<VmbcNodeConfig>({
  id: 'vmbc',
  protocols: ['vmbc', 'concord'],
  description: 'VMware Blockchain: hourly syncs and the intermittent backup of a whole replica network, always restarted.',
  roles: ['replica', 'client'],
  nodeConfigSchema,
  checkNodeConfig,
  dataLocations: (config) => (config.clientFiles || config.operatorCommand ? [] : [{ ...(config.machine ? { machine: config.machine } : {}), path: config.dataDirectory ?? '/mnt/data/rocksdbdata' }]),
  methods: {
    sync: {
      scope: 'node',
      description: "Copies one replica's data into its own mirror while it runs (rsync, delta only), so the consistent run moves little.",
      optionsSchema: syncOptionsSchema,
      backup: sync,
      restore: async () => {
        throw new PluginError('INVALID_TARGET', 'a sync backup is a copy of a running replica, not a consistent one: restore an intermittent backup');
      },
    },
    intermittent: {
      scope: 'network',
      disruptive: true,
      exclusive: true,
      restoreStopsNodes: true,
      description: 'Inside the maintenance window: stops the clients, wedges and stops the replicas at one block, copies them and the clients\' files, and starts everything again.',
      optionsSchema: intermittentOptionsSchema,
      restoreOptionsSchema,
      backup: intermittent,
      cleanup,
      restorePhases,
      restore,
      async verify(ctx) {
        const meta = ctx.backup.metadata as IntermittentMetadata;
        const entries = await ctx.artifacts.list();
        const problems: string[] = [];
        for (const replica of meta.replicas ?? []) {
          if (!entries.some((e) => e.path.startsWith(`replicas/${replica.name}/`))) problems.push(`replica ${replica.name} is missing from the backup`);
          if (replica.lastBlockId !== meta.blockId && meta.lagAccepted !== true) problems.push(`replica ${replica.name} was recorded at block ${replica.lastBlockId}, the backup at ${meta.blockId}`);
        }
        for (const client of meta.clients ?? []) if (!entries.some((e) => e.path === client.archive)) problems.push(`the archive of client ${client.name} is missing`);
        return { problems, checked: { replicas: meta.replicas?.length ?? 0, clients: meta.clients?.length ?? 0 } };
      },
    },
  },
});
