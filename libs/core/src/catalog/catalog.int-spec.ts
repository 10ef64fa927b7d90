/**
 * The one migration against both real catalogs: it creates exactly what the entities describe,
 * values come back as they went in, and it can be undone and run again.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { CATALOG_MIGRATIONS, catalogOptions } from './catalog-options';
import { BackupEntity, BackupStatus, JobEntity, JobKind, JobLogLineEntity, JobStatus, NetworkEntity, PolicyEntity, VerificationState } from './entities';

const POSTGRES_ADMIN_URL = process.env.CHAINVAULT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TABLES = ['network', 'node', 'destination', 'policy', 'backup', 'backup_replica', 'job', 'restore', 'audit_event', 'instance', 'api_token', 'restore_template'];

async function adminQuery(sql: string): Promise<void> {
  const admin = new Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

interface Catalog {
  settings: { dataDir: string; databaseUrl?: string };
  dispose(): Promise<void>;
}

const catalogs: Record<'sqlite' | 'postgres', () => Promise<Catalog>> = {
  sqlite: async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'chainvault-catalog-'));
    return { settings: { dataDir }, dispose: () => rm(dataDir, { recursive: true, force: true }) };
  },
  postgres: async () => {
    const name = `chainvault_catalog_${randomBytes(6).toString('hex')}`;
    await adminQuery(`CREATE DATABASE ${name}`);
    const url = new URL(POSTGRES_ADMIN_URL);
    url.pathname = `/${name}`;
    return { settings: { dataDir: tmpdir(), databaseUrl: url.toString() }, dispose: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
  },
};

async function pendingSchemaChanges(dataSource: DataSource): Promise<string[]> {
  const log = await dataSource.driver.createSchemaBuilder().log();
  return log.upQueries.map((q) => q.query);
}

async function existingTables(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  try {
    const present: string[] = [];
    for (const table of TABLES) if (await runner.hasTable(table)) present.push(table);
    return present;
  } finally {
    await runner.release();
  }
}

describe.each(['sqlite', 'postgres'] as const)('the catalog schema on %s', (kind) => {
  let catalog: Catalog;
  let dataSource: DataSource;

  beforeAll(async () => {
    catalog = await catalogs[kind]();
    dataSource = new DataSource(catalogOptions(catalog.settings));
    await dataSource.initialize();
  });

  afterAll(async () => {
    if (dataSource?.isInitialized) await dataSource.destroy();
    await catalog?.dispose();
  });

  it('is created by the migration on start, and matches the entities exactly', async () => {
    expect(dataSource.options.type).toBe(kind);
    expect(await existingTables(dataSource)).toEqual(TABLES);
    expect(await pendingSchemaChanges(dataSource)).toEqual([]);
    expect(await dataSource.showMigrations()).toBe(false);
  });

  it('gives back the same instant for a timestamp and numbers for sizes beyond 32 bits', async () => {
    const createdAt = new Date('2026-03-29T01:30:00.123+02:00');
    const network = Object.assign(new NetworkEntity(), { id: randomUUID(), name: 'consortium', protocol: 'directory', labels: { env: 'test' }, createdAt });
    await dataSource.getRepository(NetworkEntity).insert(network);
    const policy = Object.assign(new PolicyEntity(), {
      id: randomUUID(),
      name: 'nightly',
      networkId: network.id,
      nodeId: null,
      pluginId: 'directory',
      method: 'snapshot',
      options: {},
      schedule: { preset: 'DAILY', timeZone: 'Europe/Berlin' },
      destinationIds: [randomUUID()],
      retention: { keepLast: 7 },
      enabled: true,
      createdAt,
    });
    await dataSource.getRepository(PolicyEntity).insert(policy);
    const fiveTiB = 5 * 2 ** 40 + 123;
    const backup = Object.assign(new BackupEntity(), {
      id: randomUUID(),
      policyId: policy.id,
      networkId: network.id,
      nodeId: null,
      pluginId: 'directory',
      method: 'snapshot',
      status: BackupStatus.COMPLETED,
      destinationId: policy.destinationIds[0],
      jobId: null,
      startedAt: new Date(createdAt.getTime() - 3_600_000),
      createdAt,
      logicalBytes: fiveTiB,
      storedBytes: 2 ** 33,
      bytesRead: 0,
      fileCount: 3,
      filesRead: 1,
      filesUnchanged: 2,
      metadata: { path: '/srv/data', blocks: [1, 2] },
      dependsOnId: null,
      verification: VerificationState.UNVERIFIED,
      verifiedAt: null,
      verificationProblems: [],
      pinned: true,
      deletedAt: null,
    });
    await dataSource.getRepository(BackupEntity).insert(backup);

    const read = await dataSource.getRepository(BackupEntity).findOneByOrFail({ id: backup.id });
    expect(read.createdAt).toBeInstanceOf(Date);
    expect(read.createdAt.getTime()).toBe(createdAt.getTime());
    expect(read.startedAt.getTime()).toBe(createdAt.getTime() - 3_600_000);
    expect(read.verifiedAt).toBeNull();
    expect(read.logicalBytes).toBe(fiveTiB);
    expect(typeof read.storedBytes).toBe('number');
    expect(read.storedBytes).toBe(2 ** 33);
    expect(read.bytesRead).toBe(0);
    expect(read.pinned).toBe(true);
    expect(read.metadata).toEqual({ path: '/srv/data', blocks: [1, 2] });

    const readPolicy = await dataSource.getRepository(PolicyEntity).findOneByOrFail({ id: policy.id });
    expect(readPolicy.schedule).toEqual(policy.schedule);
    expect(readPolicy.enabled).toBe(true);
  });

  it('orders timestamps as instants, whatever the time zone they were made in', async () => {
    const jobs = dataSource.getRepository(JobEntity);
    const job = (createdAt: Date) =>
      Object.assign(new JobEntity(), {
        id: randomUUID(),
        kind: JobKind.BACKUP,
        status: JobStatus.QUEUED,
        policyId: null,
        backupId: null,
        restoreId: null,
        payload: {},
        progress: null,
        error: null,
        result: null,
        attempts: 0,
        leaseOwner: null,
        leaseExpiresAt: null,
        createdAt,
        startedAt: null,
        finishedAt: null,
      });
    // 09:00 in Berlin is earlier than 08:30 UTC.
    const later = job(new Date('2026-01-15T08:30:00.000Z'));
    const earlier = job(new Date('2026-01-15T09:00:00.000+01:00'));
    await jobs.insert([later, earlier]);
    const ordered = await jobs.find({ order: { createdAt: 'ASC' } });
    expect(ordered.map((j) => j.id)).toEqual([earlier.id, later.id]);
  });

  it('can undo every migration, one at a time, and run them all again', async () => {
    const columnsOf = async (table: string) => {
      const runner = dataSource.createQueryRunner();
      try {
        return (await runner.getTable(table))?.columns.map((c) => c.name) ?? [];
      } finally {
        await runner.release();
      }
    };
    const destinationColumns = () => columnsOf('destination');
    expect(await destinationColumns()).toContain('secrets');
    expect(await columnsOf('job')).toEqual(expect.arrayContaining(['scheduled_for', 'not_before']));
    expect(await columnsOf('audit_event')).toEqual(expect.arrayContaining(['remote_address', 'outcome']));
    expect(await columnsOf('backup')).toEqual(expect.arrayContaining(['depends_on_ids', 'report']));
    expect(await columnsOf('job')).toContain('plugin_state');
    expect(await existingTables(dataSource)).toEqual(TABLES);
    // A job's log moves back into its row, and out again into job_log, line for line.
    const hasJobLog = async () => {
      const runner = dataSource.createQueryRunner();
      try {
        return await runner.hasTable('job_log');
      } finally {
        await runner.release();
      }
    };
    expect(await hasJobLog()).toBe(true);
    const logged = Object.assign(new JobEntity(), {
      id: randomUUID(),
      kind: JobKind.VERIFY,
      status: JobStatus.COMPLETED,
      policyId: null,
      backupId: null,
      restoreId: null,
      payload: {},
      progress: null,
      error: null,
      result: null,
      attempts: 2,
      leaseOwner: null,
      leaseExpiresAt: null,
      createdAt: new Date(),
      startedAt: null,
      finishedAt: null,
    });
    await dataSource.getRepository(JobEntity).insert(logged);
    const lines = [
      { at: '2026-12-01T10:00:00.000Z', level: 'info' as const, message: 'started by a (attempt 1)' },
      { at: '2026-12-01T10:00:01.000Z', level: 'error' as const, message: 'node unreachable; "quoted", ünïcode' },
      { at: '2026-12-01T10:01:00.000Z', level: 'info' as const, message: 'started by b (attempt 2)' },
    ];
    await dataSource.getRepository(JobLogLineEntity).insert(lines.map((line, i) => ({ jobId: logged.id, seq: i + 1, ...line })));
    expect(await columnsOf('backup')).toEqual(expect.arrayContaining(['first_block', 'last_block']));
    // Backups made before the block columns get theirs from their metadata when the migration runs.
    const backups = dataSource.getRepository(BackupEntity);
    const model = await backups.findOneByOrFail({ pinned: true });
    const exported = { ...model, id: randomUUID(), metadata: { startBlock: 100, endBlock: 199, endHash: '0xab' } };
    const snapshot = { ...model, id: randomUUID(), metadata: { checkpointId: 3, lastBlockId: 4242 } };
    await backups.insert([exported, snapshot]);
    await dataSource.undoLastMigration({ transaction: 'each' });
    expect(await columnsOf('backup')).not.toContain('first_block');
    expect(await columnsOf('backup')).not.toContain('last_block');
    await dataSource.runMigrations({ transaction: 'each' });
    const blocksOf = async (id: string) => {
      const { firstBlock, lastBlock } = await backups.findOneByOrFail({ id });
      return [firstBlock, lastBlock];
    };
    expect(await blocksOf(exported.id)).toEqual([100, 199]);
    expect(await blocksOf(snapshot.id)).toEqual([0, 4242]);
    expect(await blocksOf(model.id)).toEqual([null, null]);
    await backups.delete([exported.id, snapshot.id]);
    await dataSource.undoLastMigration({ transaction: 'each' });
    await dataSource.undoLastMigration({ transaction: 'each' });
    expect(await hasJobLog()).toBe(false);
    const [row] = await dataSource.query(`SELECT "log" FROM "job" WHERE "id" = ${kind === 'postgres' ? '$1' : '?'}`, [logged.id]);
    expect(JSON.parse(row.log)).toEqual(lines);
    await dataSource.runMigrations({ transaction: 'each' });
    expect(await columnsOf('job')).not.toContain('log');
    const moved = await dataSource.getRepository(JobLogLineEntity).find({ where: { jobId: logged.id }, order: { seq: 'ASC' } });
    expect(moved.map(({ at, level, message }) => ({ at, level, message }))).toEqual(lines);
    await dataSource.undoLastMigration({ transaction: 'each' });
    await dataSource.undoLastMigration({ transaction: 'each' });
    const jobIndexes = async () => {
      const runner = dataSource.createQueryRunner();
      try {
        return (await runner.getTable('job'))?.indices.map((i) => i.name) ?? [];
      } finally {
        await runner.release();
      }
    };
    expect(await jobIndexes()).toEqual(expect.arrayContaining(['ix_job_created', 'ix_job_backup']));
    await dataSource.undoLastMigration({ transaction: 'each' });
    expect(await jobIndexes()).not.toContain('ix_job_created');
    expect(await jobIndexes()).not.toContain('ix_job_backup');
    expect(await existingTables(dataSource)).toEqual(TABLES);
    expect(await columnsOf('node')).toContain('deleted_at');
    await dataSource.undoLastMigration({ transaction: 'each' });
    for (const table of ['network', 'node', 'policy']) expect(await columnsOf(table)).not.toContain('deleted_at');
    expect(await existingTables(dataSource)).toEqual(TABLES);
    await dataSource.undoLastMigration({ transaction: 'each' });
    const before = TABLES.filter((t) => t !== 'restore_template');
    expect(await existingTables(dataSource)).toEqual(before);
    await dataSource.undoLastMigration({ transaction: 'each' });
    expect(await columnsOf('backup')).not.toContain('depends_on_ids');
    expect(await columnsOf('job')).not.toContain('plugin_state');
    expect(await columnsOf('restore')).not.toContain('target_node_ids');
    expect(await existingTables(dataSource)).toEqual(before);
    await dataSource.undoLastMigration({ transaction: 'each' });
    expect(await existingTables(dataSource)).toEqual(before.filter((t) => t !== 'api_token'));
    expect(await columnsOf('audit_event')).not.toContain('outcome');
    await dataSource.undoLastMigration({ transaction: 'each' });
    expect(await existingTables(dataSource)).toEqual(before.filter((t) => t !== 'instance' && t !== 'api_token'));
    expect(await columnsOf('job')).not.toContain('scheduled_for');
    expect(await columnsOf('policy')).not.toContain('maintenance_windows');
    await dataSource.undoLastMigration({ transaction: 'each' });
    expect(await existingTables(dataSource)).toEqual(before.filter((t) => t !== 'backup_replica' && t !== 'instance' && t !== 'api_token'));
    await dataSource.undoLastMigration({ transaction: 'each' });
    expect(await destinationColumns()).not.toContain('secrets');
    for (let i = 9; i < CATALOG_MIGRATIONS.length; i += 1) await dataSource.undoLastMigration({ transaction: 'each' });
    expect(await existingTables(dataSource)).toEqual([]);
    expect(await hasJobLog()).toBe(false);
    expect(await dataSource.showMigrations()).toBe(true);

    const applied = await dataSource.runMigrations({ transaction: 'each' });
    expect(applied.map((m) => m.name)).toEqual(CATALOG_MIGRATIONS.map((m) => new m().name));
    expect(await destinationColumns()).toContain('secrets');
    expect(await existingTables(dataSource)).toEqual(TABLES);
    expect(await pendingSchemaChanges(dataSource)).toEqual([]);
    expect(await dataSource.getRepository(BackupEntity).count()).toBe(0);
  });
});
