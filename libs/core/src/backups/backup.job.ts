/** Runs a policy's backup: the plugin streams data into the repository, the manifest is written last, then the catalog row. */
import { Inject, Injectable } from '@nestjs/common';
import type { BackupOutcome, NodeHandle, ProgressUpdate } from '@chainvault/plugin-sdk';
import { RepositoryError, formatBytes, type BackupStats, type Manifest } from '@chainvault/repository';
import { randomUUID } from 'node:crypto';
import { JobKind, type JobEntity } from '../catalog/entities';
import { CHAINVAULT_CONFIG, type ChainvaultConfig } from '../config/chainvault-config';
import { DestinationService } from '../destinations/destination.service';
import type { CleanupReason, JobHandler, JobRun } from '../jobs/job-handler';
import { runState, secretsOf, withPluginContext } from '../jobs/plugin-context';
import { JobSkipped } from '../jobs/failure';
import { NetworkService } from '../networks/network.service';
import { NodeService } from '../nodes/node.service';
import { PluginRegistry } from '../plugins/plugin-registry.service';
import { PolicyService } from '../policies/policy.service';
import { BackupReplicas } from './backup-replicas.service';
import { BackupService, dependencyIds, type BackupReport } from './backup.service';
import { ChainHistoryService } from './chain-history.service';
import { RetentionService } from '../retention/retention.service';
import { CLOCK, type Clock } from '../scheduler/clock';
import { lockPurpose, orWaitFor } from '../destinations/destination-busy';

/** Where a chain-data backup stores the network's history document. */
export const HISTORY_FILE = 'history.json';

@Injectable()
export class BackupJob implements JobHandler {
  readonly kind = JobKind.BACKUP;

  constructor(
    @Inject(CHAINVAULT_CONFIG) private readonly config: ChainvaultConfig,
    private readonly policies: PolicyService,
    private readonly networks: NetworkService,
    private readonly nodes: NodeService,
    private readonly destinations: DestinationService,
    private readonly plugins: PluginRegistry,
    private readonly backups: BackupService,
    private readonly replicas: BackupReplicas,
    private readonly history: ChainHistoryService,
    private readonly retention: RetentionService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async run(run: JobRun): Promise<Record<string, unknown>> {
    const policy = await this.policies.get(run.job.policyId!);
    const network = await this.networks.get(policy.networkId);
    const nodes = policy.nodeId ? [await this.nodes.get(policy.nodeId)] : await this.nodes.list(policy.networkId);
    const handles: NodeHandle[] = nodes.map((n) => this.nodes.handle(n));
    const method = this.plugins.method(policy.pluginId, policy.method);
    const destination = await this.destinations.get(policy.destinationIds[0]);
    const repository = await this.destinations.openRepository(destination);

    const previous = await this.backups.latestCompleted(policy.id);
    let previousManifest: Manifest | null = null;
    if (previous) {
      previousManifest = await repository.readManifest(previous.id).catch((error: Error) => {
        run.log.warn(`previous backup ${previous.id} cannot be read (${error.message}); every file will be read again`);
        return null;
      });
    }

    const backupId = randomUUID();
    await run.assignBackup(backupId);
    const startedAt = this.clock.now();
    // The writer, once started: a NO_SPACE failure says how far it got.
    let started: { currentStats: BackupStats } | undefined;
    // The shared lock keeps a prune from removing what this backup reuses; the index is read
    // again under it, since a prune elsewhere may have changed it since the repository was opened.
    const lock = await orWaitFor(destination, () => repository.lock('shared', lockPurpose(run.job.id, `backup ${backupId} of policy ${policy.name}`)));
    try {
      await repository.refreshIndex();
      if (run.windowEndsAt) run.log.info(`inside the policy's maintenance window, which closes at ${run.windowEndsAt.toISOString()}`);
      run.log.info(`backing up ${policy.nodeId ? `node ${nodes[0].name}` : `network ${network.name}`} with ${policy.pluginId}/${policy.method} to ${destination.name}`);
      // A plugin that reports its own progress (blocks exported, say) speaks for the job; the
      // repository's byte count is shown only for plugins that say nothing.
      let pluginReports = false;
      const pluginRun = { ...run, progress: { update: (p: ProgressUpdate) => ((pluginReports = true), run.progress.update(p)) } };
      const writer = repository.startBackup({
        backupId,
        previous: previousManifest,
        signal: run.signal,
        onProgress: (p) => {
          if (!pluginReports) run.progress.update({ unit: 'bytes', done: p.bytes, message: p.currentPath });
        },
      });
      started = writer;

      const scope = { method: policy.method, options: policy.options, networkId: network.id, nodeIds: nodes.map((n) => n.id), secrets: secretsOf(this.plugins.require(policy.pluginId).plugin.nodeConfigSchema, handles.map((h) => h.config)) };
      const outcome = await withPluginContext(this.config.dataDir, pluginRun, scope, (common) =>
        method.backup({
          ...common,
          network: { id: network.id, name: network.name, protocol: network.protocol },
          node: policy.nodeId ? handles[0] : undefined,
          nodes: handles,
          previous: previous ? { id: previous.id, createdAt: previous.createdAt, metadata: previous.metadata as NodeHandle['config'], dependsOn: dependencyIds(previous) } : null,
          artifacts: writer,
          state: runState(run.job.pluginState, (state) => run.saveState(state)),
          trigger: run.job.payload.trigger === 'schedule' ? 'schedule' : 'manual',
          ...(run.windowEndsAt ? { windowEndsAt: run.windowEndsAt } : {}),
        }),
      );
      run.signal.throwIfAborted();
      if (outcome?.skipped !== undefined) {
        if (typeof outcome.skipped !== 'string' || outcome.skipped.trim() === '') throw new Error('the plugin skipped the run without saying why');
        throw new JobSkipped(outcome.skipped.slice(0, 2000));
      }
      const metadata = (outcome?.metadata ?? {}) as Record<string, unknown>;
      if (await this.history.entries({ pluginId: policy.pluginId, method: policy.method, metadata })) {
        // Chain-data backups carry the network's whole history document, so every destination
        // (and every copy) holds the record of which file covers which blocks.
        const document = await this.history.document(network.id, { pluginId: policy.pluginId, method: policy.method, createdAt: this.clock.now(), metadata });
        await writer.writeFile(HISTORY_FILE, `${JSON.stringify(document, null, 2)}\n`);
      }
      const dependsOn = await this.dependencies(outcome, previous?.id ?? null);
      const report = nodeReport(outcome, nodes);
      if (report) {
        for (const node of report.nodes.filter((n) => n.status === 'failed')) run.log.warn(`node ${node.name} was not backed up: ${node.reason ?? 'no reason given'}`);
      }
      const manifest = await writer.commit({
        createdAt: this.clock.now(),
        labels: { policyId: policy.id, networkId: network.id, nodeIds: nodes.map((n) => n.id), pluginId: policy.pluginId, method: policy.method, jobId: run.job.id, startedAt: startedAt.toISOString(), dependsOnId: dependsOn[0] ?? null, dependsOn, report },
        metadata: outcome?.metadata ?? {},
      });
      const recorded = BackupService.fromManifest(manifest, policy, { jobId: run.job.id, startedAt, dependsOn, report });
      if (report?.nodes.some((n) => n.status === 'failed')) run.log.warn(`backup ${backupId} is PARTIAL: ${report.nodes.filter((n) => n.status === 'completed').length} of ${report.nodes.length} nodes backed up`);
      await this.backups.record(recorded);
      const copies = await this.replicas.schedule(recorded, policy.destinationIds, 'system');
      if (copies.length > 0) run.log.info(`queued ${copies.length} copies to the policy's further destinations`);
      run.log.info(
        `backup ${backupId} complete: ${manifest.stats.filesRead} files read (${manifest.stats.bytesRead} bytes), ${manifest.stats.filesUnchanged} unchanged, ${manifest.stats.storedBytes} new bytes stored`,
      );
      return { backupId, ...manifest.stats };
    } catch (error) {
      throw explainNoSpace(error, backupId, destination.name, started?.currentStats);
    } finally {
      await lock.release();
      if (run.job.backupId && (await this.backups.exists(run.job.backupId))) await this.applyRetention(run, policy.id);
    }
  }

  /**
   * The backups a new one depends on: those the plugin names (API 2), or the previous one
   * (`dependsOnPrevious`). Each must exist and be usable, or the backup could never be restored.
   */
  private async dependencies(outcome: BackupOutcome | void, previousId: string | null): Promise<string[]> {
    const named = outcome?.dependsOn ?? (outcome?.dependsOnPrevious && previousId ? [previousId] : []);
    if (!Array.isArray(named) || named.some((id) => typeof id !== 'string')) throw new Error('the plugin returned dependsOn that is not a list of backup ids');
    const unique = [...new Set(named)];
    for (const id of unique) {
      await this.backups.getUsable(id).catch((error: Error) => {
        throw new Error(`the plugin says this backup depends on backup ${id}, which cannot be used: ${error.message}`);
      });
    }
    return unique;
  }

  /** The policy's retention, after each backup; a failure here is reported but does not undo the backup. */
  private async applyRetention(run: JobRun, policyId: string): Promise<void> {
    try {
      const report = await this.retention.apply(policyId, { dryRun: false, actor: 'retention' });
      if (report.deleted.length > 0) run.log.info(`retention deleted ${report.deleted.length} backup(s) of the policy; prune job(s) ${report.pruneJobIds.join(', ') || 'already queued'}`);
    } catch (error) {
      run.log.warn(`retention could not be applied: ${(error as Error).message}`);
    }
  }

  async disruptive(job: JobEntity): Promise<boolean> {
    if (!job.policyId) return false;
    const policy = await this.policies.find(job.policyId);
    return policy ? this.plugins.find(policy.pluginId)?.plugin.methods[policy.method]?.disruptive === true : false;
  }

  /** The plugin's cleanup of a disruptive run, with the nodes of the run and what it saved. */
  async cleanup(run: Pick<JobRun, 'job' | 'signal' | 'progress' | 'log'>, reason: CleanupReason): Promise<void> {
    const policy = await this.policies.get(run.job.policyId!);
    const method = this.plugins.method(policy.pluginId, policy.method);
    if (!method.cleanup) return;
    const network = await this.networks.get(policy.networkId);
    const nodes = policy.nodeId ? [await this.nodes.get(policy.nodeId)] : await this.nodes.list(policy.networkId);
    const handles = nodes.map((n) => this.nodes.handle(n));
    const scope = { method: policy.method, options: policy.options, networkId: network.id, nodeIds: nodes.map((n) => n.id), secrets: secretsOf(this.plugins.require(policy.pluginId).plugin.nodeConfigSchema, handles.map((h) => h.config)) };
    await withPluginContext(
      this.config.dataDir,
      run,
      scope,
      (common) =>
        method.cleanup!({
          ...common,
          network: { id: network.id, name: network.name, protocol: network.protocol },
          node: policy.nodeId ? handles[0] : undefined,
          nodes: handles,
          saved: (run.job.pluginState ?? {}) as NodeHandle['config'],
          reason,
          kind: 'backup',
        }),
      '-cleanup',
    );
  }

  /** A backup whose manifest was written before the process died is complete: record it. */
  async recover(job: JobEntity): Promise<Record<string, unknown> | null> {
    if (!job.backupId || !job.policyId) return null;
    const policy = await this.policies.get(job.policyId);
    const repository = await this.destinations.openRepository(await this.destinations.get(policy.destinationIds[0]));
    if (!(await repository.hasBackup(job.backupId))) return null;
    if (await this.backups.exists(job.backupId)) return { backupId: job.backupId, recovered: true };
    const manifest = await repository.readManifest(job.backupId);
    const labels = manifest.labels as { startedAt?: string; dependsOnId?: string | null; dependsOn?: string[]; report?: BackupReport | null };
    const dependsOn = labels.dependsOn ?? (labels.dependsOnId ? [labels.dependsOnId] : []);
    await this.backups.record(
      BackupService.fromManifest(manifest, policy, { jobId: job.id, startedAt: new Date(labels.startedAt ?? manifest.createdAt), dependsOn, report: labels.report ?? null }),
    );
    return { backupId: job.backupId, ...manifest.stats, recovered: true };
  }
}

/**
 * The per-node report of a network-scope run whose plugin said how each node fared, checked
 * against the run's nodes; null when it said nothing. A run whose every node failed is an error.
 */
function nodeReport(outcome: BackupOutcome | void, nodes: { id: string; name: string }[]): BackupReport | null {
  if (!outcome?.nodes) return null;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const report: BackupReport = { nodes: [] };
  for (const entry of outcome.nodes) {
    const node = byId.get(entry.nodeId);
    if (!node) throw new Error(`the plugin reported on node ${entry.nodeId}, which is not one of this run's nodes`);
    if (entry.status !== 'completed' && entry.status !== 'failed') throw new Error(`the plugin reported node ${node.name} as "${String(entry.status)}"; expected completed or failed`);
    report.nodes.push({ nodeId: node.id, name: node.name, status: entry.status, ...(entry.reason ? { reason: String(entry.reason).slice(0, 1000) } : {}) });
  }
  if (report.nodes.length > 0 && report.nodes.every((n) => n.status === 'failed')) {
    throw new Error(`no node was backed up: ${report.nodes.map((n) => `${n.name}: ${n.reason ?? 'failed'}`).join('; ')}`);
  }
  return report;
}

/**
 * A destination that ran out of space, said so the operator can act: what the write needed and
 * what was free (from the repository's error), how much the backup had written, where that data
 * stays, and how to get the space back. Other errors are returned as they are.
 */
export function explainNoSpace(error: unknown, backupId: string, destinationName: string, stats: BackupStats | undefined): unknown {
  if (!(error instanceof RepositoryError) || error.code !== 'NO_SPACE') return error;
  const space = error.space;
  // The repository's error counts the packs that reached storage; without it (the manifest's own
  // write, say), the writer's count of new data is the best there is.
  const written =
    space?.packsWritten !== undefined
      ? space.packsWritten > 0 && `${space.packsWritten} pack(s) (${formatBytes(space.bytesWritten ?? 0)})`
      : Boolean(stats?.storedBytes) && `${formatBytes(stats!.storedBytes)} of new data`;
  const progress = written
    ? `backup ${backupId} had written ${written} to destination "${destinationName}" when it stopped; that data stays there: the next backup reuses it, or \`chainvault destinations prune ${destinationName}\` (pruneDestination) removes it`
    : `backup ${backupId} had written nothing to destination "${destinationName}" when it stopped`;
  const short = space && space.freeBytes !== null ? Math.max(0, space.neededBytes - space.freeBytes) : null;
  const remedy = short ? `free at least ${formatBytes(short)} there (more, for the rest of the backup), or give the destination more space, and run the backup again` : 'free space on the destination, or give it more, and run the backup again';
  return new RepositoryError('NO_SPACE', `${error.message}. ${progress[0].toUpperCase()}${progress.slice(1)}. ${remedy[0].toUpperCase()}${remedy.slice(1)}`, { cause: error, space });
}
