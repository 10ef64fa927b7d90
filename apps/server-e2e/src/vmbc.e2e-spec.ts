/**
 * The vmbc plugin through GraphQL against a network of four replicas and two clients, each on
 * its own sshd "machine": the node agents, the operator (`concop`), Concord replicas and the db
 * editor are the stand-ins of ../test-support/vmbc (written from the product documentation);
 * sshd, rsync, tar and RocksDB are real.
 */
import { startSshd, type RunningSshd } from '@chainvault/testing';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startVmbcNetwork, type VmbcNetwork } from '../test-support/vmbc/network';
import type { GraphqlClient } from './support/graphql-client';
import { sshMachine } from './support/lab-nodes';
import { scanBlocks } from './support/rocksdb-replicas';
import { CREATE_DESTINATION, CREATE_NETWORK, CREATE_POLICY, REGISTER_NODE, RESTORE, RUN_BACKUP } from './support/scenario';
import { spawnServer, type ServerProcess } from './support/server-process';
import { startTestServer, type TestServer } from './support/test-server';
import { expectStatus, logOf, waitUntil } from './support/job-checks';

jest.setTimeout(300_000);

const run = promisify(execFile);
const JOB = `query ($id: ID!) { job(id: $id) { id kind status error result progress { unit done total message } log { level message } } }`;
const BACKUP = `query ($id: ID!) { backup(id: $id) { id status metadata files { path size } } }`;
const CANCEL = `mutation ($id: ID!) { cancelJob(id: $id) { id status } }`;
const ALL_DAY = [{ days: ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'], start: '00:00', end: '00:00' }];



interface Registered {
  networkId: string;
  replicaIds: string[];
  clientIds: string[];
}

/** Registers a stand-in network's machines as nodes, each reached over its own sshd. */
async function register(client: GraphqlClient, name: string, net: VmbcNetwork, sshds: RunningSshd[], withClients = true): Promise<Registered> {
  const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name, protocol: 'vmbc' } });
  const node = async (nodeName: string, role: string, config: Record<string, unknown>) =>
    (await client.ok(REGISTER_NODE, { input: { networkId: createNetwork.id, name: nodeName, plugin: 'vmbc', role, config } })).registerNode.id as string;
  const replicaIds: string[] = [];
  for (const [i, r] of net.replicas.entries()) {
    replicaIds.push(
      await node(`${name}-${r.name}`, 'replica', {
        machine: sshMachine(sshds[i]),
        agentUrl: r.agentUrl,
        dataDirectory: r.dataDirectory,
        address: r.address,
        blockIdCommand: [...net.dbEditorArgv, '{dataDirectory}', '{query}'],
        commandTimeoutSeconds: 20,
      }),
    );
  }
  const clientIds: string[] = [];
  if (withClients) {
    for (const [i, c] of net.clients.entries()) {
      clientIds.push(
        await node(`${name}-${c.name}`, 'client', {
          machine: sshMachine(sshds[net.replicas.length + i]),
          agentUrl: c.agentUrl,
          clientFiles: c.files,
          commandTimeoutSeconds: 20,
          ...(i === 0 ? { operatorCommand: [...net.concopArgv, '{args}'] } : {}),
        }),
      );
    }
  }
  return { networkId: createNetwork.id, replicaIds, clientIds };
}

describe('the vmbc plugin', () => {
  let work: string;
  let net: VmbcNetwork;
  let sshds: RunningSshd[] = [];
  let server: TestServer;
  let client: GraphqlClient;
  let registered: Registered;
  let repo: string;

  const finished = async (jobId: string) => {
    await client.waitForJob(jobId, 240_000);
    return (await client.ok(JOB, { id: jobId })).job as Record<string, any>;
  };
  const intermittentPolicy = async (name: string, options: Record<string, unknown> = {}, windows: unknown = ALL_DAY) =>
    (await client.ok(CREATE_POLICY, { input: { name, networkId: registered.networkId, method: 'intermittent', options, destinationIds: [repo], retention: { keepLast: 20 }, schedule: { cron: '0 0 1 1 *', timeZone: 'UTC' }, maintenanceWindows: windows } })).createPolicy.id as string;
  const pause = (id: string) => client.ok(`mutation ($id: ID!) { pausePolicy(id: $id) { id } }`, { id });
  const concop = async (...args: string[]) => JSON.parse((await run(net.concopArgv[0], [...net.concopArgv.slice(1), ...args])).stdout.replace(/'/g, '"').replace(/True/g, 'true'));
  /** Every replica and client runs, no replica is wedged, and the replicas write blocks again. */
  const expectNetworkRunning = async () => {
    for (const m of [...net.replicas, ...net.clients]) expect({ name: m.name, running: (await net.status(m.name)).running }).toEqual({ name: m.name, running: true });
    const status = await concop('wedge', 'status');
    expect(Object.values(status).every((v) => v === false)).toBe(true);
    const before = (await net.status('replica-1')).lastBlock ?? 0;
    await waitUntil('the replicas write again', async () => ((await net.status('replica-1')).lastBlock ?? 0) > before);
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-vmbc-'));
    net = await startVmbcNetwork({ root: join(work, 'net'), replicas: 4, clients: 2, blocksPerSecond: 400, valueSize: 1024 });
    sshds = await Promise.all(Array.from({ length: 6 }, () => startSshd()));
    server = await startTestServer({ config: { cleanupGraceMs: 120_000, retryBackoffMs: 200 } });
    client = server.client;
    repo = (await client.ok(CREATE_DESTINATION, { input: { name: 'repo', kind: 'LOCAL', config: { path: join(work, 'repository') } } })).createDestination.id;
    registered = await register(client, 'vmbc', net, sshds);
    // Data that does not change between runs beside the growing database (a replica's older, compacted
    // files play this part on a real network): what a second run moves is what changed.
    for (const r of net.replicas) await writeFile(join(r.dataDirectory, 'zz-settled.bin'), randomBytes(16 * 1024 * 1024));
  });

  afterAll(async () => {
    await server?.close();
    await net?.stop();
    await Promise.all(sshds.map((s) => s.stop()));
    await rm(work, { recursive: true, force: true });
  });

  let backupId: string;

  it('syncs each replica online, then backs up the whole network at one block inside the window, and starts it again', async () => {
    for (const [i, id] of registered.replicaIds.entries()) {
      const policyId = (await client.ok(CREATE_POLICY, { input: { name: `sync-${i}`, nodeId: id, method: 'sync', destinationIds: [repo], retention: { keepLast: 3 }, schedule: { preset: 'HOURLY', timeZone: 'UTC' } } })).createPolicy.id;
      const synced = await finished((await client.ok(RUN_BACKUP, { policyId })).runBackup.id);
      expectStatus(synced, 'COMPLETED');
      expect(logOf(synced)).toMatch(/synced vmbc-replica-\d: \d+ bytes moved/);
    }
    const policyId = await intermittentPolicy('intermittent', { wedgePollSeconds: 0.5 });
    const job = await finished((await client.ok(RUN_BACKUP, { policyId })).runBackup.id);
    expectStatus(job, 'COMPLETED');
    const log = logOf(job);
    for (const step of ['stopped client vmbc-client-1', 'wedge status', 'stopped replica vmbc-replica-4', 'last block id', 'since the last sync', 'archived', 'started replica vmbc-replica-1', 'unwedged the replicas', 'started client vmbc-client-2', 'consistent run:']) {
      expect(log).toContain(step);
    }
    backupId = job.result.backupId;
    const { backup } = await client.ok(BACKUP, { id: backupId });
    const meta = backup.metadata;
    expect(meta.replicas).toHaveLength(4);
    for (const r of meta.replicas) expect(r).toMatchObject({ lastBlockId: meta.blockId, lastReachableBlockId: meta.blockId });
    expect(meta.clients.map((c: any) => c.archive)).toEqual(['clients/vmbc-client-1.tar.gz', 'clients/vmbc-client-2.tar.gz']);
    const paths = backup.files.map((f: any) => f.path);
    for (const r of net.replicas) expect(paths.some((p: string) => p.startsWith(`replicas/vmbc-${r.name}/`) && p.endsWith('.sst'))).toBe(true);
    await expectNetworkRunning();

    // The client archives hold the configured files.
    const exported = join(work, 'exported');
    const exportJob = (await client.ok(`mutation ($id: ID!, $path: String!) { exportBackup(backupId: $id, path: $path) { id } }`, { id: backupId, path: exported })).exportBackup.id;
    expectStatus(await finished(exportJob), 'COMPLETED');
    const listed = (await run('tar', ['tzf', join(exported, 'clients', 'vmbc-client-1.tar.gz')])).stdout;
    for (const file of net.clients[0].files) expect(listed).toContain(file.replace(/^\//, ''));

    // A second run moves only what changed since.
    const again = await finished((await client.ok(RUN_BACKUP, { policyId })).runBackup.id);
    expectStatus(again, 'COMPLETED');
    const moved = [...logOf(again).matchAll(/copied vmbc-replica-\d: (\d+) bytes moved of (\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(moved).toHaveLength(4);
    for (const [bytes, total] of moved) expect(bytes).toBeLessThan(total / 2);
    await pause(policyId);
    await expectNetworkRunning();
  });

  it("syncs through the node agent's own backup route when the policy says so, leaving it an hourly schedule", async () => {
    const policyId = (await client.ok(CREATE_POLICY, { input: { name: 'sync-by-agent', nodeId: registered.replicaIds[1], method: 'sync', options: { via: 'agent', rsyncUser: 'vmbc', timeZone: 'Europe/Berlin' }, destinationIds: [repo], retention: { keepLast: 3 } } })).createPolicy.id;
    const job = await finished((await client.ok(RUN_BACKUP, { policyId })).runBackup.id);
    expectStatus(job, 'COMPLETED');
    expect(logOf(job)).toMatch(/the agent of vmbc-replica-2 pushed its data to \/.* \(\d+ bytes\), and pushes hourly on its own/);
    const { schedule } = (await net.agent('replica-2', 'GET', '/api/backup')).body;
    expect(schedule).toMatchObject({ schedule_frequency: 'HOURLY', rsync_user_name: 'vmbc', backup_time_zone: 'Europe/Berlin', backup_destination: expect.stringContaining('mirror') });
    const { backup } = await client.ok(BACKUP, { id: job.result.backupId });
    expect(backup.metadata).toMatchObject({ consistent: false, replica: 'vmbc-replica-2' });
    expect(backup.files.some((f: any) => f.path.startsWith('replicas/vmbc-replica-2/') && f.path.endsWith('.sst'))).toBe(true);
    await pause(policyId);
  });

  it('restores the whole network onto four other machines, each replica at the recorded block', async () => {
    const clone = await startVmbcNetwork({ root: join(work, 'clone'), replicas: 4, clients: 0, blocksPerSecond: 50, valueSize: 1024 });
    const cloneSshds = await Promise.all(Array.from({ length: 4 }, () => startSshd()));
    try {
      const target = await register(client, 'clone', clone, cloneSshds, false);
      const restore = (await client.ok(RESTORE, { input: { backupId, targetNodeIds: target.replicaIds } })).restoreBackup;
      const ended = await finished(restore.id);
      expectStatus(ended, 'COMPLETED');
      const meta = (await client.ok(BACKUP, { id: backupId })).backup.metadata;
      expect(logOf(ended).match(/holds block id (\d+), as the backup recorded/g)).toHaveLength(4);
      for (const r of clone.replicas) {
        expect((await clone.status(r.name)).running).toBe(true);
        const blocks = await scanBlocks(r.dataDirectory);
        expect(blocks).toMatchObject({ first: 0, contiguous: true, badValues: 0 });
        expect(blocks.last).toBeGreaterThanOrEqual(meta.blockId);
        expect((await readdir(join(clone.root, r.name, 'mnt', 'data'))).some((n) => n.startsWith('rocksdbdata.before-restore-'))).toBe(true);
      }
    } finally {
      await clone.stop();
      await Promise.all(cloneSshds.map((s) => s.stop()));
    }
  });

  it("restores a client's files from the archive, keeping what it had aside, with the client stopped and started again", async () => {
    const clientId = registered.clientIds[1];
    const file = net.clients[1].files[0];
    const original = await readFile(file, 'utf8');
    await writeFile(file, 'CHANGED AFTER THE BACKUP\n');
    const archives = join(work, 'client-archives');
    await mkdir(archives);
    const job = await finished((await client.ok(RESTORE, { input: { backupId, targetNodeId: clientId, options: { clientArchiveDirectory: archives } } })).restoreBackup.id);
    expectStatus(job, 'COMPLETED');
    expect(await readFile(file, 'utf8')).toBe(original);
    expect(logOf(job)).toMatch(/stopped client vmbc-client-2 through its agent/);
    expect(logOf(job)).toMatch(/started client vmbc-client-2 through its agent/);
    const kept = (await readdir(archives)).filter((n) => n.includes('before-restore'));
    expect(kept).toHaveLength(1);
    expect((await stat(join(archives, kept[0]))).mode & 0o077).toBe(0);
    const { stdout } = await run('tar', ['xzOf', join(archives, kept[0]), file.replace(/^\//, '')]);
    expect(stdout).toBe('CHANGED AFTER THE BACKUP\n');
    expect((await readdir(archives)).filter((n) => !n.includes('before-restore'))).toEqual([]);
    expect((await net.status('client-2')).running).toBe(true);
  });

  it('fails clearly and leaves the network running: a wedge that times out twice, an agent that does not stop, a cancel after the replicas stopped', async () => {
    // The wedge times out twice, and the policy allows two attempts.
    net.faults.set('operator', { wedgeStopTimeouts: 2 });
    const wedge = await intermittentPolicy('wedge-timeouts', { wedgePollSeconds: 0.5, wedgeCommandTimeoutSeconds: 3, wedgeAttempts: 2 });
    const timedOut = await finished((await client.ok(RUN_BACKUP, { policyId: wedge })).runBackup.id);
    expectStatus(timedOut, 'FAILED');
    expect(timedOut.error).toContain('the replicas did not wedge after 2 attempts');
    expect(logOf(timedOut)).toMatch(/concop wedge stop timed out \(attempt 1 of 2\)/);
    expect(logOf(timedOut)).toMatch(/started client vmbc-client-1/);
    await pause(wedge);
    net.faults.set('operator', null);
    await expectNetworkRunning();

    // An agent that never answers the stop.
    net.faults.set('replica-3', { hangStop: true });
    const hang = await intermittentPolicy('agent-hangs', { wedgePollSeconds: 0.5 });
    const hung = await finished((await client.ok(RUN_BACKUP, { policyId: hang })).runBackup.id);
    expectStatus(hung, 'FAILED');
    expect(hung.error).toMatch(/the agent of vmbc-replica-3 did not stop it/);
    expect(logOf(hung)).toMatch(/unwedged the replicas/);
    await pause(hang);
    net.faults.set('replica-3', null);
    await expectNetworkRunning();

    // A replica that stopped 50 blocks early: the block ids tell, and the run fails naming it.
    net.faults.set('operator', { wedgePointOffsets: { [net.replicas[1].address]: -50 } });
    const lag = await intermittentPolicy('lagging', { wedgePollSeconds: 0.5 });
    const lagged = await finished((await client.ok(RUN_BACKUP, { policyId: lag })).runBackup.id);
    expectStatus(lagged, 'FAILED');
    expect(lagged.error).toMatch(/the replicas did not stop at one block: .*vmbc-replica-2 last block id (\d+), last reachable \1/);
    const ids = [...lagged.error.matchAll(/last block id (\d+)/g)].map((m: RegExpMatchArray) => Number(m[1]));
    expect(ids[1]).toBe(ids[0] - 50);
    await pause(lag);
    net.faults.set('operator', null);
    await expectNetworkRunning();

    // Cancelled once the replicas are stopped: the cleanup starts them, unwedges, starts the clients.
    const cancel = await intermittentPolicy('cancelled', { wedgePollSeconds: 0.5 });
    const job = (await client.ok(RUN_BACKUP, { policyId: cancel })).runBackup;
    await waitUntil('the replicas are stopped', async () => !(await net.status('replica-4')).running, 120_000);
    await client.ok(CANCEL, { id: job.id });
    const cancelled = await finished(job.id);
    expectStatus(cancelled, 'CANCELLED');
    expect(logOf(cancelled)).toMatch(/cleanup/);
    await pause(cancel);
    await expectNetworkRunning();
  });

  it('refuses to stop anything while a replica is in state transfer, saying which', async () => {
    net.faults.set('replica-2', { startDelayMs: 8_000 });
    expect((await net.agent('replica-2', 'POST', '/api/node/management?action=stop')).status).toBe(200);
    expect((await net.agent('replica-2', 'POST', '/api/node/management?action=start')).status).toBe(200);
    await waitUntil('replica-2 is in state transfer', async () => (await net.status('replica-2')).stateTransfer);
    const policyId = await intermittentPolicy('unhealthy');
    const job = await finished((await client.ok(RUN_BACKUP, { policyId })).runBackup.id);
    expectStatus(job, 'FAILED');
    expect(job.error).toContain('the network is not healthy, so nothing was stopped: replica vmbc-replica-2 is in state transfer');
    expect(logOf(job)).not.toMatch(/stopped client/);
    for (const m of net.clients) expect((await net.status(m.name)).running).toBe(true);
    await pause(policyId);
    net.faults.set('replica-2', null);
    await waitUntil('replica-2 caught up', async () => !(await net.status('replica-2')).stateTransfer, 60_000);
  });

  it("resumes a sync whose SSH connection is killed mid-transfer, and finishes it", async () => {
    // A large file among the replica's files, so the transfer takes long enough to be cut.
    const big = join(net.replicas[0].dataDirectory, 'zz-archive.bin');
    await writeFile(big, randomBytes(256 * 1024 * 1024));
    try {
      const policyId = (await client.ok(CREATE_POLICY, { input: { name: 'sync-cut', nodeId: registered.replicaIds[0], method: 'sync', destinationIds: [repo], retention: { keepLast: 3 } } })).createPolicy.id;
      const job = (await client.ok(RUN_BACKUP, { policyId })).runBackup;
      await waitUntil('the rsync started', async () => /rsync .*vmbc|rsync root@/.test(logOf((await client.ok(JOB, { id: job.id })).job)), 60_000);
      await new Promise((r) => setTimeout(r, 300));
      await sshds[0].dropConnections();
      const ended = await finished(job.id);
      expectStatus(ended, 'COMPLETED');
      expect(logOf(ended)).toMatch(/was cut off \(exit \d+\); resuming/);
      const mirrored = (await client.ok(BACKUP, { id: ended.result.backupId })).backup.files.find((f: any) => f.path.endsWith('zz-archive.bin'));
      expect(mirrored.size).toBe(256 * 1024 * 1024);
      await pause(policyId);
    } finally {
      await rm(big, { force: true });
    }
  });

  it('waits for the window when asked outside it, and stops at a safe point when the window closes mid-run', async () => {
    // A window that opens tomorrow: the run waits in the queue until then.
    const tomorrow = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'][(new Date().getUTCDay() + 1) % 7];
    const later = await intermittentPolicy('tomorrow', {}, [{ days: [tomorrow], start: '12:00', end: '13:00' }]);
    const waiting = (await client.ok(RUN_BACKUP, { policyId: later })).runBackup;
    await new Promise((r) => setTimeout(r, 1500));
    const queued = (await client.ok(`query ($id: ID!) { job(id: $id) { status notBefore } }`, { id: waiting.id })).job;
    expect(queued.status).toBe('QUEUED');
    expect(new Date(queued.notBefore).getUTCHours()).toBe(12);
    await client.ok(CANCEL, { id: waiting.id });
    await pause(later);

    // Or, when the policy says so, it is SKIPPED at once, saying when the window opens.
    const skipping = (await client.ok(CREATE_POLICY, {
      input: { name: 'tomorrow-or-skip', networkId: registered.networkId, method: 'intermittent', destinationIds: [repo], retention: { keepLast: 1 }, schedule: { cron: '0 0 1 1 *', timeZone: 'UTC', outsideWindow: 'SKIP' }, maintenanceWindows: [{ days: [tomorrow], start: '12:00', end: '13:00' }] },
    })).createPolicy.id;
    const skipped = await finished((await client.ok(RUN_BACKUP, { policyId: skipping })).runBackup.id);
    expectStatus(skipped, 'SKIPPED');
    expect(skipped.error).toMatch(/outside policy "tomorrow-or-skip"'s maintenance windows \(the next opens at .*T12:00:00\.000Z\), and the policy skips such runs/);
    await pause(skipping);

    // A window that closes a few seconds into the run (the margin says how much must be left before each disruptive step).
    const now = new Date();
    const end = new Date(now.getTime() + 2 * 60_000);
    const hhmm = (d: Date) => `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
    const start = new Date(now.getTime() - 60_000);
    end.setUTCSeconds(0, 0);
    const margin = (end.getTime() - Date.now()) / 1000 - 3;
    const closing = await intermittentPolicy('closing', { wedgePollSeconds: 0.5, windowMarginSeconds: margin }, [{ days: [['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'][start.getUTCDay()]], start: hhmm(start), end: hhmm(end) }]);
    let job: Record<string, any>;
    try {
      job = await finished((await client.ok(RUN_BACKUP, { policyId: closing })).runBackup.id);
    } finally {
      await pause(closing);
    }
    expectStatus(job, 'FAILED');
    expect(job.error).toMatch(/the maintenance window closes at .*: stopped before (wedging the replicas|wedge attempt \d|the replicas reported wedged|stopping the replicas|copying vmbc-replica-\d) \(\d of 9 steps done\), and the network is started again/);
    expect(logOf(job)).toMatch(/started client vmbc-client-1/);
    await expectNetworkRunning();
  });

  it('starts the network again when a server killed after the replicas stopped comes back, and the job says so', async () => {
    const env = { dataDir: join(work, 'killed-server'), extra: { CHAINVAULT_CLEANUP_GRACE_MS: '120000' } };
    let spawned: ServerProcess | undefined = await spawnServer(env);
    try {
      const other = spawned.client;
      const again = await register(other, 'killed', net, sshds);
      const otherRepo = (await other.ok(CREATE_DESTINATION, { input: { name: 'repo', kind: 'LOCAL', config: { path: join(work, 'killed-repository') } } })).createDestination.id;
      const policyId = (await other.ok(CREATE_POLICY, {
        input: { name: 'killed', networkId: again.networkId, method: 'intermittent', options: { wedgePollSeconds: 0.5 }, destinationIds: [otherRepo], retention: { keepLast: 5 }, schedule: { cron: '0 0 1 1 *', timeZone: 'UTC' }, maintenanceWindows: ALL_DAY },
      })).createPolicy.id;
      const job = (await other.ok(RUN_BACKUP, { policyId })).runBackup;
      await waitUntil('the replicas are stopped', async () => !(await net.status('replica-4')).running, 120_000);
      spawned.child.kill('SIGKILL');
      await spawned.exited;
      expect((await net.status('replica-1')).running).toBe(false);

      spawned = await spawnServer(env);
      await spawned.client.waitForJob(job.id, 240_000);
      const ended = (await spawned.client.ok(JOB, { id: job.id })).job;
      expectStatus(ended, 'FAILED');
      expect(ended.error).toMatch(/interrupted: the server running this job .* stopped before it finished; not run again by itself/);
      expect(ended.error).toMatch(/cleanup ran/);
      expect(logOf(ended)).toMatch(/started replica killed-replica-1/);
      expect(logOf(ended)).toMatch(/unwedged the replicas/);
      await expectNetworkRunning();
    } finally {
      spawned?.child.kill('SIGTERM');
      await spawned?.exited;
    }
  });

  it('refuses the intermittent backup and a RocksDB checkpoint policy on one replica, naming the other', async () => {
    const policyId = await intermittentPolicy('exclusive');
    const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name: 'rocks', protocol: 'rocksdb' } });
    const { registerNode } = await client.ok(REGISTER_NODE, {
      input: { networkId: createNetwork.id, name: 'replica-1-rocksdb', plugin: 'rocksdb', role: 'replica', config: { machine: sshMachine(sshds[0]), dataDirectory: net.replicas[0].dataDirectory } },
    });
    const refused = await client.fails(CREATE_POLICY, { input: { name: 'checkpoints', nodeId: registerNode.id, method: 'checkpoint', destinationIds: [repo], retention: { keepLast: 1 } } });
    expect(refused.extensions?.code).toBe('CONFLICT');
    expect(refused.message).toContain('policy "exclusive" (vmbc/intermittent)');
    await pause(policyId);
  });
});
