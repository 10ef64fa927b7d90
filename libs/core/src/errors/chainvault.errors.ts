/**
 * The domain error every service throws. Its code is part of the API contract: the GraphQL
 * layer maps it to `extensions.code` in one place, and its message is shown to the user.
 */
export enum ChainvaultErrorCode {
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  NOT_FOUND = 'NOT_FOUND',
  CONFLICT = 'CONFLICT',
  FORBIDDEN = 'FORBIDDEN',
  INTERNAL = 'INTERNAL',
}

export class ChainvaultError extends Error {
  constructor(
    readonly code: ChainvaultErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ChainvaultError';
  }

  static badInput(message: string, details?: Record<string, unknown>): ChainvaultError {
    return new ChainvaultError(ChainvaultErrorCode.BAD_USER_INPUT, message, details);
  }

  static notFound(what: string, id: string): ChainvaultError {
    return new ChainvaultError(ChainvaultErrorCode.NOT_FOUND, `${what} ${id} does not exist`, { id });
  }

  static conflict(message: string, details?: Record<string, unknown>): ChainvaultError {
    return new ChainvaultError(ChainvaultErrorCode.CONFLICT, message, details);
  }

  static forbidden(message: string, details?: Record<string, unknown>): ChainvaultError {
    return new ChainvaultError(ChainvaultErrorCode.FORBIDDEN, message, details);
  }
}
