// The one error type of this plugin's decoders: a code to branch on and the byte offset where the input went wrong.

export enum ChainDecodeErrorCode {
  TRUNCATED = 'TRUNCATED',
  NON_CANONICAL = 'NON_CANONICAL',
  TRAILING_BYTES = 'TRAILING_BYTES',
  ITEM_OVERRUNS_LIST = 'ITEM_OVERRUNS_LIST',
  BAD_BLOCK = 'BAD_BLOCK',
}

export class ChainDecodeError extends Error {
  constructor(
    readonly code: ChainDecodeErrorCode,
    message: string,
    /** Absolute byte offset in the decoded buffer, when the problem has one. */
    readonly offset?: number,
  ) {
    super(message);
    this.name = 'ChainDecodeError';
  }
}
