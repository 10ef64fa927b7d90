/**
 * The one door of the API: every request (HTTP or a WebSocket's) passes the Host and Origin
 * checks, and every route that answers with data needs a token. Refusals are logged and
 * audited, with failed authentications rate limited per address.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ApiTokenService, AuditService, CHAINVAULT_CONFIG, isRefusal, type ChainvaultConfig, type Principal } from '@chainvault/core';
import type { IncomingHttpHeaders } from 'node:http';
import { FailedAuthLimiter } from './failed-auth-limiter';
import { RequestOriginPolicy } from './request-origin';

/** Routes served without a token: the health check and the static files of GraphiQL and of the console (its page asks for a token). */
const PUBLIC_ROUTES = [/^\/health\/?$/, /^\/graphiql\/?$/, /^\/graphiql\/assets\/[^/]+$/, /^\/$/, /^\/assets\/[^/]+$/];

export type Transport = 'http' | 'websocket';

export interface GateRefusal {
  status: 401 | 403 | 429;
  code: 'UNAUTHENTICATED' | 'FORBIDDEN' | 'RATE_LIMITED';
  message: string;
  retryAfter?: number;
}

export type GateResult = { principal: Principal } | { refusal: GateRefusal };

/** The token of an `Authorization: Bearer …` value (or of graphql-ws connection params), or null. */
export function bearerToken(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(value);
  return match ? match[1] : null;
}

/** A header value as the audit keeps it: at most 200 characters, whoever sent it. */
function clip(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  const text = Array.isArray(value) ? value.join(', ') : value;
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

export function isPublicRoute(method: string, path: string): boolean {
  return (method === 'GET' || method === 'HEAD') && PUBLIC_ROUTES.some((route) => route.test(path));
}

@Injectable()
export class ApiGate {
  private readonly logger = new Logger('access');
  private readonly origins: RequestOriginPolicy;
  private readonly limiter = new FailedAuthLimiter();

  constructor(
    @Inject(CHAINVAULT_CONFIG) config: ChainvaultConfig,
    private readonly tokens: ApiTokenService,
    private readonly audit: AuditService,
  ) {
    this.origins = new RequestOriginPolicy({ host: config.host, publicUrl: config.publicUrl, allowedHosts: config.allowedHosts });
  }

  /** Refuses a request whose Host or Origin is foreign; null when it may go on. */
  async checkOrigin(headers: IncomingHttpHeaders, remoteAddress: string, transport: Transport, route: string): Promise<GateRefusal | null> {
    const problem = this.origins.problem(headers);
    if (!problem) return null;
    await this.refused(remoteAddress, transport, { reason: 'origin', route, host: clip(headers.host), origin: clip(headers.origin) }, problem);
    return { status: 403, code: 'FORBIDDEN', message: problem };
  }

  /**
   * Accepts a presented token, or says why not (and audits the refusal). Past the limit of
   * guesses a source's further guesses get 429 without an audit row each; a valid token from
   * it is still served, so an attacker on a shared address cannot lock the operator out.
   */
  async authenticate(token: string | null, remoteAddress: string, transport: Transport, route: string): Promise<GateResult> {
    const result = await this.tokens.authenticate(token);
    if (!isRefusal(result)) return { principal: result };
    // Guesses are limited; a known token that was revoked or expired is told so every time.
    const guess = result.reason === 'missing' || result.reason === 'unknown';
    const wait = guess ? this.limiter.retryAfter(remoteAddress) : 0;
    if (wait > 0) {
      this.limiter.fail(remoteAddress);
      return { refusal: { status: 429, code: 'RATE_LIMITED', message: `too many failed authentications from ${remoteAddress}; try again in ${wait} s`, retryAfter: wait } };
    }
    const message =
      result.reason === 'missing'
        ? 'this API needs a token: send "Authorization: Bearer <token>" (the first start wrote an admin token to admin.token in the data directory)'
        : result.reason === 'unknown'
          ? 'the token is not valid'
          : `the token "${result.name}" is ${result.reason}`;
    await this.refused(remoteAddress, transport, { reason: result.reason, route, token: result.name ?? null }, message, result.name);
    return { refusal: { status: 401, code: 'UNAUTHENTICATED', message } };
  }

  /** Whether a token accepted at a WebSocket's start may still be used. */
  stillValid(principal: Principal): Promise<boolean> {
    return this.tokens.stillValid(principal.tokenId);
  }

  onRevoke(listener: (tokenId: string) => void): () => void {
    return this.tokens.onRevoke(listener);
  }

  private async refused(remoteAddress: string, transport: Transport, details: Record<string, unknown>, message: string, tokenName?: string): Promise<void> {
    if (!this.limiter.fail(remoteAddress)) return;
    details = Object.fromEntries(Object.entries(details).map(([key, value]) => [key, typeof value === 'string' ? clip(value) : value]));
    this.logger.warn(`refused ${transport} request from ${remoteAddress} to ${String(details.route)}: ${message}`);
    await this.audit
      .record({ actor: tokenName ?? 'anonymous', action: 'auth.refused', subjectType: 'api', remoteAddress, outcome: 'refused', details: { transport, ...details } })
      .catch((error: Error) => this.logger.error(`could not audit a refused request: ${error.message}`));
  }
}
