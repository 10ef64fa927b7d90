/**
 * The open graphql-ws connections and the token each was opened with. A revoked token's
 * sockets are closed at once on this instance; a periodic check closes those whose token was
 * revoked on another instance, or has expired.
 */
import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { Principal } from '@chainvault/core';
import { ApiGate } from './api-gate';

/** The part of a `ws` WebSocket this needs. */
export interface ClosableSocket {
  close(code?: number, reason?: string): void;
  once(event: 'close', listener: () => void): unknown;
}

/** graphql-ws's code for Forbidden. */
export const CLOSE_FORBIDDEN = 4403;
const RECHECK_MS = 5_000;

@Injectable()
export class WebSocketSessions implements OnModuleDestroy {
  private readonly logger = new Logger('access');
  private readonly sockets = new Map<ClosableSocket, Principal>();
  private readonly timer: NodeJS.Timeout;
  private readonly stopListening: () => void;

  constructor(private readonly gate: ApiGate) {
    this.stopListening = gate.onRevoke((tokenId) => this.closeFor(tokenId, 'the token was revoked'));
    this.timer = setInterval(() => void this.recheck(), RECHECK_MS);
    this.timer.unref();
  }

  add(socket: ClosableSocket, principal: Principal): void {
    this.sockets.set(socket, principal);
    socket.once('close', () => this.sockets.delete(socket));
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    this.stopListening();
  }

  closeFor(tokenId: string, reason: string): void {
    for (const [socket, principal] of this.sockets) {
      if (principal.tokenId !== tokenId) continue;
      this.logger.warn(`closing a WebSocket of token "${principal.name}": ${reason}`);
      this.sockets.delete(socket);
      socket.close(CLOSE_FORBIDDEN, reason);
    }
  }

  private async recheck(): Promise<void> {
    const distinct = new Map([...this.sockets.values()].map((p) => [p.tokenId, p]));
    for (const principal of distinct.values()) {
      const valid = await this.gate.stillValid(principal).catch(() => true);
      if (!valid) this.closeFor(principal.tokenId, 'the token is no longer valid');
    }
  }
}
