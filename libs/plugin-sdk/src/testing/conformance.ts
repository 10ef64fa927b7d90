/**
 * The conformance kit: drives a plugin method through backup → verify → restore round trips,
 * the way the host does, and checks the plugin keeps the contract. Every plugin in the
 * chainvault repository runs it; third-party plugins should too.
 *
 * Nodes on other machines are reached through the same machine provider the host gives a job
 * (so a case whose node config names an SSH machine tests the plugin over SSH); workspaces last
 * across the rounds of one run; a network-scope method can be restored as a set, phase by phase;
 * and a disruptive method is cancelled mid-run to prove its cleanup brings the nodes back.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCommandRunner } from '../command';
import { createMachineProvider } from '../machine-provider';
import type { BackupRecord, EarlierBackup, NodeHandle, PluginLogger, ProgressUpdate, RestoreTarget, RunState, Workspaces } from '../context';
import type { JsonObject } from '../json-schema';
import { describeDefinitionProblems, type ChainvaultPlugin } from '../plugin';
import { DirectoryArtifacts } from './directory-artifacts';

export interface ConformanceCase {
  plugin: ChainvaultPlugin;
  method: string;
  /** The nodes backed up (one for node-scope methods). */
  nodes: NodeHandle[];
  options?: JsonObject;
  /** A fresh, empty restore target for each restore. */
  makeTarget(): Promise<RestoreTarget> | RestoreTarget;
  /** Throws if the restored target does not hold what the source held at backup time. */
  assertRestored(target: RestoreTarget, sources: NodeHandle[]): Promise<void>;
  /** The options of each restore. Default: none. */
  restoreOptions?: JsonObject;
  /** Changes the source between the first and the second backup, to exercise incremental runs. */
  change?(): Promise<void>;
  /**
   * A restore set: fresh targets (registered nodes, with ids) restored together in the phases
   * the plugin orders, after the last round; then `assertRestored` is called for each.
   */
  restoreSet?: { makeTargets(): Promise<RestoreTarget[]> | RestoreTarget[] };
  /**
   * Disruptive methods: a backup is cancelled this long after it starts, the method's cleanup
   * runs with what the run saved, then `assertNodesRunning` must pass.
   */
  cancelAfterMs?: number;
  assertNodesRunning?(nodes: NodeHandle[]): Promise<void>;
  /** Told of each check as it passes or fails (backup, verify, restore, …), for a runner that prints them. */
  onCheck?(name: string, outcome: { ok: boolean; error?: string }): void;
}

export interface ConformanceReport {
  backups: { metadata: JsonObject; dependsOnPrevious: boolean; dependsOn: string[] }[];
  /** The phases of the restore set, when one was run. */
  phases?: { name: string; nodeIds: string[] }[];
  progress: ProgressUpdate[];
  logs: string[];
}

/** Runs the round trips and throws an Error naming the first broken rule. */
export async function runConformance(testCase: ConformanceCase): Promise<ConformanceReport> {
  const { plugin, method: methodName } = testCase;
  const problems = describeDefinitionProblems(plugin);
  if (problems.length > 0) throw new Error(`plugin definition: ${problems.join('; ')}`);
  const method = plugin.methods[methodName];
  if (!method) throw new Error(`plugin "${plugin.id}" has no method "${methodName}"`);
  if (method.scope === 'node' && testCase.nodes.length !== 1) throw new Error('a node-scope method is tested with exactly one node');

  const work = await mkdtemp(join(tmpdir(), `chainvault-conformance-${plugin.id}-`));
  const report: ConformanceReport = { backups: [], progress: [], logs: [] };
  const log: PluginLogger = {
    info: (m) => report.logs.push(`info: ${m}`),
    warn: (m) => report.logs.push(`warn: ${m}`),
    error: (m) => report.logs.push(`error: ${m}`),
  };
  const machineProviders: ReturnType<typeof createMachineProvider>[] = [];
  const workspaceOf = async (...parts: string[]) => {
    const folder = join(work, 'workspaces', ...parts);
    await mkdir(folder, { recursive: true, mode: 0o700 });
    return folder;
  };
  const workspaces: Workspaces = { network: () => workspaceOf('network'), node: (id) => workspaceOf('nodes', id) };
  const common = (signal: AbortSignal, tempDir: string) => {
    const machines = createMachineProvider({ signal, log, tempDir: join(tempDir, '.machines') });
    machineProviders.push(machines);
    return {
      method: methodName,
      options: testCase.options ?? {},
      progress: { update: (p: ProgressUpdate) => report.progress.push(p) },
      log,
      signal,
      tempDir,
      commands: createCommandRunner(signal),
      machines: { get: machines.get.bind(machines) },
      workspaces,
    };
  };
  const memoryState = (): RunState => {
    let saved: JsonObject = {};
    return { get: () => saved, save: async (patch) => void (saved = { ...saved, ...patch }) };
  };
  const network = { id: 'conformance-network', name: 'conformance', protocol: plugin.protocols[0] };

  /** Runs one named check, telling `onCheck` how it went; a failure still ends the run. */
  const check = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    try {
      const result = await work();
      testCase.onCheck?.(name, { ok: true });
      return result;
    } catch (error) {
      testCase.onCheck?.(name, { ok: false, error: (error as Error)?.message ?? String(error) });
      throw error;
    }
  };

  let previous: BackupRecord | null = null;
  const records = new Map<string, BackupRecord>();
  // Each backup with the chain of backups it depends on, as the host hands them to a restore.
  const chains = new Map<string, EarlierBackup[]>();
  const roundTrip = async (round: number) => {
    const store = new DirectoryArtifacts(join(work, `backup-${round}`));
    const controller = new AbortController();
    const named = (what: string) => (round === 1 ? what : `${what} (incremental)`);
    const outcome = await check(named('backup'), () => method.backup({
      ...common(controller.signal, join(work, `tmp-backup-${round}`)),
      network,
      node: method.scope === 'node' ? testCase.nodes[0] : undefined,
      nodes: testCase.nodes,
      previous,
      artifacts: store,
      state: memoryState(),
      trigger: 'manual',
    }));
    const dependsOn = outcome?.dependsOn ?? (outcome?.dependsOnPrevious && previous ? [previous.id] : []);
    const unknown = dependsOn.filter((id) => !records.has(id));
    if (unknown.length > 0) throw new Error(`backup ${round} depends on backups that do not exist: ${unknown.join(', ')}`);
    const record: BackupRecord = { id: `backup-${round}`, createdAt: new Date(), metadata: outcome?.metadata ?? {}, dependsOn };
    records.set(record.id, record);
    // Everything it depends on, directly or through others, oldest first, each once.
    const needed = new Set<string>();
    const collect = (id: string) => {
      for (const dependency of records.get(id)?.dependsOn ?? []) {
        if (needed.has(dependency)) continue;
        needed.add(dependency);
        collect(dependency);
      }
    };
    collect(record.id);
    const earlier: EarlierBackup[] = [...records.values()]
      .filter((r) => needed.has(r.id))
      .map((r) => ({ backup: r, open: async () => new DirectoryArtifacts(join(work, r.id)) }));
    chains.set(record.id, earlier);
    report.backups.push({ metadata: record.metadata, dependsOnPrevious: outcome?.dependsOnPrevious ?? false, dependsOn });

    if (method.verify) {
      await check(named('verify'), async () => {
        const verdict = await method.verify!({ ...common(controller.signal, join(work, `tmp-verify-${round}`)), backup: record, artifacts: store });
        if (verdict.problems.length > 0) throw new Error(`verify of an intact backup reported problems: ${verdict.problems.join('; ')}`);
      });
    }

    await check(named('restore'), async () => {
    const target = await testCase.makeTarget();
    await method.checkRestoreTarget?.({ sources: testCase.nodes, target, options: testCase.restoreOptions ?? {} });
    await method.restore({
      ...common(controller.signal, join(work, `tmp-restore-${round}`)),
      options: testCase.restoreOptions ?? {},
      backup: record,
      earlier,
      sources: testCase.nodes,
      target,
      artifacts: store,
      state: memoryState(),
    });
    await testCase.assertRestored(target, testCase.nodes);
    });
    previous = record;
  };

  /** Restores the last backup into several targets at once, in the plugin's phases. */
  const restoreSet = async (makeTargets: () => Promise<RestoreTarget[]> | RestoreTarget[]) => {
    if (!previous) throw new Error('no backup to restore as a set');
    const last: BackupRecord = previous;
    const targets = await makeTargets();
    const ids = targets.map((t) => t.node?.id);
    if (ids.some((id) => !id)) throw new Error('every target of a restore set is a registered node (with an id)');
    const phases = method.restorePhases ? method.restorePhases(targets) : [{ name: 'all nodes', nodeIds: ids as string[] }];
    const placed = phases.flatMap((p) => p.nodeIds);
    if (placed.length !== ids.length || new Set(placed).size !== placed.length || placed.some((id) => !ids.includes(id))) {
      throw new Error(`restorePhases must place every target in exactly one phase; it returned ${JSON.stringify(phases)}`);
    }
    report.phases = phases;
    const controller = new AbortController();
    for (const [index, phase] of phases.entries()) {
      for (const id of phase.nodeIds) {
        const target = targets.find((t) => t.node?.id === id)!;
        await method.restore({
          ...common(controller.signal, join(work, `tmp-restore-set-${id}`)),
          options: testCase.restoreOptions ?? {},
          backup: last,
          earlier: chains.get(last.id) ?? [],
          sources: testCase.nodes,
          target,
          artifacts: new DirectoryArtifacts(join(work, last.id)),
          phase: { name: phase.name, index: index + 1, count: phases.length, allTargets: targets },
          state: memoryState(),
        });
      }
    }
    for (const target of targets) await testCase.assertRestored(target, testCase.nodes);
  };

  /** A disruptive backup cancelled mid-run, then its cleanup: the nodes must run again. */
  const cancelMidRun = async () => {
    if (!method.cleanup) throw new Error('a disruptive method must have a cleanup');
    if (testCase.cancelAfterMs === undefined || !testCase.assertNodesRunning) {
      throw new Error('a disruptive method is tested with cancelAfterMs and assertNodesRunning, to prove its cleanup');
    }
    const controller = new AbortController();
    const state = memoryState();
    const timer = setTimeout(() => controller.abort(new Error('cancelled by the conformance kit')), testCase.cancelAfterMs);
    const completed = await method
      .backup({
        ...common(controller.signal, join(work, 'tmp-cancelled')),
        network,
        node: method.scope === 'node' ? testCase.nodes[0] : undefined,
        nodes: testCase.nodes,
        previous,
        artifacts: new DirectoryArtifacts(join(work, 'backup-cancelled')),
        state,
        trigger: 'manual',
      })
      .then(
        () => true,
        () => false,
      )
      .finally(() => clearTimeout(timer));
    if (completed && controller.signal.aborted) throw new Error('a backup cancelled mid-run must fail instead of completing');
    const grace = new AbortController();
    await method.cleanup({
      ...common(grace.signal, join(work, 'tmp-cleanup')),
      network,
      node: method.scope === 'node' ? testCase.nodes[0] : undefined,
      nodes: testCase.nodes,
      saved: state.get(),
      reason: 'cancelled',
      kind: 'backup',
    });
    await testCase.assertNodesRunning(testCase.nodes);
  };

  try {
    await roundTrip(1);
    if (testCase.change) {
      await testCase.change();
      await roundTrip(2);
    }
    await check('a cancelled backup fails', async () => {
    const aborted = new AbortController();
    aborted.abort();
    const refused = await method
      .backup({
        ...common(aborted.signal, join(work, 'tmp-aborted')),
        network,
        node: method.scope === 'node' ? testCase.nodes[0] : undefined,
        nodes: testCase.nodes,
        previous,
        artifacts: new DirectoryArtifacts(join(work, 'backup-aborted')),
        state: memoryState(),
        trigger: 'manual',
      })
      .then(
        () => false,
        () => true,
      );
    if (!refused) throw new Error('a backup started with an aborted signal must fail instead of completing');
    });
    if (testCase.restoreSet) await check('restore set', () => restoreSet(testCase.restoreSet!.makeTargets));
    if (method.disruptive) await check('cancel mid-run and clean up', cancelMidRun);
    return report;
  } finally {
    for (const machines of machineProviders) await machines.close().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}
