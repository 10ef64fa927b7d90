/** What every resolver can know of its caller, on HTTP and on a WebSocket. */
import type { Principal } from '@chainvault/core';
import type { IncomingMessage } from 'node:http';
import type { Transport } from './api-gate';

export interface ApiContext {
  req?: IncomingMessage;
  principal?: Principal;
  transport: Transport;
  /** CHAINVAULT_VIEWER_HIDES_PATHS: VIEWER tokens see no job logs and no configs. */
  hidePathsFromViewers?: boolean;
}

export function remoteAddress(context: ApiContext): string {
  return context.req?.socket?.remoteAddress ?? 'unknown';
}
