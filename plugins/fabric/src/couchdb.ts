/**
 * A peer's CouchDB state database read and written through CouchDB's HTTP API, from the peer's
 * machine (the seed's "stores the couch db manifest, and the secrets associated with it"). Each
 * database becomes one NDJSON file: a first line with its name and security object, then one
 * document per line with its revision and attachments, so a restore gives back the same
 * documents at the same revisions.
 */
import { PluginError, type JsonObject, type Machine } from '@chainvault/plugin-sdk';
import type { CouchDbConfig } from './config';

const SYSTEM_DATABASES = new Set(['_users', '_replicator', '_global_changes']);
const PAGE = 500;

export interface CouchDatabaseRecord extends JsonObject {
  name: string;
  docs: number;
  stored: string;
}

export class CouchDb {
  private readonly base: string;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly machine: Machine,
    private readonly config: CouchDbConfig,
    private readonly owner: string,
  ) {
    this.base = config.url.replace(/\/+$/, '');
    this.headers = config.username ? { authorization: `Basic ${Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64')}` } : {};
  }

  private async call(method: string, path: string, body?: string | Record<string, unknown>, okStatuses = [200, 201, 202]): Promise<{ status: number; json: unknown }> {
    const answer = await this.machine
      .request(`${this.base}${path}`, { method, body, headers: { ...this.headers, accept: 'application/json' }, timeoutMs: 120_000, logged: false })
      .catch((error: Error) => {
        throw new PluginError('UNREACHABLE', `the CouchDB of ${this.owner} at ${this.base} does not answer from ${this.machine.name}: ${error.message}`);
      });
    if (answer.status === 401 || answer.status === 403) {
      throw new PluginError('INVALID_CONFIG', `the CouchDB of ${this.owner} at ${this.base} refused ${this.config.username ? `the credentials of "${this.config.username}"` : 'a request without credentials'} (${answer.status}) on ${method} ${path.split('?')[0]}`);
    }
    if (!okStatuses.includes(answer.status)) {
      throw new PluginError('COMMAND_FAILED', `the CouchDB of ${this.owner} answered ${answer.status} to ${method} ${path.split('?')[0]}: ${answer.body.slice(0, 300)}`);
    }
    try {
      return { status: answer.status, json: answer.body ? JSON.parse(answer.body) : null };
    } catch {
      throw new PluginError('COMMAND_FAILED', `the CouchDB of ${this.owner} answered ${method} ${path.split('?')[0]} with something that is not JSON: ${answer.body.slice(0, 200)}`);
    }
  }

  /** The databases to keep: the configured ones, or every one but CouchDB's own. Also proves the credentials. */
  async databases(): Promise<string[]> {
    const { json } = await this.call('GET', '/_all_dbs');
    if (!Array.isArray(json)) throw new PluginError('COMMAND_FAILED', `the CouchDB of ${this.owner} answered /_all_dbs with no list`);
    const all = (json as string[]).filter((name) => !SYSTEM_DATABASES.has(name));
    if (!this.config.databases) return all.sort();
    const missing = this.config.databases.filter((name) => !all.includes(name));
    if (missing.length) throw new PluginError('INVALID_CONFIG', `the CouchDB of ${this.owner} has no database ${missing.join(', ')}`);
    return [...this.config.databases].sort();
  }

  /** One database as NDJSON lines, read page by page. */
  async *dump(database: string, counted: { docs: number }): AsyncGenerator<Uint8Array> {
    const db = `/${encodeURIComponent(database)}`;
    const security = (await this.call('GET', `${db}/_security`)).json ?? {};
    yield Buffer.from(`${JSON.stringify({ database, security })}\n`);
    let startKey: string | undefined;
    for (;;) {
      const query = `include_docs=true&attachments=true&limit=${PAGE}${startKey === undefined ? '' : `&startkey=${encodeURIComponent(JSON.stringify(startKey))}&skip=1`}`;
      const { json } = await this.call('GET', `${db}/_all_docs?${query}`);
      const rows = ((json as { rows?: { id: string; doc?: Record<string, unknown> }[] })?.rows ?? []).filter((r) => r.doc);
      if (rows.length === 0) return;
      counted.docs += rows.length;
      yield Buffer.from(rows.map((r) => `${JSON.stringify(r.doc)}\n`).join(''));
      if (rows.length < PAGE) return;
      startKey = rows[rows.length - 1].id;
    }
  }

  /** Replaces a database with the documents of a dump (same ids, revisions and attachments). */
  async load(lines: AsyncIterable<string>): Promise<{ database: string; docs: number }> {
    let database: string | undefined;
    let batch: Record<string, unknown>[] = [];
    let docs = 0;
    const flush = async () => {
      if (!batch.length) return;
      const { json } = await this.call('POST', `/${encodeURIComponent(database!)}/_bulk_docs`, { docs: batch, new_edits: false });
      const failed = Array.isArray(json) ? (json as { error?: string; id?: string; reason?: string }[]).filter((r) => r.error) : [];
      if (failed.length) throw new PluginError('COMMAND_FAILED', `CouchDB refused ${failed.length} document(s) of ${database}: ${failed.slice(0, 3).map((f) => `${f.id}: ${f.error} ${f.reason ?? ''}`).join('; ')}`);
      docs += batch.length;
      batch = [];
    };
    for await (const line of lines) {
      if (!line.trim()) continue;
      const value = JSON.parse(line) as Record<string, unknown>;
      if (database === undefined) {
        database = String(value.database);
        const db = `/${encodeURIComponent(database)}`;
        await this.call('DELETE', db, undefined, [200, 202, 404]);
        await this.call('PUT', db, undefined, [201, 202]);
        const security = value.security as Record<string, unknown> | null;
        if (security && Object.keys(security).length) await this.call('PUT', `${db}/_security`, security);
        continue;
      }
      batch.push(value);
      if (batch.length >= PAGE) await flush();
    }
    if (database === undefined) throw new PluginError('INCONSISTENT', 'a stored CouchDB database is empty (no header line)');
    await flush();
    return { database, docs };
  }

  /** Drops databases (those of a peer whose state is rebuilt from its ledger). */
  async drop(databases: string[]): Promise<void> {
    for (const database of databases) await this.call('DELETE', `/${encodeURIComponent(database)}`, undefined, [200, 202, 404]);
  }
}

/** Splits a byte stream into lines. */
export async function* linesOf(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  let rest = '';
  const decoder = new TextDecoder();
  for await (const chunk of chunks) {
    rest += decoder.decode(chunk, { stream: true });
    let at: number;
    while ((at = rest.indexOf('\n')) >= 0) {
      yield rest.slice(0, at);
      rest = rest.slice(at + 1);
    }
  }
  rest += decoder.decode();
  if (rest) yield rest;
}
