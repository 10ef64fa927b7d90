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

/** What a NO_SPACE error knows about the space it lacked, for whoever adds its own context. */
export interface SpaceShortage {
  /** Bytes the write that failed (or was refused) needed. */
  neededBytes: number;
  /** Bytes free on the destination when it failed; null when the backend cannot tell. */
  freeBytes: number | null;
  totalBytes: number | null;
  /** Packs (and their bytes) the failed writer had already stored: unreferenced until a backup commits or a prune removes them. */
  packsWritten?: number;
  bytesWritten?: number;
}

export class RepositoryError extends Error {
  /** Set on NO_SPACE errors that know how much was needed and free. */
  readonly space?: SpaceShortage;

  constructor(
    readonly code: RepositoryErrorCode,
    message: string,
    options?: { cause?: unknown; space?: SpaceShortage },
  ) {
    super(message, options);
    this.name = 'RepositoryError';
    if (options?.space) this.space = options.space;
  }
}

/** Bytes as people read them in messages: `512 B`, `12.3 KiB`, `48.0 MiB`, `1.50 GiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit >= 2 ? 2 : 1)} ${units[unit]}`;
}

/** `12.3 MiB of 64.0 MiB is free`, or what can be said when the backend does not tell. */
export function describeFreeSpace(space: { free: number; total: number } | null, location: string): string {
  return space ? `${formatBytes(space.free)} of ${formatBytes(space.total)} is free` : `${location} does not say how much space it has left`;
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
