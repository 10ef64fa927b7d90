/**
 * Puts the API gate in front of everything the HTTP server answers: Express routes (before
 * any of them) and WebSocket upgrades (before graphql-ws sees them).
 */
import type { INestApplication } from '@nestjs/common';
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

/** Refuses WebSocket upgrades from foreign pages and host names; call after `app.init()`, when graphql-ws listens. */
export function gateWebSocketUpgrades(app: INestApplication): void {
  const gate = app.get(ApiGate);
  const server = app.getHttpServer() as Server;
  const listeners = server.listeners('upgrade') as ((request: IncomingMessage, socket: Duplex, head: Buffer) => void)[];
  server.removeAllListeners('upgrade');
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    void gate.checkOrigin(request.headers, remoteAddressOf(request), 'websocket', request.url ?? '/').then(
      (refusal) => {
        if (!refusal) {
          for (const listener of listeners) listener.call(server, request, socket, head);
          return;
        }
        socket.end(`HTTP/1.1 ${refusal.status} Forbidden\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${refusal.message}\n`);
      },
      () => socket.destroy(),
    );
  });
}
