/**
 * Checks every backup in a destination at once, reading each pack a single time, and records
 * the verdict on each backup whose primary copy lives there. A damaged pack is reported with
 * every backup and file it hurts.
 */
import { Injectable } from '@nestjs/common';
import { formatBytes, type UnreferencedData } from '@chainvault/repository';
import { JobKind, VerificationState } from '../catalog/entities';
import { DestinationService } from '../destinations/destination.service';
import type { JobHandler, JobRun } from '../jobs/job-handler';
import { BackupService } from './backup.service';

class DestinationDamaged extends Error {
  readonly expected = true;
}

@Injectable()
export class CheckJob implements JobHandler {
  readonly kind = JobKind.CHECK;

  constructor(
    private readonly destinations: DestinationService,
    private readonly backups: BackupService,
  ) {}

  async run(run: JobRun): Promise<Record<string, unknown>> {
    const destination = await this.destinations.get(String(run.job.payload.destinationId));
    const readData = run.job.payload.readData !== false;
    run.log.info(`checking every backup in destination ${destination.name}${readData ? ', re-hashing all data' : ''}`);
    const { repository, release } = await this.destinations.openForReading(destination, `check of destination ${destination.name}`);
    let result;
    try {
      result = await repository.check({
        readData,
        signal: run.signal,
        onProgress: (p) => run.progress.update({ unit: 'bytes', done: p.bytes }),
      });
    } finally {
      await release();
    }
    const corrupt: Record<string, string[]> = {};
    for (const [backupId, problems] of Object.entries(result.backups)) {
      if (problems.length > 0) corrupt[backupId] = problems.slice(0, 20);
      if (await this.backups.exists(backupId)) {
        const backup = await this.backups.get(backupId);
        if (backup.destinationId === destination.id) await this.backups.recordVerification(backupId, problems.length ? VerificationState.CORRUPT : VerificationState.VERIFIED, problems);
      }
      for (const problem of problems.slice(0, 20)) run.log.error(`backup ${backupId}: ${problem}`);
    }
    for (const problem of result.general) run.log.warn(problem);
    // Data no backup uses is no damage: said, with the way to get the space back, and no backup is marked for it.
    const unreferenced = result.unreferenced;
    if (unreferenced && unreferenced.packs > 0) run.log.warn(describeUnreferenced(unreferenced, destination.name, result.sharedLocks > 1));
    const summary = { destinationId: destination.id, backups: Object.keys(result.backups).length, corrupt, packs: result.packs, bytesRead: result.bytesRead, readData, unreferenced };
    const hurt = Object.keys(corrupt);
    if (hurt.length > 0) throw new DestinationDamaged(`${hurt.length} backup(s) in destination ${destination.name} are damaged: ${hurt.join(', ')}`);
    return summary;
  }

  async recover(): Promise<Record<string, unknown> | null> {
    return null;
  }
}

/** `unreferenced data: 3 packs, 48.0 MiB, left by an interrupted or failed backup; … removes them`. */
export function describeUnreferenced(data: UnreferencedData, destinationName: string, othersHoldIt: boolean): string {
  // Packs no index names can only be a failed backup's; indexed ones may also be deleted backups' (or a failed backup's, adopted by the next).
  const why = data.unindexedPacks === data.packs ? 'left by an interrupted or failed backup' : 'left by interrupted or failed backups, or by deleted ones';
  const running = othersHoldIt ? ' (another job holds the destination now: packs a running backup has written so far are counted until it finishes)' : '';
  return `unreferenced data: ${data.packs} pack${data.packs === 1 ? '' : 's'}, ${formatBytes(data.bytes)}, ${why}${running}; \`chainvault destinations prune ${destinationName}\` or pruneDestination removes them`;
}
