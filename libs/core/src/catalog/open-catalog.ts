/**
 * Opens the catalog and brings its schema up to date, or fails with one message that names the
 * catalog, the error and what to do. SQLite is tried once; a PostgreSQL server still starting is
 * waited for, briefly.
 */
import { Logger } from '@nestjs/common';
import { dirname } from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';

/** An arbitrary, fixed key: instances starting together on one PostgreSQL catalog migrate it one at a time. */
const MIGRATION_LOCK = 72_034_113;

/** How long a start waits for a PostgreSQL server that does not accept connections yet (a container starting beside it). */
export const POSTGRES_WAIT_MS = 10_000;
const POSTGRES_RETRY_MS = 1_000;

/** What to do when the catalog's content is what failed. */
export const RESTORE_ADVICE = 'Restore the catalog from its backup, or run "chainvault catalog check" to see what is damaged.';

/** The catalog could not be opened. Its message is the whole story, for an operator, without a stack. */
export class CatalogUnavailableError extends Error {
  constructor(
    readonly location: string,
    readonly reason: string,
    readonly advice: string,
    /** The catalog's content failed, not the way to it (a path, a connection, a password). */
    readonly damaged: boolean,
  ) {
    super(`chainvault could not open its catalog ${location}: ${reason}. ${advice}`);
    this.name = 'CatalogUnavailableError';
  }
}

/** The catalog as an operator names it: the SQLite file, or the PostgreSQL URL without its password or parameters. */
export function catalogLocation(options: DataSourceOptions): string {
  if (options.type === 'sqlite') return String(options.database);
  if (options.type === 'postgres') {
    try {
      const url = new URL(String(options.url));
      url.password = '';
      url.search = '';
      url.hash = '';
      return url.toString();
    } catch {
      return 'on PostgreSQL (CHAINVAULT_DATABASE_URL cannot be read as a URL)';
    }
  }
  return options.type;
}

/**
 * Opens the catalog. With `migrate` (the default) its schema is brought up to date, under a
 * PostgreSQL advisory lock so that instances starting together migrate one at a time.
 */
export async function openCatalog(options: DataSourceOptions, settings: { migrate?: boolean; waitForPostgres?: boolean } = {}): Promise<DataSource> {
  const deadline = Date.now() + (options.type === 'postgres' && (settings.waitForPostgres ?? true) ? POSTGRES_WAIT_MS : 0);
  let waiting = false;
  for (;;) {
    const dataSource = new DataSource({ ...options, migrationsRun: false } as DataSourceOptions);
    try {
      await dataSource.initialize();
      if (settings.migrate ?? true) await migrate(dataSource);
      return dataSource;
    } catch (error) {
      if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
      if (options.type === 'postgres' && notReadyYet(error) && Date.now() + POSTGRES_RETRY_MS < deadline) {
        if (!waiting) new Logger('catalog').warn(`${catalogLocation(options)}: ${reasonOf(error, options)}; waiting up to ${POSTGRES_WAIT_MS / 1000} s for PostgreSQL`);
        waiting = true;
        await new Promise((resolve) => setTimeout(resolve, POSTGRES_RETRY_MS));
        continue;
      }
      throw catalogUnavailable(options, error);
    }
  }
}

/** The error of a failed open or check, as the operator should read it. */
export function catalogUnavailable(options: DataSourceOptions, error: unknown): CatalogUnavailableError {
  const remedy = remedyFor(options, error);
  return new CatalogUnavailableError(catalogLocation(options), reasonOf(error, options), remedy ?? RESTORE_ADVICE, remedy === null);
}

async function migrate(dataSource: DataSource): Promise<void> {
  if (dataSource.options.type !== 'postgres') {
    await dataSource.runMigrations({ transaction: 'each' });
    return;
  }
  const runner = dataSource.createQueryRunner();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
  }
}

function codeOf(error: unknown): string {
  const e = error as { code?: unknown; driverError?: { code?: unknown } } | null;
  return String(e?.driverError?.code ?? e?.code ?? '');
}

/** The driver's own words, first line only (sqlite3 appends the statement it ran), never the password. */
function reasonOf(error: unknown, options: DataSourceOptions): string {
  // Node's connect to a name with several addresses fails with an AggregateError without a message of its own.
  const text = error instanceof AggregateError && !error.message ? error.errors.map((e: unknown) => (e as Error)?.message).join('; ') : error instanceof Error ? error.message : String(error);
  const message = text.split('\n')[0].trim().replace(/\.$/, '') || codeOf(error) || 'unknown error';
  if (options.type !== 'postgres') return message;
  let password = '';
  try {
    password = decodeURIComponent(new URL(String(options.url)).password);
  } catch {
    // catalogLocation says the URL cannot be read.
  }
  return password ? message.split(password).join('***') : message;
}

/** Connection refused, the server starting or shutting down: what a short wait can mend. */
function notReadyYet(error: unknown): boolean {
  const code = codeOf(error);
  return ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', '57P03'].includes(code) || code.startsWith('08');
}

/** What to do when the way to the catalog failed; null when its content did. */
function remedyFor(options: DataSourceOptions, error: unknown): string | null {
  const code = codeOf(error);
  if (options.type === 'sqlite') {
    if (['SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_PERM', 'SQLITE_AUTH', 'EACCES', 'EPERM'].includes(code)) {
      return `Check that ${dirname(String(options.database))} exists and that this user may read and write it.`;
    }
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return 'Another process holds the catalog locked: stop it and start again.';
    return null;
  }
  if (notReadyYet(error) || ['ENOTFOUND', 'ESERVFAIL'].includes(code)) return 'Check that PostgreSQL runs and is reachable at that address.';
  // Authentication failed, no such database or role, no permission.
  if (code.startsWith('28') || code === '3D000' || code === '42501') return 'Check the user, password and database in CHAINVAULT_DATABASE_URL.';
  return null;
}
