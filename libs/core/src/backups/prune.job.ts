/**
 * Prunes a destination's repository: removes the data no backup in it uses any more (after
 * deletions), under the repository's exclusive lock, so it never runs beside a backup.
 */
import { Injectable } from '@nestjs/common';
import { formatBytes } from '@chainvault/repository';
import { JobKind } from '../catalog/entities';
import { DestinationService } from '../destinations/destination.service';
import type { JobHandler, JobRun } from '../jobs/job-handler';
import { lockPurpose, orWaitFor } from '../destinations/destination-busy';

@Injectable()
export class PruneJob implements JobHandler {
  readonly kind = JobKind.PRUNE;

  constructor(private readonly destinations: DestinationService) {}

  async run(run: JobRun): Promise<Record<string, unknown>> {
    const destination = await this.destinations.get(String(run.job.payload.destinationId));
    const dryRun = run.job.payload.dryRun === true;
    run.log.info(`${dryRun ? 'dry run of a prune' : 'pruning'} of destination ${destination.name}`);
    const repository = await this.destinations.openRepository(destination);
    const result = await orWaitFor(destination, () => repository.prune({ dryRun, signal: run.signal }, lockPurpose(run.job.id, dryRun ? 'prune, dry run' : 'prune')));
    run.log.info(
      `${result.backups} backups kept; ${result.packsDeleted} packs ${dryRun ? 'would be ' : ''}deleted, ${result.packsRepacked} repacked; ${formatBytes(result.bytesFreed)} (${result.bytesFreed} bytes) ${dryRun ? 'would be ' : ''}freed`,
    );
    if (result.packsNotRepacked > 0) {
      run.log.warn(`${result.packsNotRepacked} half-used pack(s) were left whole: the destination had no room for the copies of what they still hold; the next prune repacks them once there is room`);
    }
    return { destinationId: destination.id, ...result };
  }

  async recover(): Promise<Record<string, unknown> | null> {
    // Prune is safe to interrupt anywhere; the next prune finishes the work.
    return null;
  }
}
