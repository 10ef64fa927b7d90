/** Applies a backup to its target through the plugin, reading the repository as it goes. */
import { Inject, Injectable } from '@nestjs/common';
import type { ArtifactSource, EarlierBackup, RestoreOutcome, RestorePhaseInfo, RestoreTarget } from '@chainvault/plugin-sdk';
import { JobKind, RestoreStatus, type BackupEntity, type JobEntity } from '../catalog/entities';
import { BackupService, dependencyIds } from '../backups/backup.service';
import { CHAINVAULT_CONFIG, type ChainvaultConfig } from '../config/chainvault-config';
import { DestinationService } from '../destinations/destination.service';
import { describeFailure } from '../jobs/failure';
import type { JobHandler, JobRun } from '../jobs/job-handler';
import { runState, secretsOf, withPluginContext } from '../jobs/plugin-context';
import type { CleanupReason } from '../jobs/job-handler';
import { PluginRegistry } from '../plugins/plugin-registry.service';
import { RestoreRoots } from './restore-roots';
import { RestoreService } from './restore.service';
import { DestinationBusy, lockPurpose } from '../destinations/destination-busy';
import { InterruptedRestores } from './interrupted-restores';
import { NetworkService } from '../networks/network.service';

@Injectable()
export class RestoreJob implements JobHandler {
  readonly kind = JobKind.RESTORE;
  readonly afterInterruption = 'restore again into the same target: what this restore wrote there is cleared first';

  constructor(
    @Inject(CHAINVAULT_CONFIG) private readonly config: ChainvaultConfig,
    private readonly restores: RestoreService,
    private readonly backups: BackupService,
    private readonly destinations: DestinationService,
    private readonly plugins: PluginRegistry,
    private readonly restoreRoots: RestoreRoots,
    private readonly interrupted: InterruptedRestores,
    private readonly networks: NetworkService,
  ) {}

  async run(run: JobRun): Promise<Record<string, unknown>> {
    const restore = await this.restores.get(run.job.restoreId!);
    let release: (() => Promise<void>) | undefined;
    try {
      await this.restores.markRunning(restore.id);
      const backup = await this.backups.getUsable(restore.backupId);
      const method = this.plugins.method(backup.pluginId, backup.method);
      const targets = await this.restores.targets(restore);
      // Checked when the restore was requested, and again now: a link on the way may have
      // changed, or the roots been narrowed, since.
      for (const target of targets) await this.restoreRoots.checkTarget(target.config, target.node ? `node "${target.node.name}" config` : 'targetConfig');
      const source = await this.destinations.get(String(run.job.payload.destinationId ?? backup.destinationId));
      const opened = await this.destinations.openForReading(source, lockPurpose(run.job.id, `restore of backup ${backup.id}`));
      release = opened.release;
      const repository = opened.repository;
      const reader = await repository.openBackup(backup.id, {
        signal: run.signal,
        onProgress: (p) => run.progress.update({ unit: 'bytes', done: p.bytes, total: backup.logicalBytes, message: `${p.files} files` }),
      });
      const extractTarget = `the folder plugin "${backup.pluginId}" extracts into`;
      const sources = await this.restores.sourceHandles(backup);
      const scope = { method: backup.method, options: restore.options, networkId: backup.networkId, nodeIds: [...new Set([...sources, ...targets.flatMap((t) => (t.node ? [t.node] : []))].map((n) => n.id))],
        secrets: secretsOf(this.plugins.require(backup.pluginId).plugin.nodeConfigSchema, [...sources.map((n) => n.config), ...targets.map((t) => t.config)]),
      };
      const restoreOne = (target: RestoreTarget, phase?: RestorePhaseInfo) =>
        withPluginContext(this.config.dataDir, run, scope, async (common) =>
          method.restore({
            ...common,
            backup: { id: backup.id, createdAt: backup.createdAt, metadata: backup.metadata as never, dependsOn: dependencyIds(backup) },
            sources,
            // Whatever the plugin extracts through the host goes through the same check.
            // Each extraction is recorded before it writes, so a retry after a crash can start over.
            earlier: await this.earlierBackups(backup, async (id) => this.interrupted.journal(restore.id, id, this.restoreRoots.guard(await repository.openBackup(id, { signal: run.signal }), extractTarget, common.tempDir))),
            target,
            artifacts: this.interrupted.journal(restore.id, backup.id, this.restoreRoots.guard(reader, extractTarget, common.tempDir)),
            ...(phase ? { phase } : {}),
            state: runState(run.job.pluginState, (state) => run.saveState(state)),
          }),
        );
      let details: Record<string, unknown>;
      if (!restore.targetNodeIds?.length) {
        const target = targets[0];
        run.log.info(`restoring backup ${backup.id} (${backup.pluginId}/${backup.method}) to ${target.node ? `node ${target.node.name}` : 'an ad-hoc target'}`);
        details = ((await restoreOne(target))?.details ?? {}) as Record<string, unknown>;
      } else {
        details = await this.restoreSet(run, backup, targets, restoreOne);
      }
      run.signal.throwIfAborted();
      await this.restores.finish(restore.id, RestoreStatus.COMPLETED, { details });
      return { restoreId: restore.id, ...details };
    } catch (error) {
      if (error instanceof DestinationBusy) {
        // Not started yet: the job waits in the queue for the lock, and the restore with it.
        await this.restores.markQueued(restore.id);
        throw error;
      }
      const cancelled = run.signal.aborted && String(run.signal.reason).includes('cancelled');
      await this.restores.finish(restore.id, cancelled ? RestoreStatus.CANCELLED : RestoreStatus.FAILED, { error: describeFailure(run.signal.aborted ? run.signal.reason : error) });
      throw error;
    } finally {
      await release?.();
    }
  }

  /**
   * Restores a set of nodes phase by phase, in the plugin's order; a phase starts only when the
   * one before it has completed, and a failure stops the set, saying which nodes were restored.
   */
  private async restoreSet(
    run: JobRun,
    backup: BackupEntity,
    targets: RestoreTarget[],
    restoreOne: (target: RestoreTarget, phase: RestorePhaseInfo) => Promise<RestoreOutcome | void>,
  ): Promise<Record<string, unknown>> {
    const phases = await this.restores.phasesOf(backup, targets);
    const byId = new Map(targets.map((t) => [t.node!.id, t]));
    run.log.info(`restoring backup ${backup.id} (${backup.pluginId}/${backup.method}) to ${targets.length} nodes in ${phases.length} phase(s): ${phases.map((p, i) => `${i + 1}. ${p.name} (${p.nodeIds.map((id) => byId.get(id)!.node!.name).join(', ')})`).join('; ')}`);
    const restored: { phase: string; node: string; details: Record<string, unknown> }[] = [];
    let done = 0;
    for (const [index, phase] of phases.entries()) {
      const info: RestorePhaseInfo = { name: phase.name, index: index + 1, count: phases.length, allTargets: targets };
      run.log.info(`phase ${index + 1} of ${phases.length} (${phase.name}) begins`);
      for (const id of phase.nodeIds) {
        const target = byId.get(id)!;
        run.progress.update({ unit: 'steps', done, total: targets.length, message: `phase ${index + 1}/${phases.length} (${phase.name}): restoring node ${target.node!.name}` });
        try {
          const outcome = await restoreOne(target, info);
          restored.push({ phase: phase.name, node: target.node!.name, details: (outcome?.details ?? {}) as Record<string, unknown> });
        } catch (error) {
          const so = restored.length ? `restored before it: ${restored.map((r) => r.node).join(', ')}` : 'no node was restored';
          throw new Error(`restore set stopped in phase ${index + 1} (${phase.name}) at node ${target.node!.name}: ${describeFailure(error)}; ${so}`, { cause: error });
        }
        done++;
        run.log.info(`node ${target.node!.name} restored (phase ${index + 1}, ${phase.name})`);
      }
    }
    run.progress.update({ unit: 'steps', done, total: targets.length, message: `${phases.length} phase(s) done` });
    return { phases: phases.map((p) => ({ name: p.name, nodes: p.nodeIds.map((id) => byId.get(id)!.node!.name) })), nodes: restored };
  }

  /** The backups `backup` depends on, oldest first, each once; each must still be usable, or the restore cannot be complete. */
  private async earlierBackups(backup: BackupEntity, open: (id: string) => Promise<ArtifactSource>): Promise<EarlierBackup[]> {
    const ordered: BackupEntity[] = [];
    const visiting = new Set<string>([backup.id]);
    const done = new Set<string>();
    const visit = async (of: BackupEntity): Promise<void> => {
      for (const id of dependencyIds(of)) {
        if (done.has(id)) continue;
        if (visiting.has(id)) throw new Error(`backup ${backup.id} has a dependency loop through backup ${id}`);
        visiting.add(id);
        const earlier = await this.backups.getUsable(id).catch((error: Error) => {
          throw new Error(`backup ${of.id} depends on backup ${id}, which cannot be used: ${error.message}`);
        });
        await visit(earlier);
        visiting.delete(id);
        done.add(id);
        ordered.push(earlier);
      }
    };
    await visit(backup);
    ordered.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    return ordered.map((earlier) => ({ backup: { id: earlier.id, createdAt: earlier.createdAt, metadata: earlier.metadata as never, dependsOn: dependencyIds(earlier) }, open: () => open(earlier.id) }));
  }

  /** A restore stops nodes when its method says so: it is then never retried, and cleaned up after a stop. */
  async disruptive(job: JobEntity): Promise<boolean> {
    if (!job.restoreId) return false;
    const restore = await this.restores.get(job.restoreId).catch(() => null);
    const backup = restore ? await this.backups.get(restore.backupId).catch(() => null) : null;
    return backup ? this.plugins.find(backup.pluginId)?.plugin.methods[backup.method]?.restoreStopsNodes === true : false;
  }

  /** The plugin's cleanup of a restore that stopped nodes: the restore's targets and what it saved. */
  async cleanup(run: Pick<JobRun, 'job' | 'signal' | 'progress' | 'log'>, reason: CleanupReason): Promise<void> {
    const restore = await this.restores.get(run.job.restoreId!);
    const backup = await this.backups.get(restore.backupId);
    const method = this.plugins.method(backup.pluginId, backup.method);
    if (!method.cleanup) return;
    const targets = await this.restores.targets(restore);
    const nodes = targets.flatMap((t) => (t.node ? [t.node] : []));
    const scope = { method: backup.method, options: restore.options, networkId: backup.networkId, nodeIds: nodes.map((n) => n.id),
      secrets: secretsOf(this.plugins.require(backup.pluginId).plugin.nodeConfigSchema, targets.map((t) => t.config)),
    };
    const found = await this.networks.get(backup.networkId);
    const network = { id: found.id, name: found.name, protocol: found.protocol };
    await withPluginContext(
      this.config.dataDir,
      run,
      scope,
      (common) =>
        method.cleanup!({
          ...common,
          network,
          node: nodes.length === 1 ? nodes[0] : undefined,
          nodes,
          saved: (run.job.pluginState ?? {}) as RestoreTarget['config'],
          reason,
          kind: 'restore',
          targets,
        }),
      '-cleanup',
    );
  }

  async recover(job: JobEntity): Promise<Record<string, unknown> | null> {
    if (job.restoreId) {
      await this.restores.finish(job.restoreId, RestoreStatus.FAILED, {
        error: 'interrupted: the server stopped during the restore; restore again into the same target, and what this restore wrote there is cleared first',
      });
    }
    return null;
  }
}
