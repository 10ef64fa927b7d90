/** Runs a policy's backup: the plugin streams data into the repository, the manifest is written last, then the catalog row. */
import { Inject, Injectable } from '@nestjs/common';
import type { NodeHandle, ProgressUpdate } from '@chainvault/plugin-sdk';
import { RepositoryError, formatBytes, type BackupStats, type Manifest } from '@chainvault/repository';
import { randomUUID } from 'node:crypto';
import { JobKind, type JobEntity } from '../catalog/entities';
import { CHAINVAULT_CONFIG, type ChainvaultConfig } from '../config/chainvault-config';
import { DestinationService } from '../destinations/destination.service';
import type { JobHandler, JobRun } from '../jobs/job-handler';
import { commonContext, withJobTempDir } from '../jobs/plugin-context';
import { NetworkService } from '../networks/network.service';
import { NodeService } from '../nodes/node.service';
import { PluginRegistry } from '../plugins/plugin-registry.service';
import { PolicyService } from '../policies/policy.service';
import { BackupReplicas } from './backup-replicas.service';
import { BackupService } from './backup.service';
import { ChainHistoryService, historyEntries } from './chain-history.service';
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

      const outcome = await withJobTempDir(this.config.dataDir, run.job.id, (tempDir) =>
        method.backup({
          ...commonContext(pluginRun, policy.method, policy.options, tempDir),
          network: { id: network.id, name: network.name, protocol: network.protocol },
          node: policy.nodeId ? handles[0] : undefined,
          nodes: handles,
          previous: previous ? { id: previous.id, createdAt: previous.createdAt, metadata: previous.metadata as NodeHandle['config'] } : null,
          artifacts: writer,
          ...(run.windowEndsAt ? { windowEndsAt: run.windowEndsAt } : {}),
        }),
      );
      run.signal.throwIfAborted();
      const metadata = (outcome?.metadata ?? {}) as Record<string, unknown>;
      if (historyEntries(metadata)) {
        // Chain-data backups carry the network's whole history document, so every destination
        // (and every copy) holds the record of which file covers which blocks.
        const document = await this.history.document(network.id, { createdAt: this.clock.now(), metadata });
        await writer.writeFile(HISTORY_FILE, `${JSON.stringify(document, null, 2)}\n`);
      }
      const dependsOnId = outcome?.dependsOnPrevious && previous ? previous.id : null;
      const manifest = await writer.commit({
        createdAt: this.clock.now(),
        labels: { policyId: policy.id, networkId: network.id, nodeIds: nodes.map((n) => n.id), pluginId: policy.pluginId, method: policy.method, jobId: run.job.id, startedAt: startedAt.toISOString(), dependsOnId },
        metadata: outcome?.metadata ?? {},
      });
      const recorded = BackupService.fromManifest(manifest, policy, { jobId: run.job.id, startedAt, dependsOnId });
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

  /** The policy's retention, after each backup; a failure here is reported but does not undo the backup. */
  private async applyRetention(run: JobRun, policyId: string): Promise<void> {
    try {
      const report = await this.retention.apply(policyId, { dryRun: false, actor: 'retention' });
      if (report.deleted.length > 0) run.log.info(`retention deleted ${report.deleted.length} backup(s) of the policy; prune job(s) ${report.pruneJobIds.join(', ') || 'already queued'}`);
    } catch (error) {
      run.log.warn(`retention could not be applied: ${(error as Error).message}`);
    }
  }

  /** A backup whose manifest was written before the process died is complete: record it. */
  async recover(job: JobEntity): Promise<Record<string, unknown> | null> {
    if (!job.backupId || !job.policyId) return null;
    const policy = await this.policies.get(job.policyId);
    const repository = await this.destinations.openRepository(await this.destinations.get(policy.destinationIds[0]));
    if (!(await repository.hasBackup(job.backupId))) return null;
    if (await this.backups.exists(job.backupId)) return { backupId: job.backupId, recovered: true };
    const manifest = await repository.readManifest(job.backupId);
    const labels = manifest.labels as { startedAt?: string; dependsOnId?: string | null };
    await this.backups.record(
      BackupService.fromManifest(manifest, policy, { jobId: job.id, startedAt: new Date(labels.startedAt ?? manifest.createdAt), dependsOnId: labels.dependsOnId ?? null }),
    );
    return { backupId: job.backupId, ...manifest.stats, recovered: true };
  }
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
