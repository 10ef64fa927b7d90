/** Applies a backup to its target through the plugin, reading the repository as it goes. */
import { Inject, Injectable } from '@nestjs/common';
import type { ArtifactSource, EarlierBackup } from '@chainvault/plugin-sdk';
import { JobKind, RestoreStatus, type BackupEntity, type JobEntity } from '../catalog/entities';
import { BackupService } from '../backups/backup.service';
import { CHAINVAULT_CONFIG, type ChainvaultConfig } from '../config/chainvault-config';
import { DestinationService } from '../destinations/destination.service';
import { describeFailure } from '../jobs/failure';
import type { JobHandler, JobRun } from '../jobs/job-handler';
import { commonContext, withJobTempDir } from '../jobs/plugin-context';
import { PluginRegistry } from '../plugins/plugin-registry.service';
import { RestoreRoots } from './restore-roots';
import { RestoreService } from './restore.service';
import { DestinationBusy, lockPurpose } from '../destinations/destination-busy';
import { InterruptedRestores } from './interrupted-restores';

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
  ) {}

  async run(run: JobRun): Promise<Record<string, unknown>> {
    const restore = await this.restores.get(run.job.restoreId!);
    let release: (() => Promise<void>) | undefined;
    try {
      await this.restores.markRunning(restore.id);
      const backup = await this.backups.getUsable(restore.backupId);
      const method = this.plugins.method(backup.pluginId, backup.method);
      const target = await this.restores.target(restore);
      // Checked when the restore was requested, and again now: a link on the way may have
      // changed, or the roots been narrowed, since.
      await this.restoreRoots.checkTarget(target.config, target.node ? `node "${target.node.name}" config` : 'targetConfig');
      const source = await this.destinations.get(String(run.job.payload.destinationId ?? backup.destinationId));
      const opened = await this.destinations.openForReading(source, lockPurpose(run.job.id, `restore of backup ${backup.id}`));
      release = opened.release;
      const repository = opened.repository;
      const reader = await repository.openBackup(backup.id, {
        signal: run.signal,
        onProgress: (p) => run.progress.update({ unit: 'bytes', done: p.bytes, total: backup.logicalBytes, message: `${p.files} files` }),
      });
      run.log.info(`restoring backup ${backup.id} (${backup.pluginId}/${backup.method}) to ${target.node ? `node ${target.node.name}` : 'an ad-hoc target'}`);
      const extractTarget = `the folder plugin "${backup.pluginId}" extracts into`;
      const outcome = await withJobTempDir(this.config.dataDir, run.job.id, async (tempDir) =>
        method.restore({
          ...commonContext(run, backup.method, restore.options, tempDir),
          backup: { id: backup.id, createdAt: backup.createdAt, metadata: backup.metadata as never },
          sources: await this.restores.sourceHandles(backup),
          // Whatever the plugin extracts through the host goes through the same check.
          // Each extraction is recorded before it writes, so a retry after a crash can start over.
          earlier: await this.earlierBackups(backup, async (id) => this.interrupted.journal(restore.id, id, this.restoreRoots.guard(await repository.openBackup(id, { signal: run.signal }), extractTarget, tempDir))),
          target,
          artifacts: this.interrupted.journal(restore.id, backup.id, this.restoreRoots.guard(reader, extractTarget, tempDir)),
        }),
      );
      run.signal.throwIfAborted();
      const details = (outcome?.details ?? {}) as Record<string, unknown>;
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

  /** The backups `backup` depends on, oldest first; each must still be usable, or the restore cannot be complete. */
  private async earlierBackups(backup: BackupEntity, open: (id: string) => Promise<ArtifactSource>): Promise<EarlierBackup[]> {
    const chain: EarlierBackup[] = [];
    const seen = new Set([backup.id]);
    for (let id = backup.dependsOnId; id; ) {
      if (seen.has(id)) throw new Error(`backup ${backup.id} has a dependency loop through backup ${id}`);
      seen.add(id);
      const earlier = await this.backups.getUsable(id).catch((error: Error) => {
        throw new Error(`backup ${backup.id} continues backup ${id}, which cannot be used: ${error.message}`);
      });
      chain.unshift({ backup: { id: earlier.id, createdAt: earlier.createdAt, metadata: earlier.metadata as never }, open: () => open(earlier.id) });
      id = earlier.dependsOnId;
    }
    return chain;
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
