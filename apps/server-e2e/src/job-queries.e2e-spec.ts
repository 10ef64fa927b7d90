/**
 * Queries that scale (issue 15, second part): 20,000 jobs in a real SQLite catalog, paged
 * through with `jobs` and `jobPage` without a job missed or repeated, the filters narrowing as
 * they say, a page of 100 jobs with their backups and replicas read in a constant number of
 * catalog queries; a backup's files and the audit log paged; bad pages refused clearly.
 */
import { AuditService, BackupEntity, BackupReplicaEntity, BackupStatus, JobEntity, JobKind, JobStatus, JobWorker, PolicyEntity, ReplicaState, RestoreEntity, RestoreStatus, VerificationState } from '@chainvault/core';
import { writeSampleTree } from '@chainvault/testing';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import type { GraphqlClient } from './support/graphql-client';
import { backupNow, createDirectoryPolicy, type DirectoryPolicy } from './support/scenario';
import { startTestServer, type TestServer } from './support/test-server';

const JOB_COUNT = 20_000;
/** The newest jobs are backups, each with a backup row and two copies: the page a console opens first. */
const WITH_BACKUPS = 150;
const TERMINAL = [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.SKIPPED];
const KINDS = [JobKind.BACKUP, JobKind.VERIFY, JobKind.RESTORE, JobKind.REPLICATE, JobKind.EXPORT, JobKind.PRUNE, JobKind.CHECK];

const JOBS_PAGE = `query ($first: Int, $after: String) { jobs(first: $first, after: $after) { id } }`;
const JOB_PAGE = `query ($filter: JobFilter, $first: Int, $after: String) {
  jobPage(filter: $filter, first: $first, after: $after) { nodes { id } edges { cursor node { id } } pageInfo { endCursor hasNextPage } totalCount }
}`;
const WITH_BACKUP = `query ($first: Int) { jobs(first: $first) { id kind status log { level message } backup { id status nodeId replicas { destinationId state } } } }`;

type Row = Pick<JobEntity, 'id' | 'kind' | 'status' | 'policyId' | 'backupId' | 'restoreId' | 'createdAt'>;

/** Newest first, then by id, as the API promises. */
const newestFirst = (a: Row, b: Row) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

describe('jobs a page at a time', () => {
  let server: TestServer;
  let client: GraphqlClient;
  let catalog: DataSource;
  let work: string;
  let a: DirectoryPolicy;
  let b: DirectoryPolicy;
  let realBackupId: string;
  /** Every job in the catalog, newest first, read straight from it once the setup is done. */
  let all: Row[];
  /** What the node filter means: the node of each policy and each backup, the target of each restore. */
  const nodeOf = { policy: new Map<string, string | null>(), backup: new Map<string, string | null>(), restore: new Map<string, string[]>() };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-job-queries-'));
    server = await startTestServer();
    client = server.client;
    catalog = server.app.get(DataSource);
    await writeSampleTree(join(work, 'a'), { bigFileBytes: 10_000 });
    await writeSampleTree(join(work, 'b'), { bigFileBytes: 10_000 });
    a = await createDirectoryPolicy(client, 'pager-a', join(work, 'a'), join(work, 'repo-a'));
    b = await createDirectoryPolicy(client, 'pager-b', join(work, 'b'), join(work, 'repo-b'));
    const real = await backupNow(client, a.policyId);
    expect(real.status).toBe('COMPLETED');
    realBackupId = real.backupId;

    // The bulk: terminal jobs only, so the worker leaves them alone. Three jobs share each
    // second, so the order within a second (by id) is exercised on every page.
    const base = Date.parse('2026-01-01T00:00:00.000Z');
    const jobs: JobEntity[] = [];
    const backups: BackupEntity[] = [];
    const replicas: BackupReplicaEntity[] = [];
    const restores: RestoreEntity[] = [];
    for (let i = 0; i < JOB_COUNT; i += 1) {
      const createdAt = new Date(base + Math.floor(i / 3) * 1000);
      const newest = i >= JOB_COUNT - WITH_BACKUPS;
      const kind = newest ? JobKind.BACKUP : KINDS[i % KINDS.length];
      const policy = kind === JobKind.PRUNE || kind === JobKind.CHECK ? null : i % 2 === 0 ? a : b;
      const job = Object.assign(new JobEntity(), {
        id: randomUUID(),
        kind,
        status: newest ? JobStatus.COMPLETED : TERMINAL[i % TERMINAL.length],
        policyId: policy?.policyId ?? null,
        backupId: null as string | null,
        restoreId: null as string | null,
        payload: {},
        progress: null,
        error: null,
        result: null,
        pluginState: null,
        attempts: 1,
        leaseOwner: null,
        leaseExpiresAt: null,
        createdAt,
        scheduledFor: null,
        notBefore: null,
        startedAt: createdAt,
        finishedAt: createdAt,
      });
      if (newest) {
        const backup = syntheticBackup(policy!, job.id, createdAt);
        backups.push(backup);
        job.backupId = backup.id;
        for (const destinationId of [randomUUID(), randomUUID()]) {
          replicas.push(Object.assign(new BackupReplicaEntity(), { id: randomUUID(), backupId: backup.id, destinationId, state: ReplicaState.COMPLETED, updatedAt: createdAt, error: null, bytesSent: 1024 }));
        }
      }
      jobs.push(job);
    }
    // Restores of node A's real backup onto node B, run by jobs of no policy: found under either node.
    for (const job of jobs.filter((j) => j.kind === JobKind.RESTORE).slice(0, 7)) {
      const restore = Object.assign(new RestoreEntity(), {
        id: randomUUID(),
        backupId: realBackupId,
        targetNodeId: null,
        targetNodeIds: [b.nodeId],
        targetConfig: null,
        targetSecrets: null,
        options: {},
        status: RestoreStatus.COMPLETED,
        details: null,
        error: null,
        createdAt: job.createdAt,
        finishedAt: job.createdAt,
      });
      restores.push(restore);
      Object.assign(job, { policyId: null, backupId: realBackupId, restoreId: restore.id });
    }
    await catalog.transaction(async (tx) => {
      for (let i = 0; i < backups.length; i += 100) await tx.getRepository(BackupEntity).insert(backups.slice(i, i + 100));
      for (let i = 0; i < replicas.length; i += 200) await tx.getRepository(BackupReplicaEntity).insert(replicas.slice(i, i + 200));
      await tx.getRepository(RestoreEntity).insert(restores);
      for (let i = 0; i < jobs.length; i += 200) await tx.getRepository(JobEntity).insert(jobs.slice(i, i + 200));
    });

    all = (await catalog.getRepository(JobEntity).find({ select: { id: true, kind: true, status: true, policyId: true, backupId: true, restoreId: true, createdAt: true } })).sort(newestFirst);
    for (const p of await catalog.getRepository(PolicyEntity).find()) nodeOf.policy.set(p.id, p.nodeId);
    for (const x of await catalog.getRepository(BackupEntity).find({ select: { id: true, nodeId: true } })) nodeOf.backup.set(x.id, x.nodeId);
    for (const r of await catalog.getRepository(RestoreEntity).find()) nodeOf.restore.set(r.id, [...(r.targetNodeId ? [r.targetNodeId] : []), ...(r.targetNodeIds ?? [])]);
  }, 300_000);

  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  function syntheticBackup(policy: DirectoryPolicy, jobId: string, createdAt: Date): BackupEntity {
    return Object.assign(new BackupEntity(), {
      id: randomUUID(),
      policyId: policy.policyId,
      networkId: policy.networkId,
      nodeId: policy.nodeId,
      pluginId: 'directory',
      method: 'snapshot',
      status: BackupStatus.COMPLETED,
      destinationId: policy.destinationId,
      jobId,
      startedAt: createdAt,
      createdAt,
      logicalBytes: 1,
      storedBytes: 1,
      bytesRead: 1,
      fileCount: 1,
      filesRead: 1,
      filesUnchanged: 0,
      metadata: {},
      dependsOnId: null,
      dependsOnIds: [],
      report: null,
      verification: VerificationState.UNVERIFIED,
      verifiedAt: null,
      verificationProblems: [],
      pinned: false,
      deletedAt: null,
    });
  }

  /** Every page of `jobPage` for a filter, following endCursor; checks the pages agree with totalCount. */
  async function pageAll(filter: Record<string, unknown> | null, first: number): Promise<string[]> {
    const ids: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: Record<string, any> = (await client.ok(JOB_PAGE, { filter, first, after })).jobPage;
      ids.push(...page.nodes.map((n: { id: string }) => n.id));
      expect(page.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual(page.nodes.map((n: { id: string }) => n.id));
      if (page.nodes.length) expect(page.edges[page.edges.length - 1].cursor).toBe(page.pageInfo.endCursor);
      if (!page.pageInfo.hasNextPage) {
        expect(ids).toHaveLength(page.totalCount);
        return ids;
      }
      expect(page.nodes).toHaveLength(first);
      after = page.pageInfo.endCursor;
    }
  }

  it('pages through all 20,000 jobs with jobs(first, after: the last id), newest first, none missed or repeated, unmoved by new jobs', async () => {
    expect(all.length).toBeGreaterThan(JOB_COUNT);
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; ; page += 1) {
      const { jobs }: { jobs: { id: string }[] } = await client.ok(JOBS_PAGE, { first: 100, after });
      seen.push(...jobs.map((j: { id: string }) => j.id));
      if (jobs.length < 100) break;
      after = jobs[jobs.length - 1].id;
      // A job created while a client pages lands before its first page, not in the pages still to come.
      if (page === 40) await client.ok(`mutation ($id: ID!) { runBackup(policyId: $id) { id } }`, { id: b.policyId });
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(all.map((j) => j.id));
    await server.app.get(JobWorker).idle();
  });

  it('pages through them all with jobPage and its cursors, the total counted', async () => {
    all = (await catalog.getRepository(JobEntity).find({ select: { id: true, kind: true, status: true, policyId: true, backupId: true, restoreId: true, createdAt: true } })).sort(newestFirst);
    const ids = await pageAll(null, 100);
    expect(ids).toEqual(all.map((j) => j.id));
    // Without first, a page holds 100.
    const { jobs } = await client.ok(`{ jobs { id } }`);
    expect(jobs.map((j: { id: string }) => j.id)).toEqual(all.slice(0, 100).map((j) => j.id));
    // An edge's cursor starts the next page right after that job.
    const { jobPage } = await client.ok(JOB_PAGE, { first: 5 });
    const next = (await client.ok(JOB_PAGE, { first: 3, after: jobPage.edges[2].cursor })).jobPage;
    expect(next.nodes.map((n: { id: string }) => n.id)).toEqual(all.slice(3, 6).map((j) => j.id));
  });

  it('narrows by kind, status, policy, node and time, alone and together, in jobs and jobPage alike', async () => {
    const since = all[Math.floor(all.length / 2)].createdAt;
    const onNode = (node: string) => (j: Row) =>
      (j.policyId !== null && nodeOf.policy.get(j.policyId) === node) ||
      (j.backupId !== null && nodeOf.backup.get(j.backupId) === node) ||
      (j.restoreId !== null && (nodeOf.restore.get(j.restoreId) ?? []).includes(node));
    const cases: [string, Record<string, unknown>, (j: Row) => boolean][] = [
      ['kind', { kind: ['VERIFY', 'RESTORE'] }, (j) => j.kind === JobKind.VERIFY || j.kind === JobKind.RESTORE],
      ['status', { status: ['FAILED'] }, (j) => j.status === JobStatus.FAILED],
      ['policy', { policyId: a.policyId }, (j) => j.policyId === a.policyId],
      ['node', { nodeId: b.nodeId }, onNode(b.nodeId)],
      ['since', { since: since.toISOString() }, (j) => j.createdAt.getTime() >= since.getTime()],
      ['all of them', { kind: ['BACKUP', 'VERIFY'], status: ['COMPLETED'], policyId: b.policyId, nodeId: b.nodeId, since: since.toISOString() }, (j) =>
        [JobKind.BACKUP, JobKind.VERIFY].includes(j.kind) && j.status === JobStatus.COMPLETED && j.policyId === b.policyId && j.createdAt.getTime() >= since.getTime()],
    ];
    for (const [name, filter, keep] of cases) {
      const expected = all.filter(keep).map((j) => j.id);
      expect({ name, count: expected.length > 0 && expected.length < all.length }).toEqual({ name, count: true });
      expect({ name, ids: await pageAll(filter, 1000) }).toEqual({ name, ids: expected });
      const { jobs } = await client.ok(
        `query ($status: [JobStatus!], $kind: [JobKind!], $policyId: ID, $nodeId: ID, $since: DateTime) {
          jobs(status: $status, kind: $kind, policyId: $policyId, nodeId: $nodeId, since: $since, first: 50) { id } }`,
        filter,
      );
      expect({ name, ids: jobs.map((j: { id: string }) => j.id) }).toEqual({ name, ids: expected.slice(0, 50) });
    }
    // Restores onto node B of node A's backup are found under both nodes.
    const restoresOfA = await pageAll({ nodeId: a.nodeId, kind: ['RESTORE'] }, 1000);
    expect(restoresOfA).toEqual(all.filter((j) => j.kind === JobKind.RESTORE && onNode(a.nodeId)(j)).map((j) => j.id));
    expect(restoresOfA.filter((id) => all.find((j) => j.id === id)!.restoreId !== null)).toHaveLength(7);
  });

  it('answers a page of 100 jobs with their backups and replicas in a constant number of catalog queries', async () => {
    const counted: string[] = [];
    const logger = catalog.logger;
    const logQuery = logger.logQuery.bind(logger);
    logger.logQuery = (query, parameters, runner) => {
      counted.push(query);
      return logQuery(query, parameters, runner);
    };
    const readsOf = async (query: string, variables: Record<string, unknown>) => {
      counted.length = 0;
      const data = await client.ok(query, variables);
      const of = (table: string) => counted.filter((q) => new RegExp(`^SELECT .* FROM "${table}" `).test(q)).length;
      return { data, reads: { log: of('job_log'), backup: of('backup'), replica: of('backup_replica') } };
    };
    try {
      const ten = await readsOf(WITH_BACKUP, { first: 10 });
      const hundred = await readsOf(WITH_BACKUP, { first: 100 });
      const jobs = hundred.data.jobs as { id: string; log: { message: string }[]; backup: { id: string; replicas: unknown[] } | null }[];
      // Every job of the page has its backup, with as many copies as the catalog holds (two, but for the real backups of the first tests).
      const copies = await catalog.getRepository(BackupReplicaEntity).find({ select: { backupId: true } });
      const copiesOf = (backupId: string) => copies.filter((c) => c.backupId === backupId).length;
      expect(jobs.map((j) => [j.id, j.backup?.id, j.backup?.replicas.length])).toEqual(all.slice(0, 100).map((j) => [j.id, j.backupId, copiesOf(j.backupId!)]));
      expect(jobs.filter((j) => j.backup?.replicas.length === 2).length).toBeGreaterThan(90);
      // A page reads its jobs' logs once, their backups once, their copies once (the worker's own polls read jobs meanwhile).
      expect(hundred.reads).toEqual({ log: 1, backup: 1, replica: 1 });
      expect(ten.reads).toEqual({ log: 1, backup: 1, replica: 1 });
      // The real backups' jobs (the newest) come with their logs, read in that one query.
      expect(jobs.slice(0, 2).map((j) => j.log.some((l) => l.message.startsWith('started by')))).toEqual([true, true]);
      // Retention (keep the last 7) deleted most of policy B's backups after its real run: they are listed by asking for them.
      const backups = await readsOf(`{ backups(first: 100, filter: { status: [COMPLETED, DELETED] }) { nodes { id replicas { destinationId } } } }`, {});
      expect(backups.data.backups.nodes).toHaveLength(100);
      expect(backups.reads.replica).toBe(1);
    } finally {
      logger.logQuery = logQuery;
    }

    const times: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      const started = process.hrtime.bigint();
      await client.ok(WITH_BACKUP, { first: 100 });
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    times.sort((x, y) => x - y);
    console.log(`a page of 100 jobs with their backups and replicas, ${all.length} jobs in the catalog: fastest ${times[0].toFixed(1)} ms, median ${times[3].toFixed(1)} ms (over HTTP, 7 runs)`);
  });

  it('refuses a page size out of range or a cursor it did not give, saying what it takes', async () => {
    for (const [query, variables] of [
      [JOBS_PAGE, { first: 0 }],
      [JOBS_PAGE, { first: 1001 }],
      [JOB_PAGE, { first: -5 }],
    ] as const) {
      const refused = await client.fails(query, variables);
      expect({ code: refused.extensions?.code, message: refused.message }).toEqual({ code: 'BAD_USER_INPUT', message: `first must be between 1 and 1000, got ${variables.first}` });
    }
    for (const after of ['no-such-job', randomUUID(), Buffer.from('yesterday|x').toString('base64url')]) {
      for (const query of [JOBS_PAGE, JOB_PAGE]) {
        const refused = await client.fails(query, { after });
        expect(refused.extensions?.code).toBe('BAD_USER_INPUT');
        expect(refused.message).toBe(`after: "${after}" is neither the id of a job nor a cursor this API returned; pass the id of the last job of the previous page or its pageInfo.endCursor`);
      }
    }
  });

  it("pages a backup's files by path, and still answers them all without first and after", async () => {
    const FILES = `query ($id: ID!, $first: Int, $after: String) { backup(id: $id) { files(first: $first, after: $after) { path type } } }`;
    const every = (await client.ok(`query ($id: ID!) { backup(id: $id) { files { path type } } }`, { id: realBackupId })).backup.files as { path: string }[];
    expect(every.length).toBeGreaterThan(5);
    const paged: { path: string }[] = [];
    let after: string | null = null;
    for (;;) {
      const { files }: { files: { path: string }[] } = (await client.ok(FILES, { id: realBackupId, first: 2, after })).backup;
      paged.push(...files);
      if (files.length < 2) break;
      after = files[files.length - 1].path;
    }
    const byPath = [...every].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
    expect(paged).toEqual(byPath);
    const refused = await client.fails(FILES, { id: realBackupId, first: 0 });
    expect({ code: refused.extensions?.code, message: refused.message }).toEqual({ code: 'BAD_USER_INPUT', message: 'first must be between 1 and 1000, got 0' });
  });

  it('pages the audit log newest first without an event missed or repeated, and refuses a cursor it did not give', async () => {
    const audit = server.app.get(AuditService);
    for (let i = 0; i < 123; i += 1) await audit.record({ actor: 'pager', action: 'test.page', subjectType: 'test', subjectId: String(i) });
    const AUDIT = `query ($after: String) { auditEvents(filter: { actor: "pager" }, first: 10, after: $after) { nodes { id subjectId } pageInfo { endCursor hasNextPage } } }`;
    const subjects: string[] = [];
    let after: string | null = null;
    for (;;) {
      const { auditEvents }: Record<string, any> = await client.ok(AUDIT, { after });
      subjects.push(...auditEvents.nodes.map((n: { subjectId: string }) => n.subjectId));
      if (!auditEvents.pageInfo.hasNextPage) break;
      after = auditEvents.pageInfo.endCursor;
    }
    // Events recorded within one millisecond share a time: the order among them is by id, so only the set is certain.
    expect(subjects).toHaveLength(123);
    expect(new Set(subjects)).toEqual(new Set(Array.from({ length: 123 }, (_, i) => String(i))));
    const refused = await client.fails(AUDIT, { after: 'not-a-cursor' });
    expect({ code: refused.extensions?.code, message: refused.message }).toEqual({ code: 'BAD_USER_INPUT', message: '"not-a-cursor" is not a cursor this API gave out' });
  });
});
