/** What every resolver can know of its caller, on HTTP and on a WebSocket. */
import { ChainvaultError, ChainvaultErrorCode, type Principal } from '@chainvault/core';
import type { IncomingMessage } from 'node:http';
import type { Transport } from './api-gate';

export interface ApiContext {
  req?: IncomingMessage;
  principal?: Principal;
  transport: Transport;
  /** CHAINVAULT_VIEWER_HIDES_PATHS: VIEWER tokens see no job logs and no configs. */
  hidePathsFromViewers?: boolean;
  /** List items answered so far (see `chargeItems`). */
  itemsServed?: number;
  /** Fields this request was refused, so aliases of one are audited once. */
  refusedFields?: Set<string>;
}

export function remoteAddress(context: ApiContext): string {
  return context.req?.socket?.remoteAddress ?? 'unknown';
}

/**
 * Most list items one request may answer. The cost limit sizes lists before they are read;
 * some (a backup's files) are only known once read, so what is answered is counted too.
 */
export const MAX_ITEMS_PER_REQUEST = 100_000;

/** Counts `count` more items against the request's budget, or refuses the field that would pass it. */
export function chargeItems(context: ApiContext, count: number, field: string): void {
  const before = context.itemsServed ?? 0;
  const served = before + count;
  if (served > MAX_ITEMS_PER_REQUEST || before >= MAX_ITEMS_PER_REQUEST) {
    context.itemsServed = MAX_ITEMS_PER_REQUEST;
    throw new ChainvaultError(ChainvaultErrorCode.BAD_USER_INPUT, `the answer would hold more than ${MAX_ITEMS_PER_REQUEST} list items (${field} among them); ask for fewer backups' files at once`, {
      limit: 'maxQueryItems',
      max: MAX_ITEMS_PER_REQUEST,
    });
  }
  context.itemsServed = served;
}
