/**
 * The numbers behind GET /metrics, read from the catalog at every scrape. Nothing is counted in
 * memory: a restart loses nothing, and every instance sharing one PostgreSQL catalog reports
 * the same values (only chainvault_plugins and chainvault_build_info are this process's own).
 */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Repository } from 'typeorm';
import { BackupEntity, BackupStatus, JobEntity, JobKind, JobStatus, PolicyEntity } from '../catalog/entities';
import { PluginStatus } from '../plugins/plugin-record';
import { PluginRegistry } from '../plugins/plugin-registry.service';
import { formatExposition, type MetricFamily, type MetricSample } from './exposition';

/**
 * Backups that finished writing. DELETED rows stay in the catalog with their sizes and times,
 * so counting them keeps the byte counters and the duration summary monotonic as counters must
 * be: retention deleting old backups must not look like a counter reset to Prometheus.
 */
const FINISHED_BACKUP_STATUSES = [BackupStatus.COMPLETED, BackupStatus.PARTIAL, BackupStatus.DELETED];

/** The `kind` label of chainvault_backup_bytes_total, and the backup column each one sums. */
const BYTE_KINDS = [
  { kind: 'logical', column: 'logical_bytes', alias: 'logicalBytes' },
  { kind: 'stored', column: 'stored_bytes', alias: 'storedBytes' },
  { kind: 'read', column: 'bytes_read', alias: 'bytesRead' },
] as const;

/** PostgreSQL returns COUNT, SUM and EXTRACT results (bigint, numeric) as strings; SQLite as numbers. */
type SqlNumber = string | number | null;

interface BackupStatusCount {
  policyId: string;
  status: string;
  count: SqlNumber;
}

type FinishedBackupTotals = { policyId: string; count: SqlNumber; durationSeconds: SqlNumber } & Record<(typeof BYTE_KINDS)[number]['alias'], SqlNumber>;

/** Timestamps come back raw, as the ISO-8601 text they are stored as. */
interface NewestCompletedBackup {
  policyId: string;
  startedAt: string;
  createdAt: string;
}

interface JobCount {
  kind: string;
  status: string;
  count: SqlNumber;
}

function toNumber(value: SqlNumber): number {
  return value === null ? 0 : Number(value);
}

/** Seconds from an ISO-8601 text value as stored in the catalog, keeping its milliseconds. */
function epochSeconds(iso: string): number {
  return Date.parse(iso) / 1000;
}

/** Rounds to milliseconds, the precision of the stored timestamps (SQLite's julianday adds float noise below it). */
function toMilliseconds(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/**
 * SQL for the seconds between two ISO-8601 text columns. Date arithmetic is the one thing the
 * two catalogs spell differently, and doing it in SQL keeps the sum over all backups an
 * aggregate instead of reading every backup row at every scrape.
 */
function secondsBetweenSql(databaseType: string, from: string, to: string): string {
  switch (databaseType) {
    case 'postgres':
      return `EXTRACT(EPOCH FROM (CAST(${to} AS timestamptz) - CAST(${from} AS timestamptz)))`;
    case 'sqlite':
    case 'better-sqlite3':
      return `((julianday(${to}) - julianday(${from})) * 86400.0)`;
    default:
      throw new Error(`metrics cannot compute durations on a ${databaseType} catalog`);
  }
}

/** The version of @chainvault/core, from its package.json (two levels up from src/metrics or dist/metrics). */
function readCoreVersion(): string {
  const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}

@Injectable()
export class MetricsService {
  private readonly version = readCoreVersion();

  constructor(
    @InjectRepository(BackupEntity) private readonly backups: Repository<BackupEntity>,
    @InjectRepository(JobEntity) private readonly jobs: Repository<JobEntity>,
    @InjectRepository(PolicyEntity) private readonly policies: Repository<PolicyEntity>,
    private readonly plugins: PluginRegistry,
  ) {}

  /** The exposition text for a scrape. */
  async render(): Promise<string> {
    return formatExposition(await this.collect());
  }

  /** Every metric family, read from the catalog now. */
  async collect(): Promise<MetricFamily[]> {
    const [policies, statusCounts, finishedTotals, newestCompleted, jobCounts] = await Promise.all([
      this.policies.find({ select: { id: true, name: true }, order: { name: 'ASC' } }),
      this.countBackupsByStatus(),
      this.totalFinishedBackups(),
      this.newestCompletedBackups(),
      this.countJobs(),
    ]);
    // Labelled by name, which an operator knows and which is unique. A backup whose policy was
    // created after the policy list was read appears at the next scrape.
    const policyNames = new Map(policies.map((p) => [p.id, p.name]));
    return [
      this.buildInfo(),
      this.pluginFamily(),
      ...this.backupFamilies(policyNames, statusCounts, finishedTotals, newestCompleted),
      ...this.jobFamilies(jobCounts),
    ];
  }

  private countBackupsByStatus(): Promise<BackupStatusCount[]> {
    return this.backups
      .createQueryBuilder('b')
      .select('b.policy_id', 'policyId')
      .addSelect('b.status', 'status')
      .addSelect('COUNT(*)', 'count')
      .groupBy('b.policy_id')
      .addGroupBy('b.status')
      .getRawMany<BackupStatusCount>();
  }

  private totalFinishedBackups(): Promise<FinishedBackupTotals[]> {
    const seconds = secondsBetweenSql(this.backups.manager.connection.options.type, 'b.started_at', 'b.created_at');
    const query = this.backups
      .createQueryBuilder('b')
      .select('b.policy_id', 'policyId')
      .addSelect('COUNT(*)', 'count')
      .addSelect(`SUM(${seconds})`, 'durationSeconds');
    for (const { column, alias } of BYTE_KINDS) query.addSelect(`SUM(b.${column})`, alias);
    return query.where('b.status IN (:...finished)', { finished: FINISHED_BACKUP_STATUSES }).groupBy('b.policy_id').getRawMany<FinishedBackupTotals>();
  }

  /** The newest COMPLETED backup of each policy (one row per policy, through ix_backup_policy_created). */
  private async newestCompletedBackups(): Promise<NewestCompletedBackup[]> {
    const rows = await this.backups
      .createQueryBuilder('b')
      .select('b.policy_id', 'policyId')
      .addSelect('b.started_at', 'startedAt')
      .addSelect('b.created_at', 'createdAt')
      .where('b.status = :completed', { completed: BackupStatus.COMPLETED })
      .andWhere('b.created_at = (SELECT MAX(newest.created_at) FROM backup newest WHERE newest.policy_id = b.policy_id AND newest.status = :completed)')
      .getRawMany<NewestCompletedBackup>();
    // Two backups of a policy created in the same millisecond: either is the newest.
    return [...new Map(rows.map((row) => [row.policyId, row])).values()];
  }

  private countJobs(): Promise<JobCount[]> {
    return this.jobs
      .createQueryBuilder('j')
      .select('j.kind', 'kind')
      .addSelect('j.status', 'status')
      .addSelect('COUNT(*)', 'count')
      .groupBy('j.kind')
      .addGroupBy('j.status')
      .getRawMany<JobCount>();
  }

  private buildInfo(): MetricFamily {
    return { name: 'chainvault_build_info', help: 'Always 1; the version label says which chainvault answers.', type: 'gauge', samples: [{ labels: { version: this.version }, value: 1 }] };
  }

  /** This process's plugins: each instance loads its own, so they may differ between instances. */
  private pluginFamily(): MetricFamily {
    const records = this.plugins.list();
    return {
      name: 'chainvault_plugins',
      help: 'Plugin packages this instance found, by whether they loaded.',
      type: 'gauge',
      samples: Object.values(PluginStatus).map((status) => ({ labels: { status }, value: records.filter((r) => r.status === status).length })),
    };
  }

  private backupFamilies(
    policyNames: ReadonlyMap<string, string>,
    statusCounts: readonly BackupStatusCount[],
    finishedTotals: readonly FinishedBackupTotals[],
    newestCompleted: readonly NewestCompletedBackup[],
  ): MetricFamily[] {
    const countByPolicyStatus = new Map(statusCounts.map((row) => [`${row.policyId}|${row.status}`, toNumber(row.count)]));
    const totalsByPolicy = new Map(finishedTotals.map((row) => [row.policyId, row]));
    const newestByPolicy = new Map(newestCompleted.map((row) => [row.policyId, row]));

    const backups: MetricSample[] = [];
    const durations: MetricSample[] = [];
    const bytes: MetricSample[] = [];
    const lastDuration: MetricSample[] = [];
    const lastSuccess: MetricSample[] = [];
    // Every policy gets every status, sum and byte kind, zero included, so series exist before
    // the first backup and alerts on them need no `absent()`.
    for (const [policyId, policy] of policyNames) {
      for (const status of Object.values(BackupStatus)) {
        backups.push({ labels: { status, policy }, value: countByPolicyStatus.get(`${policyId}|${status}`) ?? 0 });
      }
      const totals = totalsByPolicy.get(policyId);
      durations.push(
        { suffix: '_sum', labels: { policy }, value: toMilliseconds(toNumber(totals?.durationSeconds ?? null)) },
        { suffix: '_count', labels: { policy }, value: toNumber(totals?.count ?? null) },
      );
      for (const { kind, alias } of BYTE_KINDS) bytes.push({ labels: { policy, kind }, value: toNumber(totals?.[alias] ?? null) });
      // A policy with no completed backup has no last success: 0 would read as "1970", and a
      // staleness alert would fire for a policy created a minute ago.
      const newest = newestByPolicy.get(policyId);
      if (newest) {
        lastDuration.push({ labels: { policy }, value: toMilliseconds(epochSeconds(newest.createdAt) - epochSeconds(newest.startedAt)) });
        lastSuccess.push({ labels: { policy }, value: epochSeconds(newest.createdAt) });
      }
    }

    return [
      {
        name: 'chainvault_backups',
        help: 'Backups in the catalog by status. A failed backup leaves no backup row (see chainvault_jobs_total{kind="BACKUP",status="FAILED"}).',
        type: 'gauge',
        samples: backups,
      },
      {
        name: 'chainvault_backup_duration_seconds',
        help: 'Time from start to completion of the backups that finished writing (COMPLETED, PARTIAL, or DELETED later).',
        type: 'summary',
        samples: durations,
      },
      { name: 'chainvault_last_backup_duration_seconds', help: 'Time from start to completion of the newest COMPLETED backup.', type: 'gauge', samples: lastDuration },
      {
        name: 'chainvault_backup_bytes_total',
        help: 'Bytes of the backups that finished writing, deleted ones included: logical (file sizes), stored (new in the repository), read (from the source).',
        type: 'counter',
        samples: bytes,
      },
      {
        name: 'chainvault_last_success_timestamp_seconds',
        help: 'Unix time at which the newest COMPLETED backup was created; absent for a policy with none.',
        type: 'gauge',
        samples: lastSuccess,
      },
    ];
  }

  private jobFamilies(jobCounts: readonly JobCount[]): MetricFamily[] {
    const countByKindStatus = new Map(jobCounts.map((row) => [`${row.kind}|${row.status}`, toNumber(row.count)]));
    const countWithStatus = (status: JobStatus) => jobCounts.filter((row) => row.status === status).reduce((sum, row) => sum + toNumber(row.count), 0);
    const jobs: MetricSample[] = [];
    for (const kind of Object.values(JobKind)) {
      for (const status of Object.values(JobStatus)) jobs.push({ labels: { kind, status }, value: countByKindStatus.get(`${kind}|${status}`) ?? 0 });
    }
    return [
      { name: 'chainvault_jobs_total', help: 'Jobs in the catalog by kind and status; the job table keeps every job, failed, skipped and cancelled ones included.', type: 'gauge', samples: jobs },
      { name: 'chainvault_job_queue_depth', help: 'Jobs waiting for a worker (QUEUED), on all instances.', type: 'gauge', samples: [{ value: countWithStatus(JobStatus.QUEUED) }] },
      { name: 'chainvault_jobs_running', help: 'Jobs being run (RUNNING), on all instances.', type: 'gauge', samples: [{ value: countWithStatus(JobStatus.RUNNING) }] },
    ];
  }
}
