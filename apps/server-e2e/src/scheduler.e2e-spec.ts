/**
 * The scheduler (issue 4, DESIGN §5) on the real server, with time driven by a test clock file
 * (CHAINVAULT_CLOCK_FILE) instead of sleeps: each due fire becomes exactly one job in the
 * policy's time zone, across daylight-saving changes; a fire while the previous run is still
 * waiting is skipped with its reason; fires missed while the server was down are caught up by
 * one run; a paused policy does not fire and does not catch up; maintenance windows hold a job
 * until they open and tell the plugin when they close; exclusive methods cannot both be enabled;
 * retention over a month of simulated runs keeps exactly what its rules say; webhooks are called
 * with retries.
 */
import { SchedulerService, WebhookService, type FireRecord } from '@chainvault/core';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { DataSource } from 'typeorm';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CREATE_DESTINATION, CREATE_NETWORK, CREATE_POLICY, REGISTER_NODE, VERIFY } from './support/scenario';
import { startTestServer, type TestServer } from './support/test-server';

const JOBS_OF = `query { jobs { id kind status policyId error scheduledFor notBefore attempts result log { message } } }`;
const PAUSE = `mutation ($id: ID!) { pausePolicy(id: $id) { id enabled } }`;
const RESUME = `mutation ($id: ID!) { resumePolicy(id: $id) { id enabled } }`;
const RETENTION = `mutation ($id: ID!, $dryRun: Boolean) { applyRetention(policyId: $id, dryRun: $dryRun) { policyId dryRun kept { backupId createdAt reasons } deleted { backupId createdAt reasons } pruneJobIds } }`;
const BACKUPS_OF = `query ($id: ID!) { backups(filter: { policyId: $id, status: [COMPLETED, DELETED] }, first: 500) { nodes { id status createdAt pinned } } }`;

describe('the scheduler, driven by a test clock', () => {
  let work: string;
  let clockFile: string;
  let server: TestServer;
  let networkId: string;
  let nodeId: string;
  let destinationId: string;

  // Written aside and renamed into place, so a server never reads a half-written time.
  const setClock = async (iso: string) => {
    await writeFile(`${clockFile}.next`, iso);
    await rename(`${clockFile}.next`, clockFile);
  };
  const scheduler = () => server.app.get(SchedulerService);
  const tick = async (): Promise<FireRecord[]> => scheduler().tick();
  const jobsOf = async (policyId: string) => (await server.client.ok(JOBS_OF)).jobs.filter((j: { policyId: string }) => j.policyId === policyId);
  const settle = async () => {
    // Every queued job whose time has come runs to its end before the clock moves on.
    for (;;) {
      const { jobs } = await server.client.ok(`{ jobs(status: [QUEUED, RUNNING]) { id notBefore } }`);
      const now = new Date(readFileSync(clockFile, 'utf8'));
      const due = jobs.filter((j: { notBefore: string | null }) => !j.notBefore || new Date(j.notBefore) <= now);
      if (due.length === 0) return;
      await server.client.waitForJob(due[0].id);
    }
  };
  const policy = async (name: string, input: Record<string, unknown>) =>
    (await server.client.ok(CREATE_POLICY, { input: { name, nodeId, method: 'snapshot', destinationIds: [destinationId], ...input } })).createPolicy.id as string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-scheduler-'));
    clockFile = join(work, 'clock');
    await setClock('2026-03-02T09:10:00.000Z'); // a Monday
    const source = join(work, 'source');
    await mkdir(source);
    await writeFile(join(source, 'ledger.dat'), 'block 1\n');
    await writePluginWithExclusiveMethods(join(work, 'plugins'));
    server = await startTestServer({ config: { clockFile, schedulerTickMs: 3_600_000, retryBackoffMs: 100, pluginPaths: [join(work, 'plugins')] } });
    ({ createNetwork: { id: networkId } } = await server.client.ok(CREATE_NETWORK, { input: { name: 'sched', protocol: 'directory' } }));
    ({ registerNode: { id: nodeId } } = await server.client.ok(REGISTER_NODE, { input: { networkId, name: 'files', plugin: 'directory', role: 'node', config: { path: source } } }));
    ({ createDestination: { id: destinationId } } = await server.client.ok(CREATE_DESTINATION, { input: { name: 'sched-repo', kind: 'LOCAL', config: { path: join(work, 'repository') } } }));
  });

  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  let hourly: string;

  it('makes each due fire exactly one job, evaluated in the policy\'s time zone', async () => {
    // Kolkata is UTC+05:30: its hours begin at half past the hour in UTC.
    hourly = await policy('hourly-kolkata', { schedule: { preset: 'HOURLY', timeZone: 'Asia/Kolkata' } });
    expect(await tick()).toEqual([]);
    await setClock('2026-03-02T09:29:59.000Z');
    expect(await tick()).toEqual([]);
    await setClock('2026-03-02T09:30:00.000Z');
    const [fired] = await tick();
    expect(fired).toMatchObject({ policyId: hourly, outcome: 'queued', missed: 0 });
    expect(fired.fire.toISOString()).toBe('2026-03-02T09:30:00.000Z');
    expect(await tick()).toEqual([]);
    await settle();
    const jobs = await jobsOf(hourly);
    expect(jobs.map((j: { scheduledFor: string; status: string }) => [j.scheduledFor, j.status])).toEqual([['2026-03-02T09:30:00.000Z', 'COMPLETED']]);
    await server.client.ok(PAUSE, { id: hourly });
  });

  it('runs a daily schedule once a day across both daylight-saving changes', async () => {
    await setClock('2026-03-28T12:00:00.000Z');
    const daily = await policy('daily-berlin', { schedule: { cron: '30 2 * * *', timeZone: 'Europe/Berlin' } });
    const fires: string[] = [];
    const walk = async (from: string, hours: number) => {
      for (let h = 0; h <= hours; h++) {
        await setClock(new Date(new Date(from).getTime() + h * 3_600_000).toISOString());
        for (const record of await tick()) if (record.policyId === daily) fires.push(record.fire.toISOString());
        await settle();
      }
    };
    await walk('2026-03-28T12:00:00.000Z', 48);
    await walk('2026-10-24T12:00:00.000Z', 48);
    // 02:30 does not exist on 29 March (03:00 CEST instead) and happens twice on 25 October (once).
    // The jump from March to October is a downtime of months: caught up by one run on 24 October.
    expect(fires).toEqual(['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z', '2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
    const catchUp = (await jobsOf(daily)).find((j: { scheduledFor: string }) => j.scheduledFor === '2026-10-24T00:30:00.000Z');
    expect(catchUp.status).toBe('COMPLETED');
    await server.client.ok(PAUSE, { id: daily });
  });

  it('skips a fire while the previous run still waits, records why, and starts a run only inside its maintenance window', async () => {
    await setClock('2026-11-02T09:50:00.000Z'); // Monday
    const windowed = await policy('nightly-window', {
      schedule: { preset: 'HOURLY', timeZone: 'UTC' },
      maintenanceWindows: [{ days: ['TUE'], start: '01:00', end: '02:00' }],
    });
    await setClock('2026-11-02T10:00:00.000Z');
    const [first] = await tick();
    expect(first).toMatchObject({ policyId: windowed, outcome: 'queued' });
    await setClock('2026-11-02T11:00:00.000Z');
    const [second] = await tick();
    expect(second).toMatchObject({ policyId: windowed, outcome: 'skipped' });
    const jobs = await jobsOf(windowed);
    const queued = jobs.find((j: { status: string }) => j.status === 'QUEUED');
    const skipped = jobs.find((j: { status: string }) => j.status === 'SKIPPED');
    expect(queued.notBefore).toBe('2026-11-03T01:00:00.000Z');
    expect(skipped).toMatchObject({ scheduledFor: '2026-11-02T11:00:00.000Z', error: `skipped: the previous run of policy "nightly-window" (job ${queued.id}) is still queued` });

    // The worker polls every second: an hour before the window nothing starts, inside it the job runs.
    await setClock('2026-11-03T00:00:00.000Z');
    await new Promise((r) => setTimeout(r, 1500));
    expect((await jobsOf(windowed)).find((j: { id: string }) => j.id === queued.id).status).toBe('QUEUED');
    await setClock('2026-11-03T01:00:30.000Z');
    const ran = await server.client.waitForJob(queued.id);
    expect(ran.status).toBe('COMPLETED');
    expect(ran.log.map((l: { message: string }) => l.message)).toContain("inside the policy's maintenance window, which closes at 2026-11-03T02:00:00.000Z");
    await server.client.ok(PAUSE, { id: windowed });
  });

  it('catches up the fires missed while the server was down with one run, which says so', async () => {
    await setClock('2026-11-10T08:05:00.000Z');
    const caught = await policy('catch-up', { schedule: { preset: 'HOURLY', timeZone: 'UTC' } });
    await setClock('2026-11-10T09:00:00.000Z');
    await tick();
    await settle();
    const dataDir = server.config.dataDir;
    await server.stop();
    await setClock('2026-11-10T14:20:00.000Z');
    // The new server's first tick, on start, does the catch-up.
    server = await startTestServer({ reuse: { dataDir }, config: { clockFile, schedulerTickMs: 3_600_000, retryBackoffMs: 100, pluginPaths: [join(work, 'plugins')] } });
    await tick();
    await settle();
    const jobs = await jobsOf(caught);
    expect(jobs.map((j: { scheduledFor: string }) => j.scheduledFor).sort()).toEqual(['2026-11-10T09:00:00.000Z', '2026-11-10T14:00:00.000Z']);
    const catchUp = jobs.find((j: { scheduledFor: string }) => j.scheduledFor === '2026-11-10T14:00:00.000Z');
    expect(catchUp.status).toBe('COMPLETED');
    const raw = await server.app.get(DataSource).query(`SELECT payload FROM job WHERE id = '${catchUp.id}'`);
    expect(JSON.parse(raw[0].payload).catchUp).toEqual({ missedFires: 4, firstMissed: '2026-11-10T10:00:00.000Z', counted: 'exactly' });

    // Paused, it neither fires nor, once resumed, catches up what it missed while paused.
    await server.client.ok(PAUSE, { id: caught });
    await setClock('2026-11-10T17:10:00.000Z');
    expect((await tick()).filter((r) => r.policyId === caught)).toEqual([]);
    await server.client.ok(RESUME, { id: caught });
    expect((await tick()).filter((r) => r.policyId === caught)).toEqual([]);
    await setClock('2026-11-10T18:00:00.000Z');
    expect((await tick()).filter((r) => r.policyId === caught)).toMatchObject([{ outcome: 'queued', missed: 0 }]);
    await settle();
    await server.client.ok(PAUSE, { id: caught });
  });

  it('refuses to enable a policy whose method excludes another enabled one on the node, naming it', async () => {
    const { registerNode } = await server.client.ok(REGISTER_NODE, { input: { networkId: (await server.client.ok(CREATE_NETWORK, { input: { name: 'excl', protocol: 'exclusive' } })).createNetwork.id, name: 'db', plugin: 'exclusive', role: 'node', config: {} } });
    const create = (name: string, method: string, enabled = true) =>
      server.client.request(CREATE_POLICY, { input: { name, nodeId: registerNode.id, method, destinationIds: [destinationId], enabled } });
    const full = (await create('full-copy', 'full')).data!.createPolicy.id;
    const refused = await create('checkpoints', 'checkpoint');
    expect(refused.errors?.[0]).toMatchObject({ message: 'method "checkpoint" cannot run on node "db" while policy "full-copy" (method "full") is enabled', extensions: { code: 'CONFLICT' } });
    const paused = (await create('checkpoints', 'checkpoint', false)).data!.createPolicy.id;
    const resume = await server.client.request(RESUME, { id: paused });
    expect(resume.errors?.[0]).toMatchObject({ message: expect.stringContaining('while policy "full-copy" (method "full") is enabled'), extensions: { code: 'CONFLICT' } });
    await server.client.ok(PAUSE, { id: full });
    expect((await server.client.ok(RESUME, { id: paused })).resumePolicy.enabled).toBe(true);
  });

  it('keeps exactly what the retention rules say over two months of runs every six hours, never the last verified one', async () => {
    await setClock('2026-01-01T00:30:00.000Z');
    const kept = await policy('retained', { schedule: { cron: '0 */6 * * *', timeZone: 'UTC' }, retention: { keepLast: 3, keepDaily: 5, keepWeekly: 3, keepMonthly: 2 } });
    const fires: string[] = [];
    for (let run = 1; run <= 4 * 59; run++) {
      const at = new Date(Date.UTC(2026, 0, 1, 6 * run)).toISOString();
      await setClock(at);
      await tick();
      await settle();
      fires.push(at);
      if (run === 6) {
        // The second day's last backup is verified: as the last verified one it must survive every rule.
        const { backups } = await server.client.ok(BACKUPS_OF, { id: kept });
        const newest = backups.nodes.filter((b: { status: string }) => b.status === 'COMPLETED').sort((a: { createdAt: string }, b: { createdAt: string }) => b.createdAt.localeCompare(a.createdAt))[0];
        expect(newest.createdAt).toBe(at);
        const { verifyBackup } = await server.client.ok(VERIFY, { id: newest.id });
        expect((await server.client.waitForJob(verifyBackup.id)).status).toBe('COMPLETED');
      }
    }
    // What the rules keep, worked out from the dates. The last run is 1 March 00:00, a Sunday (the end of ISO week
    // 2026-W09): the last 3 runs; the newest of each of the last 5 days; of each of the last 3 ISO weeks (Monday
    // start); of each of the last 2 months; and the verified one of 2 January 12:00.
    const last3 = fires.slice(-3);
    expect(last3).toEqual(['2026-02-28T12:00:00.000Z', '2026-02-28T18:00:00.000Z', '2026-03-01T00:00:00.000Z']);
    const days = ['2026-03-01T00:00:00.000Z', '2026-02-28T18:00:00.000Z', '2026-02-27T18:00:00.000Z', '2026-02-26T18:00:00.000Z', '2026-02-25T18:00:00.000Z'];
    const weeks = ['2026-03-01T00:00:00.000Z', '2026-02-22T18:00:00.000Z', '2026-02-15T18:00:00.000Z'];
    const months = ['2026-03-01T00:00:00.000Z', '2026-02-28T18:00:00.000Z'];
    const expected = [...new Set([...last3, ...days, ...weeks, ...months, '2026-01-02T12:00:00.000Z'])].sort();
    const { backups } = await server.client.ok(BACKUPS_OF, { id: kept });
    const completed = backups.nodes.filter((b: { status: string }) => b.status === 'COMPLETED').map((b: { createdAt: string }) => b.createdAt).sort();
    expect(completed).toEqual(expected);
    expect(backups.nodes.filter((b: { status: string }) => b.status === 'DELETED')).toHaveLength(fires.length - expected.length);

    // A dry run lists why each one stays.
    const dry = (await server.client.ok(RETENTION, { id: kept, dryRun: true })).applyRetention;
    expect(dry.deleted).toEqual([]);
    expect(dry.kept.find((d: { createdAt: string }) => d.createdAt === '2026-01-02T12:00:00.000Z').reasons).toEqual(['last verified good']);
    expect(dry.kept.find((d: { createdAt: string }) => d.createdAt === '2026-03-01T00:00:00.000Z').reasons).toEqual(['last 1', 'daily 2026-03-01', 'weekly 2026-W09', 'monthly 2026-03']);
    expect(dry.kept.find((d: { createdAt: string }) => d.createdAt === '2026-02-28T18:00:00.000Z').reasons).toEqual(['last 2', 'daily 2026-02-28', 'monthly 2026-02']);
    expect(dry.kept).toHaveLength(expected.length);
    // Every prune queued by retention ran, and what is kept still restores.
    expect((await server.client.ok(`{ jobs(status: [QUEUED, RUNNING, FAILED]) { id kind error } }`)).jobs.filter((j: { kind: string }) => j.kind === 'PRUNE')).toEqual([]);
    await server.client.ok(PAUSE, { id: kept });
  });

  it('runs one backup at a time against a node, however many policies ask at once', async () => {
    const big = join(work, 'big');
    await mkdir(big);
    for (let i = 0; i < 4; i++) await writeFile(join(big, `part-${i}.dat`), randomBytes(16 * 1024 * 1024));
    const { registerNode } = await server.client.ok(REGISTER_NODE, { input: { networkId, name: 'busy', plugin: 'directory', role: 'node', config: { path: big } } });
    const ids = [];
    for (const name of ['busy-a', 'busy-b', 'busy-c']) {
      const id = (await server.client.ok(CREATE_POLICY, { input: { name, nodeId: registerNode.id, method: 'snapshot', destinationIds: [destinationId] } })).createPolicy.id;
      ids.push((await server.client.ok(`mutation ($id: ID!) { runBackup(policyId: $id) { id } }`, { id })).runBackup.id);
    }
    const runs = [];
    for (const id of ids) runs.push(await server.client.waitForJob(id));
    expect(runs.map((r) => r.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    const { jobs } = await server.client.ok(`{ jobs(status: [COMPLETED]) { id startedAt finishedAt } }`);
    const spans = ids.map((id) => jobs.find((j: { id: string }) => j.id === id)).map((j: { startedAt: string; finishedAt: string }) => [Date.parse(j.startedAt), Date.parse(j.finishedAt)]);
    spans.sort((a, b) => a[0] - b[0]);
    // With CHAINVAULT_MAX_JOBS_PER_NODE at its default of 1 (and two jobs at once per instance), none overlaps another.
    for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
  });

  it('calls the policy\'s webhook on success and on failure, retrying while the receiver fails', async () => {
    const received: { event: string; body: Record<string, any> }[] = [];
    let failuresLeft = 2;
    const receiver: Server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (failuresLeft-- > 0) {
          res.statusCode = 503;
          return res.end('busy');
        }
        received.push({ event: String(req.headers['x-chainvault-event']), body: JSON.parse(body) });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    server.app.get(WebhookService).retryDelayMs = () => 50;
    try {
      const good = await policy('hooked', { webhook: { url } });
      // A folder that is there when the node is registered, then goes (an unmounted disk).
      const gone = join(work, 'gone-later');
      await mkdir(gone, { recursive: true });
      const { registerNode } = await server.client.ok(REGISTER_NODE, { input: { networkId, name: 'gone', plugin: 'directory', role: 'node', config: { path: gone } } });
      await rm(gone, { recursive: true, force: true });
      const bad = (await server.client.ok(CREATE_POLICY, { input: { name: 'hooked-bad', nodeId: registerNode.id, method: 'snapshot', destinationIds: [destinationId], webhook: { url, on: ['FAILURE'] } } })).createPolicy.id;

      const ok = await server.client.waitForJob((await server.client.ok(`mutation ($id: ID!) { runBackup(policyId: $id) { id } }`, { id: good })).runBackup.id);
      // A missing source may come back (a mount), so the job is tried three times, the clock moved past each backoff.
      const failedId = (await server.client.ok(`mutation ($id: ID!) { runBackup(policyId: $id) { id } }`, { id: bad })).runBackup.id;
      for (;;) {
        const { job } = await server.client.ok(`query ($id: ID!) { job(id: $id) { status } }`, { id: failedId });
        if (!['QUEUED', 'RUNNING'].includes(job.status)) break;
        await setClock(new Date(new Date(readFileSync(clockFile, 'utf8')).getTime() + 1000).toISOString());
        await new Promise((r) => setTimeout(r, 150));
      }
      const failed = await server.client.waitForJob(failedId);
      expect([ok.status, failed.status, failed.attempts]).toEqual(['COMPLETED', 'FAILED', 3]);
      await server.app.get(WebhookService).settled();
      // The success was answered 503 twice before it got through; each job's end is delivered once (not once per attempt).
      const byEvent = Object.fromEntries(received.map((r) => [r.event, r.body]));
      expect(received).toHaveLength(2);
      expect(byEvent.SUCCESS).toMatchObject({ event: 'SUCCESS', policy: { name: 'hooked' }, job: { id: ok.id, status: 'COMPLETED' }, backupId: ok.backupId });
      expect(byEvent.FAILURE).toMatchObject({ event: 'FAILURE', policy: { name: 'hooked-bad' }, job: { id: failed.id, status: 'FAILED', error: failed.error } });
    } finally {
      receiver.close();
    }
  });
});

/** A plugin whose two methods cannot be scheduled on the same node (a full copy and checkpoints, say). */
async function writePluginWithExclusiveMethods(root: string): Promise<void> {
  const dir = join(root, 'chainvault-plugin-exclusive');
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'chainvault-plugin-exclusive', version: '1.0.0', main: 'index.js', chainvault: { plugin: { id: 'exclusive', apiVersion: '^1.1.0', entry: './index.js' } } }),
  );
  await writeFile(
    join(dir, 'index.js'),
    `const method = (other) => ({ scope: 'node', description: 'test method', excludes: [other], backup: async () => ({ metadata: {} }), restore: async () => undefined });
module.exports = { id: 'exclusive', apiVersion: '1.1.0', protocols: ['exclusive'], nodeConfigSchema: { type: 'object' }, methods: { full: method('checkpoint'), checkpoint: method('full') } };
`,
  );
}
