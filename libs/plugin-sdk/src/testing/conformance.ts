/**
 * The conformance kit: drives a plugin method through backup → verify → restore round trips,
 * the way the host does, and checks the plugin keeps the contract. Every plugin in the
 * chainvault repository runs it; third-party plugins should too.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCommandRunner } from '../command';
import type { BackupRecord, EarlierBackup, NodeHandle, PluginLogger, ProgressUpdate, RestoreTarget } from '../context';
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
}

export interface ConformanceReport {
  backups: { metadata: JsonObject; dependsOnPrevious: boolean }[];
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
  const common = (signal: AbortSignal, tempDir: string) => ({
    method: methodName,
    options: testCase.options ?? {},
    progress: { update: (p: ProgressUpdate) => report.progress.push(p) },
    log,
    signal,
    tempDir,
    commands: createCommandRunner(signal),
  });
  const network = { id: 'conformance-network', name: 'conformance', protocol: plugin.protocols[0] };

  let previous: BackupRecord | null = null;
  // Each backup with the chain of backups it depends on, as the host hands them to a restore.
  const chains = new Map<string, EarlierBackup[]>();
  const roundTrip = async (round: number) => {
    const store = new DirectoryArtifacts(join(work, `backup-${round}`));
    const controller = new AbortController();
    const outcome = await method.backup({
      ...common(controller.signal, join(work, `tmp-backup-${round}`)),
      network,
      node: method.scope === 'node' ? testCase.nodes[0] : undefined,
      nodes: testCase.nodes,
      previous,
      artifacts: store,
    });
    const record: BackupRecord = { id: `backup-${round}`, createdAt: new Date(), metadata: outcome?.metadata ?? {} };
    const earlier: EarlierBackup[] =
      outcome?.dependsOnPrevious && previous ? [...(chains.get(previous.id) ?? []), { backup: previous, open: async () => new DirectoryArtifacts(join(work, previous!.id)) }] : [];
    chains.set(record.id, earlier);
    report.backups.push({ metadata: record.metadata, dependsOnPrevious: outcome?.dependsOnPrevious ?? false });

    if (method.verify) {
      const verdict = await method.verify({ ...common(controller.signal, join(work, `tmp-verify-${round}`)), backup: record, artifacts: store });
      if (verdict.problems.length > 0) throw new Error(`verify of an intact backup reported problems: ${verdict.problems.join('; ')}`);
    }

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
    });
    await testCase.assertRestored(target, testCase.nodes);
    previous = record;
  };

  try {
    await roundTrip(1);
    if (testCase.change) {
      await testCase.change();
      await roundTrip(2);
    }
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
      })
      .then(
        () => false,
        () => true,
      );
    if (!refused) throw new Error('a backup started with an aborted signal must fail instead of completing');
    return report;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
