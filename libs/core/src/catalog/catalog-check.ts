/**
 * `chainvault catalog check`: opens the catalog without the server and says whether it is sound
 * (SQLite's integrity check, every table there, the schema's migrations) and what to do if not.
 * It changes nothing: no migration runs, and a missing SQLite file is not created.
 */
import { access } from 'node:fs/promises';
import { basename } from 'node:path';
import type { DataSource, DataSourceOptions } from 'typeorm';
import { catalogLocation, catalogUnavailable, CatalogUnavailableError, openCatalog } from './open-catalog';

/** `missing`: no catalog there yet; `unreachable`: the way to it failed; `newer`: a newer chainvault's schema. */
export type CatalogState = 'healthy' | 'damaged' | 'missing' | 'unreachable' | 'newer';

export interface CatalogReport {
  /** The SQLite file, or the PostgreSQL URL without its password. */
  location: string;
  kind: 'sqlite' | 'postgres';
  state: CatalogState;
  healthy: boolean;
  /** What the check found, one finding a line. */
  findings: string[];
  /** What to do, when the catalog is not healthy. */
  advice: string | null;
}

/** Problems `PRAGMA integrity_check` lists at most: enough to see the extent, not a flood. */
const INTEGRITY_PROBLEMS = 20;

export async function checkCatalog(options: DataSourceOptions): Promise<CatalogReport> {
  const kind = options.type === 'postgres' ? 'postgres' : 'sqlite';
  const location = catalogLocation(options);
  const report = (state: CatalogState, findings: string[], advice: string | null): CatalogReport => ({ location, kind, state, healthy: state === 'healthy', findings, advice });
  const restore = kind === 'sqlite' ? damagedSqliteAdvice(options) : 'Restore the catalog from its backup.';

  if (kind === 'sqlite') {
    const exists = await access(String((options as { database: unknown }).database)).then(() => true, () => false);
    if (!exists) {
      return report('missing', ['there is no catalog file'], 'The server creates it at its first start. If this server had a catalog, check CHAINVAULT_DATA_DIR (and CHAINVAULT_CONFIG), or restore the catalog from its backup.');
    }
  }

  let dataSource: DataSource;
  try {
    dataSource = await openCatalog({ ...options, logging: false } as DataSourceOptions, { migrate: false, waitForPostgres: false });
  } catch (error) {
    const unavailable = error instanceof CatalogUnavailableError ? error : catalogUnavailable(options, error);
    // A SQLite catalog that fails here has a schema SQLite cannot read: its integrity check could not run either.
    return unavailable.damaged ? report('damaged', [unavailable.reason], restore) : report('unreachable', [unavailable.reason], unavailable.advice);
  }
  const findings: string[] = [];
  try {
    let damaged = false;
    if (kind === 'sqlite') {
      const rows: Array<Record<string, string>> = await dataSource.query(`PRAGMA integrity_check(${INTEGRITY_PROBLEMS})`);
      const problems = integrityFindings(rows);
      damaged = problems.length > 0;
      findings.push(...(damaged ? problems : ['integrity check: ok']));
    } else {
      findings.push(`connected (PostgreSQL ${String((await dataSource.query('SHOW server_version'))[0].server_version).split(' ')[0]})`);
    }

    const schema = await schemaState(dataSource);
    if (!damaged && schema.applied.length === 0) {
      return report('missing', [...findings, 'no chainvault schema: this database holds no catalog yet'], 'The server creates the catalog at its first start. If this server had one, check the configuration, or restore the catalog from its backup.');
    }
    if (schema.unknown.length) {
      findings.push(`schema: migrations this chainvault does not know were applied (${schema.unknown.join(', ')}); a newer chainvault used this catalog`);
    } else if (schema.pending.length) {
      findings.push(`schema: ${schema.applied.length} of ${schema.known} migrations applied; ${schema.pending.join(', ')} will be applied at the next start`);
    } else {
      findings.push(`schema: all ${schema.known} migrations applied (latest ${schema.applied[schema.applied.length - 1]})`);
      // With migrations pending, tables of the later ones are missing rightly.
      const missing = await missingTables(dataSource);
      if (missing.length) {
        damaged = true;
        findings.push(`tables missing: ${missing.join(', ')}`);
      }
    }
    // Damage is what to mend first; a newer schema comes after.
    if (damaged) return report('damaged', findings, restore);
    if (schema.unknown.length) return report('newer', findings, 'Run the chainvault version that last used this catalog, or restore the catalog from a backup this version made.');
    return report('healthy', findings, null);
  } catch (error) {
    const failed = catalogUnavailable(options, error);
    return failed.damaged ? report('damaged', [...findings, failed.reason], restore) : report('unreachable', [...findings, failed.reason], failed.advice);
  } finally {
    await dataSource.destroy().catch(() => undefined);
  }
}

/** The report as lines for a terminal. */
export function describeCatalogReport(report: CatalogReport): string[] {
  const name = report.kind === 'sqlite' ? 'SQLite' : 'PostgreSQL';
  return [`catalog ${report.location} (${name}): ${report.state}`, ...report.findings.map((f) => `  ${f}`), ...(report.advice ? [report.advice] : [])];
}

/**
 * A stale write-ahead log beside a restored file would be replayed into it, so it goes too.
 * Without a backup, the sqlite3 shell can still save what is readable.
 */
function damagedSqliteAdvice(options: DataSourceOptions): string {
  const file = basename(String((options as { database: unknown }).database));
  return (
    `Stop the server, then restore the catalog from its backup: copy the backup over ${file} and remove ${file}-wal and ${file}-shm beside it. ` +
    `Without a backup, "sqlite3 ${file} .recover | sqlite3 recovered.sqlite" saves what is still readable.`
  );
}

function integrityFindings(rows: Array<Record<string, string>>): string[] {
  // One row can hold several lines, under a "*** in database main ***" heading.
  const problems = rows.flatMap((row) => String(Object.values(row)[0]).split('\n')).filter((line) => line.trim() && line !== 'ok' && !/^\*\*\* in database/.test(line));
  if (problems.length === 0) return [];
  return [`integrity check: ${problems.length >= INTEGRITY_PROBLEMS ? `${INTEGRITY_PROBLEMS} or more` : problems.length} problem(s)`, ...problems.map((p) => `  ${p}`)];
}

async function schemaState(dataSource: DataSource): Promise<{ known: number; applied: string[]; pending: string[]; unknown: string[] }> {
  const known = dataSource.migrations.map((m) => m.name ?? m.constructor.name);
  const table = dataSource.options.migrationsTableName ?? 'migrations';
  const runner = dataSource.createQueryRunner();
  let applied: string[] = [];
  try {
    if (await runner.hasTable(table)) {
      const rows: Array<{ name: string }> = await runner.query(`SELECT name FROM ${dataSource.driver.escape(table)} ORDER BY timestamp`);
      applied = rows.map((r) => r.name);
    }
  } finally {
    await runner.release();
  }
  return { known: known.length, applied, pending: known.filter((n) => !applied.includes(n)), unknown: applied.filter((n) => !known.includes(n)) };
}

async function missingTables(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  try {
    const missing: string[] = [];
    for (const metadata of dataSource.entityMetadatas) if (!(await runner.hasTable(metadata.tableName))) missing.push(metadata.tableName);
    return missing;
  } finally {
    await runner.release();
  }
}
