/** Errors of the backup repository, each with a code the host maps to job and API errors. */

export type RepositoryErrorCode =
  | 'NOT_A_REPOSITORY'
  | 'UNSUPPORTED_VERSION'
  | 'NOT_FOUND'
  | 'INVALID_PATH'
  | 'DUPLICATE_PATH'
  | 'CORRUPT'
  | 'ABORTED'
  | 'NO_SPACE'
  | 'TARGET_NOT_EMPTY'
  | 'WRONG_PASSPHRASE'
  | 'LOCKED'
  | 'IO';

export class RepositoryError extends Error {
  constructor(
    readonly code: RepositoryErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RepositoryError';
  }
}

/** Turns a file-system error into a RepositoryError that says what was being done. */
export function describeIoError(error: unknown, doing: string): RepositoryError {
  if (error instanceof RepositoryError) return error;
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new RepositoryError('NO_SPACE', `no space left while ${doing}; free space on the destination and run the job again`, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new RepositoryError('IO', `${doing} failed: ${message}`, { cause: error });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new RepositoryError('ABORTED', 'the operation was cancelled');
}
