/**
 * Maps every error to what a client sees: a domain error keeps its message and gets its code
 * in `extensions.code`; anything unexpected is logged and answered as INTERNAL without detail.
 */
import { Logger } from '@nestjs/common';
import { unwrapResolverError } from '@apollo/server/errors';
import { ChainvaultError, ChainvaultErrorCode } from '@chainvault/core';
import { randomUUID } from 'node:crypto';
import type { GraphQLFormattedError } from 'graphql';

const logger = new Logger('graphql');

/** Codes Apollo and graphql-js give to errors in the request itself (syntax, validation, variables). */
const REQUEST_ERROR_CODES = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT', 'BAD_REQUEST', 'PERSISTED_QUERY_NOT_FOUND', 'PERSISTED_QUERY_NOT_SUPPORTED', 'OPERATION_RESOLUTION_FAILURE']);

export function formatGraphqlError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof ChainvaultError) {
    const code = original.code;
    if (code === ChainvaultErrorCode.INTERNAL) logger.error(original.message);
    return { message: original.message, path: formatted.path, locations: formatted.locations, extensions: { code, ...original.details } };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && REQUEST_ERROR_CODES.has(code)) {
    // The request itself is wrong (unknown field, missing argument, wrong type, a limit passed): the client can fix it.
    const tooLong = /more tha[nt] (\d+) tokens/.exec(formatted.message);
    if (tooLong) {
      const max = Number(tooLong[1]);
      return {
        message: `the query has more than ${max} tokens; at most ${max} are allowed (maxQueryTokens, CHAINVAULT_MAX_QUERY_TOKENS): ask for fewer fields or aliases`,
        extensions: { code: 'BAD_USER_INPUT', reason: code, limit: 'maxQueryTokens', max },
      };
    }
    const { limit, value, max } = formatted.extensions ?? {};
    const limitDetails = typeof limit === 'string' ? { limit, value, max } : {};
    return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions: { code: 'BAD_USER_INPUT', reason: code, ...limitDetails } };
  }
  const reference = randomUUID();
  logger.error(`internal error ${reference}: ${(original as Error)?.stack ?? String(original)}`);
  return { message: `internal error; the server log has the details under ${reference}`, path: formatted.path, extensions: { code: ChainvaultErrorCode.INTERNAL, reference } };
}
