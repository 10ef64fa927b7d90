/** The CLI's connection to a running server: GraphQL over HTTP with a token, and errors a person can read. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export class CliError extends Error {}

/** The token file the server writes on its first start, in its data directory. */
const ADMIN_TOKEN_FILE = 'admin.token';

/**
 * The token the CLI sends: CHAINVAULT_TOKEN, or else the admin token the server wrote into
 * its data directory (CHAINVAULT_DATA_DIR, default ./data) when the CLI runs beside it, that
 * is, when it speaks to a server on this machine: the admin token never goes elsewhere by itself.
 */
export function cliToken(url: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | null {
  if (env.CHAINVAULT_TOKEN?.trim()) return env.CHAINVAULT_TOKEN.trim();
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (!(host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host))) return null;
  try {
    return readFileSync(join(resolve(cwd, env.CHAINVAULT_DATA_DIR || './data'), ADMIN_TOKEN_FILE), 'utf8').trim() || null;
  } catch {
    return null;
  }
}

export class ApiClient {
  constructor(
    readonly url: string,
    private readonly token: string | null = cliToken(url),
  ) {}

  async request<T = Record<string, any>>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code && !/ECONNREFUSED|ENOTFOUND/.test(cause.code) ? ` (${cause.code}: ${cause.message}; for a self-signed certificate set NODE_EXTRA_CA_CERTS)` : '';
      throw new CliError(`no chainvault server answers at ${this.url}${why}; start one with "chainvault serve" or set CHAINVAULT_URL`);
    }
    const body = (await response.json().catch(() => null)) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] } | null;
    if (response.status === 401 && !this.token) {
      throw new CliError(
        `the server needs a token: set CHAINVAULT_TOKEN, or (for a server on this machine) run the CLI where it can read admin.token in the server's data directory (CHAINVAULT_DATA_DIR)`,
      );
    }
    if (!body) throw new CliError(`${this.url} answered HTTP ${response.status} without a GraphQL response`);
    if (body.errors?.length) throw new CliError(body.errors.map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`).join('\n'));
    return body.data as T;
  }
}

/**
 * The server's base URL: CHAINVAULT_URL, where `host:port` without a scheme means http (as
 * curl reads it), or else the address `serve` listens on by the same CHAINVAULT_* variables.
 */
export function serverUrl(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.CHAINVAULT_URL?.trim();
  if (given) return parseServerUrl(given);
  const host = env.CHAINVAULT_HOST && !['0.0.0.0', '::'].includes(env.CHAINVAULT_HOST) ? env.CHAINVAULT_HOST : '127.0.0.1';
  const scheme = env.CHAINVAULT_TLS_CERT ? 'https' : 'http';
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${env.CHAINVAULT_PORT ?? '4800'}`;
}

function parseServerUrl(given: string): string {
  const refuse = (why: string) =>
    new CliError(`CHAINVAULT_URL must be the server's address, such as http://127.0.0.1:4800, https://backup.example.com or 127.0.0.1:4800; "${given}" ${why}`);
  // `localhost:4800` would parse as a URL of scheme "localhost:", so only `scheme://` counts as a scheme.
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(given) ? given : `http://${given}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw refuse('is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refuse(`has scheme ${url.protocol.slice(0, -1)}; use http or https`);
  if (!url.hostname) throw refuse('names no host');
  if (url.search || url.hash || url.username || url.password) throw refuse('carries a query, fragment or credentials; give the token in CHAINVAULT_TOKEN');
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}
