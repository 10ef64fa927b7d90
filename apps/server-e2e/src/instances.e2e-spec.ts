/**
 * Several instances (issue 4, DESIGN §5), as real server processes: three on one PostgreSQL
 * catalog create exactly one job per due fire and share the work; a worker killed with SIGKILL
 * in the middle of a backup has its job taken over by another instance when the lease runs out,
 * which finishes it; and a second process on a SQLite catalog refuses to start and says why.
 * Time is driven through a shared clock file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPostgresDatabase, type TestDatabase } from './support/catalog-database';
import { CREATE_DESTINATION, CREATE_NETWORK, CREATE_POLICY, REGISTER_NODE, RUN_BACKUP } from './support/scenario';
import { spawnServer, type ServerProcess } from './support/server-process';

const MiB = 1024 * 1024;
const JOBS = `{ jobs { id kind status policyId scheduledFor attempts error log { message } } }`;

interface JobRow {
  id: string;
  status: string;
  policyId: string;
  scheduledFor: string | null;
  attempts: number;
  error: string | null;
  log: { message: string }[];
}

/** Who ran each attempt of a job: the lease owners its log names (host:pid:suffix). */
const runners = (job: JobRow) => job.log.map((l) => /^started by (\S+) \(attempt \d+\)$/.exec(l.message)?.[1]).filter((o): o is string => o !== undefined);

describe('three instances on one PostgreSQL catalog', () => {
  let work: string;
  let database: TestDatabase;
  let clockFile: string;
  const servers: ServerProcess[] = [];

  // Written aside and renamed into place, so a server never reads a half-written time.
  const setClock = async (iso: string) => {
    await writeFile(`${clockFile}.next`, iso);
    await rename(`${clockFile}.next`, clockFile);
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-instances-'));
    database = await createPostgresDatabase();
    clockFile = join(work, 'clock');
    await setClock('2026-05-04T07:45:00.000Z');
    const secretKey = randomBytes(32).toString('base64');
    // Started together: the first migrates the new catalog while the others wait for its lock.
    servers.push(
      ...(await Promise.all(
        [1, 2, 3].map((n) =>
          spawnServer({
            dataDir: join(work, `instance-${n}`),
            databaseUrl: database.url,
            extra: {
              CHAINVAULT_SECRET_KEY: secretKey,
              CHAINVAULT_CLOCK_FILE: clockFile,
              CHAINVAULT_SCHEDULER_TICK_MS: '150',
              CHAINVAULT_LEASE_MS: '3000',
              CHAINVAULT_RETRY_BACKOFF_MS: '100',
              CHAINVAULT_MAX_JOBS_PER_DESTINATION: '8',
            },
          }),
        ),
      )),
    );
    // One of them made the admin token at the first start; every client uses it.
    const token = servers.map((s) => s.client.token).find((t) => t !== null) ?? null;
    for (const server of servers) server.client = server.client.as(token);
  });

  afterAll(async () => {
    for (const server of servers) server.child.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.exited));
    await database?.drop();
    await rm(work, { recursive: true, force: true });
  });

  const first = () => servers[0].client;
  const jobs = async (): Promise<JobRow[]> => (await first().ok(JOBS)).jobs;

  async function waitUntil(what: string, done: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('creates exactly one job per due fire, whichever instance sees it first, and the instances share the work', async () => {
    const client = first();
    const policies: string[] = [];
    const { createDestination } = await client.ok(CREATE_DESTINATION, { input: { name: 'shared', kind: 'LOCAL', config: { path: join(work, 'repository') } } });
    for (let i = 0; i < 6; i++) {
      const source = join(work, `source-${i}`);
      await mkdir(source, { recursive: true });
      await writeFile(join(source, 'ledger.dat'), randomBytes(64 * 1024));
      const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name: `net-${i}`, protocol: 'directory' } });
      const { registerNode } = await client.ok(REGISTER_NODE, { input: { networkId: createNetwork.id, name: `node-${i}`, plugin: 'directory', role: 'node', config: { path: source } } });
      const { createPolicy } = await client.ok(CREATE_POLICY, {
        input: { name: `every-15-min-${i}`, nodeId: registerNode.id, method: 'snapshot', destinationIds: [createDestination.id], schedule: { cron: '*/15 * * * *', timeZone: 'UTC' } },
      });
      policies.push(createPolicy.id);
    }
    const fires = ['2026-05-04T08:00:00.000Z', '2026-05-04T08:15:00.000Z', '2026-05-04T08:30:00.000Z', '2026-05-04T08:45:00.000Z'];
    for (const fire of fires) {
      await setClock(new Date(new Date(fire).getTime() + 1000).toISOString());
      await waitUntil(`every policy's job for ${fire} has ended`, async () => {
        const all = await jobs();
        return policies.every((p) => all.some((j) => j.policyId === p && j.scheduledFor === fire && j.status === 'COMPLETED'));
      });
      // Three schedulers kept ticking meanwhile: give them a few more ticks at this time before checking.
      await new Promise((r) => setTimeout(r, 500));
    }
    const all = (await jobs()).filter((j) => policies.includes(j.policyId));
    // One job per policy and fire, nothing skipped, nothing run twice.
    expect(all).toHaveLength(policies.length * fires.length);
    for (const policy of policies) {
      expect(all.filter((j) => j.policyId === policy).map((j) => j.scheduledFor).sort()).toEqual(fires);
    }
    expect(all.every((j) => j.status === 'COMPLETED' && j.attempts === 1 && runners(j).length === 1)).toBe(true);
    // The work was shared: jobs ran on more than one instance.
    expect(new Set(all.map((j) => runners(j)[0].split(':')[1])).size).toBeGreaterThan(1);
    await Promise.all(policies.map((id) => client.ok(`mutation ($id: ID!) { pausePolicy(id: $id) { id } }`, { id })));
  });

  let bigPolicy: string;

  /** Starts a backup of 192 MiB and returns its job id once it runs, with the lease owner running it. */
  async function bigBackupUnderWay(): Promise<{ jobId: string; owner: string }> {
    const client = first();
    if (!bigPolicy) {
      const source = join(work, 'big-source');
      await mkdir(source, { recursive: true });
      for (let i = 0; i < 48; i++) await writeFile(join(source, `${String(i).padStart(4, '0')}.sst`), randomBytes(4 * MiB));
      const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name: 'big', protocol: 'directory' } });
      const { registerNode } = await client.ok(REGISTER_NODE, { input: { networkId: createNetwork.id, name: 'big-node', plugin: 'directory', role: 'node', config: { path: source } } });
      const { createDestination } = await client.ok(CREATE_DESTINATION, { input: { name: 'big-repo', kind: 'LOCAL', config: { path: join(work, 'big-repository') } } });
      bigPolicy = (await client.ok(CREATE_POLICY, { input: { name: 'big', nodeId: registerNode.id, method: 'snapshot', destinationIds: [createDestination.id] } })).createPolicy.id;
    }
    const { runBackup } = await client.ok(RUN_BACKUP, { policyId: bigPolicy });
    let owner = '';
    await waitUntil('the backup is under way', async () => {
      const { job } = await client.ok(`query ($id: ID!) { job(id: $id) { status progress { done } log { message } } }`, { id: runBackup.id });
      owner = runners(job)[0] ?? '';
      return job.status === 'RUNNING' && (job.progress?.done ?? 0) > 8 * MiB;
    });
    return { jobId: runBackup.id, owner };
  }

  it('cancels a job asked on one instance while another runs it', async () => {
    const { jobId, owner } = await bigBackupUnderWay();
    const elsewhere = servers.find((s) => s.child.pid !== Number(owner.split(':')[1]))!;
    const { cancelJob } = await elsewhere.client.ok(`mutation ($id: ID!) { cancelJob(id: $id) { id status } }`, { id: jobId });
    expect(cancelJob.status).toBe('CANCELLED');
    // The instance running it sees the cancel at its next lease renewal (a third of the 3 s lease) and stops.
    await waitUntil('the running instance has stopped the job', async () => {
      const { job } = await elsewhere.client.ok(`query ($id: ID!) { job(id: $id) { status log { message } } }`, { id: jobId });
      return job.status === 'CANCELLED' && job.log.some((l: { message: string }) => l.message === 'cancelled by a request to another instance');
    }, 20_000);
    const { backups } = await elsewhere.client.ok(`query ($id: ID!) { backups(filter: { policyId: $id }) { totalCount } }`, { id: bigPolicy });
    expect(backups.totalCount).toBe(0);
  });

  it('takes over the job of an instance killed mid-backup once its lease runs out, and finishes it', async () => {
    const { jobId, owner } = await bigBackupUnderWay();
    const runBackup = { id: jobId };
    const victim = servers.find((s) => s.child.pid === Number(owner.split(':')[1]))!;
    expect(victim).toBeDefined();
    victim.child.kill('SIGKILL');
    expect(await victim.exited).toBe('SIGKILL');
    const survivor = servers.find((s) => s !== victim)!;

    let finished: JobRow | undefined;
    let now = Date.parse('2026-05-04T09:00:00.000Z');
    await waitUntil('another instance has finished the job', async () => {
      // The retry's backoff is counted on the test clock: it moves a second per poll.
      await setClock(new Date((now += 1000)).toISOString());
      const { job } = await survivor.client.ok(`query ($id: ID!) { job(id: $id) { id status attempts error log { message } } }`, { id: runBackup.id });
      finished = job;
      return !['QUEUED', 'RUNNING'].includes(job.status);
    }, 120_000);
    expect({ status: finished!.status, error: finished!.error, attempts: finished!.attempts }).toEqual({ status: 'COMPLETED', error: null, attempts: 2 });
    const [killed, taker] = runners(finished!);
    expect(killed).toBe(owner);
    expect(taker).not.toBe(owner);
    expect(finished!.log.map((l) => l.message).join('\n')).toContain(`interrupted: the server running this job (${owner}) stopped before it finished; taken over by`);
    const { backups } = await survivor.client.ok(`query ($id: ID!) { backups(filter: { policyId: $id }) { totalCount nodes { fileCount } } }`, { id: bigPolicy });
    expect(backups).toEqual({ totalCount: 1, nodes: [{ fileCount: 48 }] });
  });
});

describe('a second instance on a SQLite catalog', () => {
  it('refuses to start and says why, while the first runs on', async () => {
    const work = await mkdtemp(join(tmpdir(), 'chainvault-sqlite-twice-'));
    const dataDir = join(work, 'data');
    const firstServer = await spawnServer({ dataDir });
    try {
      const second = await spawnServer({ dataDir }).then(
        (s) => {
          s.child.kill('SIGKILL');
          return null;
        },
        (error: Error) => error.message,
      );
      expect(second).toMatch(/another chainvault instance \(pid \d+ on .*\) uses the SQLite catalog .*catalog\.sqlite/);
      expect(second).toContain('SQLite is a one-instance mode: stop the other instance, or share a PostgreSQL catalog (CHAINVAULT_DATABASE_URL) to run several.');
      expect((await fetch(`${firstServer.url}/health`)).ok).toBe(true);
    } finally {
      firstServer.child.kill('SIGKILL');
      await firstServer.exited;
      await rm(work, { recursive: true, force: true });
    }
  });
});
