/**
 * A destination whose repository another job holds locked. The job that meets it is not
 * failed: the worker puts it back in the queue, saying what it waits for, until the lock is free.
 */
import type { DestinationEntity } from '../catalog/entities';

export class DestinationBusy extends Error {
  constructor(
    readonly destination: string,
    /** What holds the lock, as its holder described itself (`job 1f… (prune)`). */
    readonly holder: string,
  ) {
    super(`waiting for ${holder} on destination ${destination}`);
    this.name = 'DestinationBusy';
  }
}

/** Whether an error is the repository's LOCKED refusal (from any copy of the repository library). */
export function isLockedError(error: unknown): error is Error {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'LOCKED' && error instanceof Error;
}

/** The holder a LOCKED message names: `… locked [exclusively] by <purpose> (process …`. */
export function lockHolder(message: string): string {
  return /locked(?: exclusively)? by (.*) \(process \d+/.exec(message)?.[1] ?? 'another job';
}

/** Runs `take`, turning a LOCKED refusal into DestinationBusy for `destination`. */
export async function orWaitFor<T>(destination: Pick<DestinationEntity, 'name'>, take: () => Promise<T>): Promise<T> {
  try {
    return await take();
  } catch (error) {
    if (isLockedError(error)) throw new DestinationBusy(destination.name, lockHolder(error.message));
    throw error;
  }
}

/** How a job names itself in the locks it takes, so whoever waits for it can say for what. */
export function lockPurpose(jobId: string, what: string): string {
  return `job ${jobId} (${what})`;
}
