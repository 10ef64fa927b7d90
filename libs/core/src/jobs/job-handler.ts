/** The contract between the job worker and the code that does one kind of job. */
import type { PluginLogger, ProgressReporter } from '@chainvault/plugin-sdk';
import type { JsonMap } from '../catalog/columns';
import type { JobEntity, JobKind } from '../catalog/entities';

export interface JobRun {
  job: JobEntity;
  signal: AbortSignal;
  progress: ProgressReporter;
  log: PluginLogger;
  /** Records the backup this job is producing, at once, so a restart can find it. */
  assignBackup(backupId: string): Promise<void>;
  /** Writes what a disruptive plugin run saved (the nodes it stopped) into the job row, at once. */
  saveState(state: JsonMap): Promise<void>;
  /** When the maintenance window the job started in closes, if its policy has windows. */
  windowEndsAt?: Date;
}

/** Why a disruptive job's cleanup runs. */
export type CleanupReason = 'cancelled' | 'shutdown' | 'crashed' | 'failed';

export interface JobHandler {
  /** Whether this job runs a plugin method that stops nodes: never retried, cleaned up after a stop. */
  disruptive?(job: JobEntity): Promise<boolean>;
  /** Starts again what a disruptive job stopped (its plugin's cleanup), after a cancel, a shutdown, a failure or a crash. */
  cleanup?(run: Pick<JobRun, 'job' | 'signal' | 'progress' | 'log'>, reason: CleanupReason): Promise<void>;
  readonly kind: JobKind;
  /** Does the work; the returned object becomes the job's result. Throw to fail the job. */
  run(run: JobRun): Promise<JsonMap>;
  /**
   * Called on start for a job whose worker died. Returns a result if the work turned out to be
   * complete, or null if it must be reported as failed. Also cleans up what the job left.
   */
  recover(job: JobEntity): Promise<JsonMap | null>;
  /** What the user can do about a job of this kind that was interrupted and is not retried, added to its error. */
  readonly afterInterruption?: string;
}

export const JOB_HANDLERS = Symbol('JOB_HANDLERS');
