/**
 * Typed errors a plugin throws so the host can tell the operator what went wrong and
 * decide whether running the job again could help.
 */

/** Why a plugin operation failed. The host maps these to job errors and API error codes. */
export type PluginErrorCode =
  | 'INVALID_CONFIG'
  | 'INVALID_OPTIONS'
  | 'INVALID_TARGET'
  | 'UNREACHABLE'
  | 'INCONSISTENT'
  | 'CORRUPT'
  | 'COMMAND_FAILED'
  | 'TIMEOUT'
  | 'ABORTED'
  | 'NO_SPACE'
  | 'FAILED';

const BRAND = Symbol.for('chainvault.plugin-error');

export interface PluginErrorOptions {
  /** True when the same operation may succeed if tried again later (a node restarting, a timeout). */
  retryable?: boolean;
  cause?: unknown;
  /** Machine-readable facts that help the operator (block numbers, paths, exit codes). */
  details?: Record<string, unknown>;
}

/**
 * The one error type plugins throw. Its message is shown to operators as is, so write it
 * for a person: say what was expected, what was found and what to do.
 */
export class PluginError extends Error {
  readonly code: PluginErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: PluginErrorCode, message: string, options: PluginErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PluginError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? {};
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/**
 * True for a {@link PluginError} from any copy of the SDK. A third-party plugin may bundle its
 * own SDK, so `instanceof` is not enough across package boundaries.
 */
export function isPluginError(value: unknown): value is PluginError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}
