/**
 * Jobs on one destination wait for each other's repository locks instead of failing: a large
 * backup, a prune and a verify of an earlier backup, started in every order on two server
 * processes sharing one PostgreSQL catalog, all complete, and the jobs that met a lock say
 * what they waited for.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPostgresDatabase, type TestDatabase } from './support/catalog-database';
import type { GraphqlClient } from './support/graphql-client';
import { RUN_BACKUP, VERIFY, createDirectoryPolicy } from './support/scenario';
import { spawnServer, type ServerProcess } from './support/server-process';

jest.setTimeout(600_000);

const MiB = 1024 * 1024;
const PRUNE = `mutation ($id: ID!) { pruneDestination(destinationId: $id) { id } }`;
const JOB = `query ($id: ID!) { job(id: $id) { id kind status error attempts log { message } progress { message } } }`;

type Step = 'backup' | 'prune' | 'verify';

function orders(steps: Step[]): Step[][] {
  if (steps.length <= 1) return [steps];
  return steps.flatMap((first, i) => orders([...steps.slice(0, i), ...steps.slice(i + 1)]).map((rest) => [first, ...rest]));
}

describe('jobs on one destination wait for each other (two instances, PostgreSQL)', () => {
  let work: string;
  let source: string;
  let database: TestDatabase;
  const servers: ServerProcess[] = [];
  let clients: GraphqlClient[];
  let policyId: string;
  let destinationId: string;
  let firstBackupId: string;
  const backupIds: string[] = [];

  /** Rewrites `count` of the source's 64 MiB files with new random bytes. */
  const change = async (count: number, round: number) => {
    for (let i = 0; i < count; i += 1) await writeFile(join(source, `part-${(round * count + i) % 8}.sst`), randomBytes(64 * MiB));
  };

  const waitFor = async (client: GraphqlClient, id: string) => {
    const deadline = Date.now() + 300_000;
    for (;;) {
      const { job } = await client.ok(JOB, { id });
      if (!['QUEUED', 'RUNNING'].includes(job.status)) return job;
      if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status}: ${JSON.stringify(job)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-lock-waits-'));
    source = join(work, 'source');
    await mkdir(source);
    await change(8, 0);
    database = await createPostgresDatabase();
    const secretKey = randomBytes(32).toString('base64');
    // One after the other: the first makes the admin token both use.
    for (const n of [1, 2]) {
      servers.push(await spawnServer({ dataDir: join(work, `instance-${n}`), databaseUrl: database.url, extra: { CHAINVAULT_SECRET_KEY: secretKey, CHAINVAULT_JOB_CONCURRENCY: '3' } }));
    }
    clients = servers.map((s) => s.client.as(servers[0].client.token));
    const setup = await createDirectoryPolicy(clients[0], 'locks', source, join(work, 'repository'));
    policyId = setup.policyId;
    destinationId = setup.destinationId;
    const { runBackup } = await clients[0].ok(RUN_BACKUP, { policyId });
    const first = await waitFor(clients[0], runBackup.id);
    expect(first.status).toBe('COMPLETED');
    firstBackupId = (await clients[0].ok(`query ($id: ID!) { job(id: $id) { backupId } }`, { id: runBackup.id })).job.backupId;
  });

  afterAll(async () => {
    for (const server of servers) server.child.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.exited));
    await database?.drop();
    await rm(work, { recursive: true, force: true });
  });

  const start = async (step: Step, client: GraphqlClient): Promise<string> => {
    if (step === 'backup') return (await client.ok(RUN_BACKUP, { policyId })).runBackup.id;
    if (step === 'prune') return (await client.ok(PRUNE, { id: destinationId })).pruneDestination.id;
    return (await client.ok(VERIFY, { id: firstBackupId, readData: true })).verifyBackup.id;
  };

  it.each(orders(['backup', 'prune', 'verify']).map((order, i) => [order.join(' → '), order, i] as const))('%s: all complete', async (_name, order, round) => {
    // The first round backs up all 512 MiB again (every file changed); later ones 128 MiB.
    await change(round === 0 ? 8 : 2, round + 1);
    const ids: Partial<Record<Step, string>> = {};
    for (const [i, step] of order.entries()) {
      ids[step] = await start(step, clients[i % 2]);
      await new Promise((r) => setTimeout(r, 150));
    }
    const jobs = Object.fromEntries(await Promise.all(order.map(async (step) => [step, await waitFor(clients[(order.indexOf(step) + 1) % 2], ids[step]!)] as const))) as Record<Step, any>;
    for (const step of order) expect({ step, status: jobs[step].status, error: jobs[step].error }).toEqual({ step, status: 'COMPLETED', error: null });
    // No wait used up an attempt.
    for (const step of order) expect(jobs[step].attempts).toBe(1);
    // A prune started while the backup held its lock waited for it, and said so.
    if (order.indexOf('backup') < order.indexOf('prune')) {
      const waits = jobs.prune.log.map((l: { message: string }) => l.message).filter((m: string) => m.startsWith('waiting for '));
      expect(waits.length).toBeGreaterThan(0);
      expect(waits.join('\n')).toMatch(/^waiting for job [0-9a-f-]{36} \((backup [0-9a-f-]{36} of policy locks-policy|verify of backup [0-9a-f-]{36})\) on destination locks-repo$/m);
    }
    const { job } = await clients[0].ok(`query ($id: ID!) { job(id: $id) { backupId } }`, { id: ids.backup });
    backupIds.push(job.backupId);
  });

  it('leaves every backup verifiable', async () => {
    for (const id of [firstBackupId, ...backupIds]) {
      const { verifyBackup } = await clients[1].ok(VERIFY, { id, readData: true });
      const job = await waitFor(clients[1], verifyBackup.id);
      expect({ id, status: job.status }).toEqual({ id, status: 'COMPLETED' });
      const { backup } = await clients[0].ok(`query ($id: ID!) { backup(id: $id) { verification } }`, { id });
      expect({ id, verification: backup.verification }).toEqual({ id, verification: 'VERIFIED' });
    }
  });
});
