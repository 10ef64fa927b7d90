/** Copies one backup from its primary destination to a further destination of its policy. */
import { Injectable } from '@nestjs/common';
import { copyBackup } from '@chainvault/repository';
import { JobKind, ReplicaState, type JobEntity } from '../catalog/entities';
import { DestinationService } from '../destinations/destination.service';
import { describeFailure } from '../jobs/failure';
import type { JobHandler, JobRun } from '../jobs/job-handler';
import { BackupReplicas } from './backup-replicas.service';
import { BackupService } from './backup.service';
import { DestinationBusy, lockPurpose, orWaitFor } from '../destinations/destination-busy';

@Injectable()
export class ReplicateJob implements JobHandler {
  readonly kind = JobKind.REPLICATE;

  constructor(
    private readonly backups: BackupService,
    private readonly replicas: BackupReplicas,
    private readonly destinations: DestinationService,
  ) {}

  async run(run: JobRun): Promise<Record<string, unknown>> {
    const destinationId = String(run.job.payload.destinationId);
    const backup = await this.backups.getUsable(run.job.backupId!);
    try {
      const target = await this.destinations.get(destinationId);
      run.log.info(`copying backup ${backup.id} to destination ${target.name}`);
      const source = await this.destinations.openForReading(await this.destinations.get(backup.destinationId), lockPurpose(run.job.id, `copy of backup ${backup.id} to ${target.name}`));
      let result;
      try {
        const targetRepository = await this.destinations.openRepository(target);
        result = await orWaitFor(target, () => copyBackup(source.repository, targetRepository, backup.id, {
          signal: run.signal,
          purpose: lockPurpose(run.job.id, `copy of backup ${backup.id}`),
          onProgress: (p) => run.progress.update({ unit: 'bytes', done: p.bytes, total: backup.logicalBytes, message: `${p.files} files` }),
        }));
      } finally {
        await source.release();
      }
      await this.replicas.record(backup.id, destinationId, ReplicaState.COMPLETED, { bytesSent: result.bytesSent });
      run.log.info(result.copied ? `sent ${result.chunksSent} chunks (${result.bytesSent} bytes); ${result.chunksPresent} were there already` : 'the destination already held this backup');
      return { destinationId, ...result };
    } catch (error) {
      // A copy that waits for a lock has not failed: it runs when the lock is free.
      if (!(error instanceof DestinationBusy)) await this.replicas.record(backup.id, destinationId, ReplicaState.FAILED, { error: describeFailure(error) });
      throw error;
    }
  }

  async recover(job: JobEntity): Promise<Record<string, unknown> | null> {
    if (job.backupId) await this.replicas.record(job.backupId, String(job.payload.destinationId), ReplicaState.FAILED, { error: 'interrupted: the server stopped during the copy; run it again' });
    return null;
  }
}
