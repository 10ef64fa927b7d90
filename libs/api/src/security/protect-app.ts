/**
 * Puts the API gate in front of everything the HTTP server answers: Express routes (before
 * any of them) and WebSocket upgrades (before graphql-ws sees them).
 */
import type { INestApplication } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import type { NextFunction, Request, Response } from 'express';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiGate, bearerToken, isPublicRoute, type GateRefusal } from './api-gate';

declare module 'express' {
  interface Request {
    principal?: import('@chainvault/core').Principal;
  }
}

function answer(response: Response, refusal: GateRefusal): void {
  if (refusal.status === 401) response.setHeader('WWW-Authenticate', 'Bearer realm="chainvault"');
  if (refusal.retryAfter) response.setHeader('Retry-After', String(refusal.retryAfter));
  response.status(refusal.status).json({ errors: [{ message: refusal.message, extensions: { code: refusal.code } }] });
}

function remoteAddressOf(request: IncomingMessage): string {
  return request.socket.remoteAddress ?? 'unknown';
}

/** Registers the gate before the application's routes; call before `app.init()`. */
export function gateHttpRequests(app: INestApplication): void {
  const gate = app.get(ApiGate);
  app.use((request: Request, response: Response, next: NextFunction) => {
    const address = remoteAddressOf(request);
    const path = request.path;
    void (async () => {
      const originRefusal = await gate.checkOrigin(request.headers, address, 'http', path);
      if (originRefusal) return answer(response, originRefusal);
      if (isPublicRoute(request.method, path)) return next();
      const result = await gate.authenticate(bearerToken(request.headers.authorization), address, 'http', path);
      if ('refusal' in result) return answer(response, result.refusal);
      request.principal = result.principal;
      next();
    })().catch(next);
  });
}

/** The largest WebSocket message accepted, before or after authentication: GraphQL operations are small. */
export const MAX_WEBSOCKET_MESSAGE = 64 * 1024;

/**
 * Limits the messages of Nest's graphql-ws server: `ws` accepts 100 MiB by default, and
 * @nestjs/graphql makes its WebSocketServer without a limit or a way to give one.
 */
function limitWebSocketMessages(app: INestApplication): void {
  const adapter = app.get(GraphQLModule, { strict: false }).graphQlAdapter as unknown as { _subscriptionService?: { wss?: { options: { maxPayload?: number } } } };
  const wss = adapter._subscriptionService?.wss;
  if (!wss) throw new Error('the graphql-ws server was not found where @nestjs/apollo keeps it: its WebSocket message limit cannot be set');
  wss.options.maxPayload = MAX_WEBSOCKET_MESSAGE;
}

function upgradePath(url: string | undefined): string | null {
  try {
    return new URL(url ?? '/', 'http://upgrade').pathname;
  } catch {
    return null;
  }
}

function refuseUpgrade(socket: Duplex, status: string, message: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${message}\n`);
}

/**
 * Refuses WebSocket upgrades from foreign pages and host names, and to any path but /graphql;
 * call after `app.init()`, when graphql-ws listens.
 */
export function gateWebSocketUpgrades(app: INestApplication): void {
  const gate = app.get(ApiGate);
  limitWebSocketMessages(app);
  const server = app.getHttpServer() as Server;
  const listeners = server.listeners('upgrade') as ((request: IncomingMessage, socket: Duplex, head: Buffer) => void)[];
  server.removeAllListeners('upgrade');
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (upgradePath(request.url) !== '/graphql') return refuseUpgrade(socket, '404 Not Found', 'WebSockets are served on /graphql only');
    void gate.checkOrigin(request.headers, remoteAddressOf(request), 'websocket', request.url ?? '/').then(
      (refusal) => {
        if (!refusal) {
          for (const listener of listeners) listener.call(server, request, socket, head);
          return;
        }
        refuseUpgrade(socket, `${refusal.status} Forbidden`, refusal.message);
      },
      () => socket.destroy(),
    );
  });
}
