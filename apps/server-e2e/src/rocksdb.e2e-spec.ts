/**
 * The RocksDB plugin through GraphQL, against real RocksDB databases held open and written by a
 * separate process (the plugin's replica stand-in): checkpoints made of the live database and
 * checkpoints the replica makes itself, restores to the same node and to a new one, one replica
 * reached over SSH, the seed's knobs, verify, bad input and a server killed mid-restore.
 */
import { SchedulerService } from '@chainvault/core';
import { startSshd, type RunningSshd } from '@chainvault/testing';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_PLUGINS, sshMachine } from './support/lab-nodes';
import { BLOCK_PREFIX, lastBlock, replica, replicaRunning, scanBlocks, startReplica, stopReplica, type Replica } from './support/rocksdb-replicas';
import { CREATE_DESTINATION, CREATE_NETWORK, CREATE_POLICY, REGISTER_NODE, RESTORE, RUN_BACKUP, VERIFY } from './support/scenario';
import { spawnServer, type ServerProcess } from './support/server-process';
import { startTestServer, type TestServer } from './support/test-server';
import { expectStatus, logOf, waitUntil } from './support/job-checks';
import type { GraphqlClient } from './support/graphql-client';

jest.setTimeout(240_000);

const CLI = join(__dirname, '..', '..', 'cli', 'bin', 'chainvault.js');

const JOB = `query ($id: ID!) { job(id: $id) { id kind status policyId error result log { level message } } }`;
const BACKUP = `query ($id: ID!) { backup(id: $id) { id status metadata logicalSize storedSize } }`;
const CHECKPOINTS = `query ($id: ID!) { checkpoints(nodeId: $id) { location id lastBlockId sizeBytes ageSeconds complete path backupId } }`;



async function finished(client: GraphqlClient, jobId: string): Promise<Record<string, any>> {
  await client.waitForJob(jobId);
  return (await client.ok(JOB, { id: jobId })).job;
}

describe('the rocksdb plugin', () => {
  let work: string;
  let server: TestServer;
  let client: GraphqlClient;
  let networkId: string;
  let repo: string;
  const replicas: Replica[] = [];
  let clockFile: string;

  const setClock = async (iso: string) => {
    await writeFile(`${clockFile}.next`, iso);
    await rename(`${clockFile}.next`, clockFile);
  };

  const register = async (name: string, config: Record<string, unknown>) => (await client.ok(REGISTER_NODE, { input: { networkId, name, plugin: 'rocksdb', role: 'replica', config } })).registerNode.id as string;
  const policy = async (name: string, nodeId: string, options: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
    (await client.ok(CREATE_POLICY, { input: { name, nodeId, method: 'checkpoint', options, destinationIds: [repo], retention: { keepLast: 20 }, ...extra } })).createPolicy.id as string;
  const backupNow = async (policyId: string) => finished(client, (await client.ok(RUN_BACKUP, { policyId })).runBackup.id);
  const restoreTo = async (backupId: string, targetNodeId: string) => finished(client, (await client.ok(RESTORE, { input: { backupId, targetNodeId } })).restoreBackup.id);
  const started = async (root: string, flags: string[]) => {
    const r = await replica(root, flags);
    await startReplica(r);
    replicas.push(r);
    return r;
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-rocksdb-'));
    clockFile = join(work, 'clock');
    await setClock('2026-06-01T00:00:00.000Z');
    server = await startTestServer({ config: { clockFile, schedulerTickMs: 3_600_000, retryBackoffMs: 200, pluginPaths: [TEST_PLUGINS] } });
    client = server.client;
    ({ createNetwork: { id: networkId } } = await client.ok(CREATE_NETWORK, { input: { name: 'concord', protocol: 'rocksdb' } }));
    repo = (await client.ok(CREATE_DESTINATION, { input: { name: 'repo', kind: 'LOCAL', config: { path: join(work, 'repository') } } })).createDestination.id;
  });

  afterAll(async () => {
    for (const r of replicas) await stopReplica(r).catch(() => undefined);
    await server?.close();
    execFileSync('sh', ['-c', `grep -q ' ${work}/tmpfs ' /proc/mounts && umount ${work}/tmpfs || true`]);
    await rm(work, { recursive: true, force: true });
  });

  it('backs up a live database while it is written, restores it to a new node, and a second backup stores little', async () => {
    // Filled fast first (200 MB), then written at a steady pace while it is backed up. RocksDB's own
    // flushes and compactions rewrite a few MB between two backups whatever the database's size.
    const root = join(work, 'r1');
    const filler = await replica(root, ['--blocks-per-second', '0', '--stop-after-blocks', '200000']);
    await startReplica(filler);
    await waitUntil('the replica wrote 200000 blocks', async () => (await lastBlock(filler.dataDirectory)) >= 200000, 180_000);
    await stopReplica(filler);
    const live = await started(root, ['--blocks-per-second', '1000']);
    await mkdir(join(root, 'checkpoints'));
    const nodeId = await register('replica-1', { dataDirectory: live.dataDirectory, checkpointPath: join(root, 'checkpoints'), blockKeyPrefix: BLOCK_PREFIX, commands: { start: live.start, stop: live.stop } });
    const policyId = await policy('replica-1-checkpoints', nodeId);

    const first = await backupNow(policyId);
    expectStatus(first, 'COMPLETED');
    const { backup } = await client.ok(BACKUP, { id: first.result.backupId });
    const recorded = backup.metadata.lastBlockId as number;
    expect(recorded).toBeGreaterThan(200000);
    expect(backup.metadata).toMatchObject({ source: 'chainvault', rocksdbVersion: expect.stringMatching(/^\d+\.\d+\.\d+$/), checkpointId: recorded });
    expect(backup.metadata.files.length).toBeGreaterThan(3);
    expect(replicaRunning(live)).toBe(true);
    // The checkpoint stays on the node, named by its block, as Concord names its own.
    expect(await readdir(join(root, 'checkpoints'))).toEqual([String(recorded)]);

    // 5% more blocks, then a second backup: the SST files already stored are not stored again.
    await waitUntil('5% more blocks', async () => (await lastBlock(live.dataDirectory)) >= recorded * 1.05, 120_000);
    const second = await backupNow(policyId);
    expectStatus(second, 'COMPLETED');
    const secondSize = (await client.ok(BACKUP, { id: second.result.backupId })).backup.logicalSize as number;
    expect(second.result.storedBytes).toBeLessThan(0.15 * secondSize);

    // A new server: nothing there yet; the restore puts the checkpoint in place and starts the replica on it.
    const fresh = await replica(join(work, 'r1-new'), ['--blocks-per-second', '0', '--stop-after-blocks', '1']);
    replicas.push(fresh);
    const freshId = await register('replica-1-new', { dataDirectory: fresh.dataDirectory, blockKeyPrefix: BLOCK_PREFIX, commands: { start: fresh.start, stop: fresh.stop } });
    const restored = await restoreTo(first.result.backupId, freshId);
    expectStatus(restored, 'COMPLETED');
    expect(logOf(restored)).toMatch(/put checkpoint \d+ in place/);
    expect(logOf(restored)).toMatch(/RocksDB opens .*block \d+/);
    await waitUntil('the restored replica runs', () => replicaRunning(fresh));
    const blocks = await scanBlocks(fresh.dataDirectory);
    expect(blocks).toMatchObject({ first: 0, contiguous: true, badValues: 0 });
    expect(blocks.last).toBeGreaterThanOrEqual(recorded);
  });

  it('restores to the same node: stopped with its command, the old data kept aside, started again', async () => {
    const r = await started(join(work, 'r2'), ['--blocks-per-second', '2000']);
    await waitUntil('2000 blocks', async () => (await lastBlock(r.dataDirectory)) >= 2000);
    await mkdir(join(work, 'r2', 'checkpoints'));
    const nodeId = await register('replica-2', { dataDirectory: r.dataDirectory, checkpointPath: join(work, 'r2', 'checkpoints'), blockKeyPrefix: BLOCK_PREFIX, commands: { start: r.start, stop: r.stop } });
    const job = await backupNow(await policy('replica-2-checkpoints', nodeId));
    const recorded = (await client.ok(BACKUP, { id: job.result.backupId })).backup.metadata.lastBlockId as number;
    await waitUntil('more blocks after the backup', async () => (await lastBlock(r.dataDirectory)) >= recorded + 2000);

    const restored = await restoreTo(job.result.backupId, nodeId);
    expectStatus(restored, 'COMPLETED');
    const log = logOf(restored);
    expect(log).toMatch(/stopped node replica-2/);
    expect(log).toMatch(/kept the current data aside at .*db\.before-restore-/);
    expect(log).toMatch(/started the node/);
    await waitUntil('the replica runs again', () => replicaRunning(r));
    const aside = (await readdir(join(work, 'r2'))).filter((n) => n.startsWith('db.before-restore-'));
    expect(aside).toHaveLength(1);
    // The old data is whole: it holds the blocks written after the backup.
    expect((await scanBlocks(join(work, 'r2', aside[0]))).last).toBeGreaterThanOrEqual(recorded + 2000);
    // Read once the replica has stopped: a read-only open of a database written at 2000 blocks/s
    // can pair a manifest from before a flush with the log from after it, and see a gap that is not there.
    await stopReplica(r);
    const now = await scanBlocks(r.dataDirectory);
    expect(now).toMatchObject({ first: 0, contiguous: true, badValues: 0 });
    expect(now.last).toBeGreaterThanOrEqual(recorded);
  });

  it('a restore cancelled after the stop leaves the old data in place and starts the node again', async () => {
    const root = join(work, 'r8');
    const r = await started(root, ['--blocks-per-second', '2000']);
    await waitUntil('2000 blocks', async () => (await lastBlock(r.dataDirectory)) >= 2000);
    await mkdir(join(root, 'checkpoints'));
    const marker = join(root, 'stopped');
    const slowStop = ['sh', '-c', `${r.stop.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')} && { [ -e '${marker}' ] || { touch '${marker}' && sleep 30; }; }`];
    const nodeId = await register('replica-8', { dataDirectory: r.dataDirectory, checkpointPath: join(root, 'checkpoints'), blockKeyPrefix: BLOCK_PREFIX, commands: { start: r.start, stop: slowStop } });
    const job = await backupNow(await policy('replica-8-checkpoints', nodeId));
    const before = await lastBlock(r.dataDirectory);
    const restore = (await client.ok(RESTORE, { input: { backupId: job.result.backupId, targetNodeId: nodeId } })).restoreBackup;
    await waitUntil('the node was stopped', () => existsSync(marker));
    await client.ok(`mutation ($id: ID!) { cancelJob(id: $id) { id status } }`, { id: restore.id });
    const ended = await finished(client, restore.id);
    expectStatus(ended, 'CANCELLED');
    expect(logOf(ended)).toMatch(/cleanup/);
    await waitUntil('the replica runs again', () => replicaRunning(r));
    expect((await readdir(root)).filter((n) => n.includes('before-restore'))).toEqual([]);
    await waitUntil('the replica writes again', async () => (await lastBlock(r.dataDirectory)) > before);
    // Scanned at rest: a read-only open of a database its writer is flushing can see a torn log tail.
    await stopReplica(r);
    const blocks = await scanBlocks(r.dataDirectory);
    expect(blocks).toMatchObject({ first: 0, contiguous: true, badValues: 0 });
    expect(blocks.last).toBeGreaterThanOrEqual(before);
  });

  it('makes a checkpoint on demand through the node\'s operator command, from GraphQL and from the CLI, and lists it', async () => {
    const root = join(work, 'r9');
    const checkpoints = join(root, 'checkpoints');
    // The replica makes none by itself (its interval is hours); SIGUSR1 is its `concop dbCheckpoint create`.
    const r = await started(root, ['--blocks-per-second', '2000', '--checkpoint-path', checkpoints, '--checkpoint-interval-seconds', '3600', '--checkpoint-window', '30000']);
    await waitUntil('1000 blocks', async () => (await lastBlock(r.dataDirectory)) >= 1000);
    const create = ['sh', '-c', 'kill -USR1 "$(cat "$1")"', 'concop', r.pidFile];
    const status = ['sh', '-c', 'ls -1 "$1"', 'concop', checkpoints];
    const nodeId = await register('replica-9', { dataDirectory: r.dataDirectory, checkpointPath: checkpoints, blockKeyPrefix: BLOCK_PREFIX, commands: { createCheckpoint: create, checkpointStatus: status } });
    await policy('replica-9-on-demand', nodeId, { source: 'node', createTimeoutSeconds: 30 });

    const job = await finished(client, (await client.ok(`mutation ($id: ID!) { createCheckpoint(nodeId: $id) { id } }`, { id: nodeId })).createCheckpoint.id);
    expectStatus(job, 'COMPLETED');
    expect(logOf(job)).toMatch(/asked the node for a checkpoint/);
    const first = (await client.ok(BACKUP, { id: job.result.backupId })).backup.metadata;
    expect(await readdir(checkpoints)).toEqual([String(first.checkpointId)]);
    expect(await scanBlocks(join(checkpoints, String(first.checkpointId)))).toMatchObject({ first: 0, last: first.checkpointId, contiguous: true, badValues: 0 });

    const cli = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        const { CHAINVAULT_TOKEN: _t, CHAINVAULT_DATA_DIR: _d, ...rest } = process.env;
        execFile(process.execPath, [CLI, ...args], { cwd: work, env: { ...rest, CHAINVAULT_URL: server.url, CHAINVAULT_TOKEN: server.token } }, (error, stdout, stderr) =>
          resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    await waitUntil('more blocks', async () => (await lastBlock(r.dataDirectory)) >= first.checkpointId + 500);
    const made = await cli('checkpoints', 'create', 'replica-9', '--wait');
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(/\(BACKUP\) COMPLETED/);
    const listed = await cli('checkpoints', 'status', 'replica-9');
    expect(listed.code).toBe(0);
    const ids = (await readdir(checkpoints)).map(Number).sort((a, b) => a - b);
    expect(ids).toHaveLength(2);
    expect(ids[1]).toBeGreaterThan(first.checkpointId);
    for (const id of ids) expect(listed.stdout).toMatch(new RegExp(`NODE +${id} +block ${id} `));
    expect(listed.stdout.split('\n').filter((l) => l.startsWith('DESTINATION'))).toHaveLength(2);

    // A node without a checkpoint policy is told what to do.
    const bare = await register('replica-9-no-policy', { dataDirectory: join(root, 'elsewhere') });
    const refused = await client.fails(`mutation ($id: ID!) { createCheckpoint(nodeId: $id) { id } }`, { id: bare });
    expect(refused.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.message).toContain('has no enabled checkpoint policy');
  });

  it('ships the checkpoints the replica makes itself, skipping partial ones, and lists them on the node and in destinations', async () => {
    const checkpoints = join(work, 'r3', 'checkpoints');
    const r = await started(join(work, 'r3'), ['--blocks-per-second', '2000', '--checkpoint-path', checkpoints, '--checkpoint-interval-seconds', '0.5', '--checkpoint-window', '300', '--checkpoints-to-keep', '2']);
    await waitUntil('the replica made two checkpoints', async () => existsSync(checkpoints) && (await readdir(checkpoints)).filter((n) => /^\d+$/.test(n)).length >= 2);
    // A checkpoint still being written: a folder named by a block, without CURRENT or a MANIFEST.
    await mkdir(join(checkpoints, '999999999'));
    await writeFile(join(checkpoints, '999999999', '000001.sst'), 'partial');
    const nodeId = await register('replica-3', { dataDirectory: r.dataDirectory, checkpointPath: checkpoints, blockKeyPrefix: BLOCK_PREFIX });
    const job = await backupNow(await policy('replica-3-own', nodeId, { source: 'node' }));
    expectStatus(job, 'COMPLETED');
    expect(logOf(job)).toMatch(/skipping partial checkpoint 999999999/);
    const { backup } = await client.ok(BACKUP, { id: job.result.backupId });
    expect(backup.metadata.source).toBe('node');
    expect(backup.metadata.lastBlockId).toBe(backup.metadata.checkpointId);

    // Restored anywhere, it holds exactly the blocks up to its id: Concord's checkpoint is a point in the chain.
    const target = join(work, 'r3-restored', 'db');
    await mkdir(join(work, 'r3-restored'));
    const targetId = await register('replica-3-restored', { dataDirectory: target, blockKeyPrefix: BLOCK_PREFIX });
    expectStatus(await restoreTo(job.result.backupId, targetId), 'COMPLETED');
    expect(await scanBlocks(target)).toMatchObject({ first: 0, last: backup.metadata.checkpointId, contiguous: true, badValues: 0 });

    // The replica writes a new checkpoint every 0.5 s and drops the oldest: a listing can land
    // while the newest is half written and the one before is being removed, so list until one is whole.
    let listed: any[] = [];
    await waitUntil('a listing with a complete checkpoint on the node', async () => {
      listed = (await client.ok(CHECKPOINTS, { id: nodeId })).checkpoints;
      return listed.some((c: any) => c.location === 'NODE' && c.complete);
    });
    const onNode = listed.filter((c: any) => c.location === 'NODE');
    expect(onNode.filter((c: any) => c.complete).length).toBeGreaterThanOrEqual(1);
    expect(onNode.find((c: any) => c.id === '999999999')).toMatchObject({ complete: false });
    for (const c of onNode.filter((c: any) => c.complete)) expect(c).toMatchObject({ lastBlockId: c.id, sizeBytes: expect.any(Number), ageSeconds: expect.any(Number), path: join(checkpoints, c.id) });
    expect(listed.find((c: any) => c.location === 'DESTINATION')).toMatchObject({ backupId: job.result.backupId, lastBlockId: String(backup.metadata.lastBlockId) });

    // Verify: RocksDB checks every block checksum of the stored checkpoint.
    const verify = await finished(client, (await client.ok(VERIFY, { id: job.result.backupId, readData: true })).verifyBackup.id);
    expectStatus(verify, 'COMPLETED');
  });

  it('verify fails naming the file: a byte changed in the repository, and a checkpoint rotten on the node whose hashes match', async () => {
    const checkpoints = join(work, 'r6', 'checkpoints');
    const r = await started(join(work, 'r6'), ['--blocks-per-second', '0', '--stop-after-blocks', '20000', '--checkpoint-path', checkpoints, '--checkpoint-interval-seconds', '0.2', '--checkpoint-window', '1000', '--checkpoints-to-keep', '2']);
    const made = () => (existsSync(checkpoints) ? readdirSync(checkpoints).filter((n) => /^\d+$/.test(n) && existsSync(join(checkpoints, n, 'CURRENT'))) : []);
    await waitUntil('the replica wrote its blocks and made a checkpoint', async () => (await lastBlock(r.dataDirectory)) >= 20000 && made().length > 0, 120_000);
    await stopReplica(r);
    const checkpoint = join(checkpoints, made().sort((a, b) => Number(a) - Number(b)).at(-1)!);
    const ssts = (await readdir(checkpoint)).filter((n) => n.endsWith('.sst'));
    const sizes = await Promise.all(ssts.map(async (n) => (await stat(join(checkpoint, n))).size));
    const largest = ssts[sizes.indexOf(Math.max(...sizes))];
    const own = await client.ok(CREATE_DESTINATION, { input: { name: 'r6-repo', kind: 'LOCAL', config: { path: join(work, 'r6-repository') } } });
    const nodeId = await register('replica-6', { dataDirectory: r.dataDirectory, checkpointPath: checkpoints, blockKeyPrefix: BLOCK_PREFIX });
    const policyId = (await client.ok(CREATE_POLICY, { input: { name: 'replica-6', nodeId, method: 'checkpoint', options: { source: 'node' }, destinationIds: [own.createDestination.id], retention: { keepLast: 20 } } })).createPolicy.id;
    const verification = async (backupId: string) => {
      const job = await finished(client, (await client.ok(VERIFY, { id: backupId, readData: true })).verifyBackup.id);
      const { backup } = await client.ok(`query ($id: ID!) { backup(id: $id) { verification verificationProblems } }`, { id: backupId });
      return { job, ...backup };
    };

    // One byte of the repository changed: the host's hashes name the file.
    const good = await backupNow(policyId);
    expectStatus(good, 'COMPLETED');
    const packs = join(work, 'r6-repository', 'data');
    const packFiles = (await readdir(packs)).flatMap((prefix) => readdirSync(join(packs, prefix)).map((name) => join(packs, prefix, name)));
    const biggest = packFiles.sort((a, b) => statSync(b).size - statSync(a).size)[0];
    const bytes = await readFile(biggest);
    const original = Buffer.from(bytes);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await writeFile(biggest, bytes);
    const damaged = await verification(good.result.backupId);
    expectStatus(damaged.job, 'FAILED');
    expect(damaged.verification).toBe('CORRUPT');
    expect(damaged.verificationProblems.join('\n')).toMatch(/checkpoint\/\d+\.sst/);
    await writeFile(biggest, original);

    // The SST rots on the node before it is shipped: stored with hashes of the rotten bytes, so
    // only RocksDB's own block checksums can tell. (A copy first: the checkpoint's SSTs are hard links.)
    const rotten = join(checkpoint, largest);
    const content = await readFile(rotten);
    await rm(rotten);
    content[Math.floor(content.length / 2)] ^= 0x01;
    await writeFile(rotten, content);
    const second = await client.ok(CREATE_DESTINATION, { input: { name: 'r6-repo-2', kind: 'LOCAL', config: { path: join(work, 'r6-repository-2') } } });
    await client.ok(`mutation ($id: ID!) { pausePolicy(id: $id) { id } }`, { id: policyId });
    const policy2 = (await client.ok(CREATE_POLICY, { input: { name: 'replica-6-again', nodeId, method: 'checkpoint', options: { source: 'node' }, destinationIds: [second.createDestination.id], retention: { keepLast: 20 } } })).createPolicy.id;
    const shipped = await backupNow(policy2);
    expectStatus(shipped, 'COMPLETED');
    const caught = await verification(shipped.result.backupId);
    expectStatus(caught.job, 'FAILED');
    expect(caught.verification).toBe('CORRUPT');
    expect(caught.verificationProblems.join('\n')).toContain(largest);
    expect(caught.verificationProblems.join('\n')).toMatch(/checksum/i);

    // An SST the MANIFEST needs is missing from the node's checkpoint: refused before it is called a backup.
    await rm(rotten);
    await client.ok(`mutation ($id: ID!) { pausePolicy(id: $id) { id } }`, { id: policy2 });
    const third = await client.ok(CREATE_DESTINATION, { input: { name: 'r6-repo-3', kind: 'LOCAL', config: { path: join(work, 'r6-repository-3') } } });
    const policy3 = (await client.ok(CREATE_POLICY, { input: { name: 'replica-6-third', nodeId, method: 'checkpoint', options: { source: 'node' }, destinationIds: [third.createDestination.id], retention: { keepLast: 20 } } })).createPolicy.id;
    const missing = await backupNow(policy3);
    expectStatus(missing, 'FAILED');
    expect(missing.error).toContain(largest.replace(/\.sst$/, ''));
  });

  it('refuses a second exclusive policy on the same replica data, whichever plugin it comes from, naming the other', async () => {
    const r = await started(join(work, 'r7'), ['--blocks-per-second', '0', '--stop-after-blocks', '100']);
    await mkdir(join(work, 'r7', 'checkpoints'));
    const nodeId = await register('replica-7', { dataDirectory: r.dataDirectory, checkpointPath: join(work, 'r7', 'checkpoints') });
    await policy('replica-7-checkpoints', nodeId);
    // The lab test plugin's exclusive copy stands in for VMware Blockchain's intermittent backup (the vmbc plugin) on the same data.
    const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name: 'lab-on-replica-7', protocol: 'lab' } });
    const { registerNode } = await client.ok(REGISTER_NODE, {
      input: { networkId: createNetwork.id, name: 'replica-7-intermittent', plugin: 'lab', role: 'node', config: { dataDir: `${r.dataDirectory}/`, pidFile: r.pidFile, startCommand: r.start } },
    });
    const refused = await client.fails(CREATE_POLICY, { input: { name: 'replica-7-intermittent', nodeId: registerNode.id, method: 'copy', destinationIds: [repo], retention: { keepLast: 1 } } });
    expect(refused.extensions?.code).toBe('CONFLICT');
    expect(refused.message).toContain('policy "replica-7-checkpoints" (rocksdb/checkpoint)');
  });

  it('keeps num_of_rocksdbcheckpoints on the node, skips a scheduled run inside the window and a run without disk, with the numbers', async () => {
    const r = await started(join(work, 'r4'), ['--blocks-per-second', '3000']);
    await mkdir(join(work, 'r4', 'checkpoints'));
    const nodeId = await register('replica-4', { dataDirectory: r.dataDirectory, checkpointPath: join(work, 'r4', 'checkpoints'), blockKeyPrefix: BLOCK_PREFIX });
    const manual = await policy('replica-4-manual', nodeId, { num_of_rocksdbcheckpoints: 2 });
    for (let i = 0; i < 3; i++) {
      const at = await lastBlock(r.dataDirectory);
      await waitUntil('more blocks', async () => (await lastBlock(r.dataDirectory)) > at + 500);
      expectStatus(await backupNow(manual), 'COMPLETED');
    }
    const kept = (await readdir(join(work, 'r4', 'checkpoints'))).filter((n) => /^\d+$/.test(n));
    expect(kept).toHaveLength(2);

    // Scheduled: the window (here a million blocks) is not reached since the last checkpoint.
    // One checkpoint policy per replica (the method needs the data to itself): the manual one is paused first.
    await client.ok(`mutation ($id: ID!) { pausePolicy(id: $id) { id } }`, { id: manual });
    const scheduled = await policy('replica-4-scheduled', nodeId, { db_checkpoint_duration: 0, dbcheckpoint_window: 1_000_000 }, { schedule: { preset: 'HOURLY', timeZone: 'UTC' } });
    await setClock('2026-06-01T01:00:01.000Z');
    await server.app.get(SchedulerService).tick();
    let jobs: any[] = [];
    await waitUntil('the scheduled run ended', async () => {
      jobs = (await client.ok(`{ jobs { id policyId status error } }`)).jobs.filter((j: any) => j.policyId === scheduled);
      return jobs.length > 0 && !['QUEUED', 'RUNNING'].includes(jobs[0].status);
    });
    expect(jobs[0].status).toBe('SKIPPED');
    expect(jobs[0].error).toMatch(/\d+ blocks executed since the last checkpoint \(block \d+; the database is at \d+\), under dbcheckpoint_window \(1000000\)/);
    expect((await readdir(join(work, 'r4', 'checkpoints'))).filter((n) => /^\d+$/.test(n))).toHaveLength(2);

    // A small tmpfs: free space under the threshold × the database's size.
    const tmpfs = join(work, 'tmpfs');
    await mkdir(tmpfs);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', tmpfs]);
    const small = await started(tmpfs, ['--blocks-per-second', '0', '--stop-after-blocks', '6000']);
    await waitUntil('6000 blocks', async () => (await lastBlock(small.dataDirectory)) >= 6000);
    await mkdir(join(tmpfs, 'checkpoints'));
    const smallId = await register('replica-small-disk', { dataDirectory: small.dataDirectory, checkpointPath: join(tmpfs, 'checkpoints'), blockKeyPrefix: BLOCK_PREFIX });
    const skipped = await backupNow(await policy('replica-small-disk', smallId, { db_checkpoint_diskspace_threshold: 2 }));
    expectStatus(skipped, 'SKIPPED');
    expect(skipped.error).toMatch(/not enough free disk for a checkpoint: \d+ bytes free on .*checkpoints, \d+ after the checkpoint's \d+ copied bytes, under db_checkpoint_diskspace_threshold 2 × the database's \d+ bytes = \d+ bytes/);
    expect(await readdir(join(tmpfs, 'checkpoints'))).toEqual([]);
    await stopReplica(small);
  });

  it('refuses what is not a RocksDB database, a missing checkpoint path outside it, a failing operator command, and an SSH machine without a key', async () => {
    const notDb = join(work, 'not-a-db');
    await mkdir(notDb);
    await writeFile(join(notDb, 'data.txt'), 'hello');
    const a = await backupNow(await policy('not-a-db', await register('not-a-db', { dataDirectory: notDb, checkpointPath: join(notDb, 'checkpoints') })));
    expectStatus(a, 'FAILED');
    expect(a.error).toContain(`${notDb} on local is not a RocksDB database: it has no CURRENT file`);
    expect(existsSync(join(notDb, 'checkpoints'))).toBe(false);

    const r = await started(join(work, 'r5'), ['--blocks-per-second', '0', '--stop-after-blocks', '500']);
    const missing = join(work, 'nowhere', 'checkpoints');
    const b = await backupNow(await policy('missing-path', await register('missing-path', { dataDirectory: r.dataDirectory, checkpointPath: missing })));
    expectStatus(b, 'FAILED');
    expect(b.error).toContain(`the checkpoint path ${missing} does not exist on local`);
    expect(existsSync(missing)).toBe(false);
    await client.ok(`mutation ($id: ID!) { pausePolicy(id: $id) { id } }`, { id: b.policyId });

    await mkdir(join(work, 'r5', 'own'));
    const failing = await register('failing-operator', { dataDirectory: r.dataDirectory, checkpointPath: join(work, 'r5', 'own'), commands: { createCheckpoint: ['sh', '-c', 'echo "concop: replica 2 unreachable" >&2; exit 3'] } });
    const c = await backupNow(await policy('failing-operator', failing, { source: 'node' }));
    expectStatus(c, 'FAILED');
    expect(c.error).toMatch(/exited with code 3/);
    expect(c.error).toContain('concop: replica 2 unreachable');
    await client.ok(`mutation ($id: ID!) { pausePolicy(id: $id) { id } }`, { id: c.policyId });

    const hanging = await register('hanging-operator', { dataDirectory: r.dataDirectory, checkpointPath: join(work, 'r5', 'own'), commandTimeoutSeconds: 1, commands: { createCheckpoint: ['sleep', '30'] } });
    // A timeout may pass, so the job is retried after a backoff: the test's clock is moved on until it has had all its attempts.
    const hangingJob = (await client.ok(RUN_BACKUP, { policyId: await policy('hanging-operator', hanging, { source: 'node' }) })).runBackup.id as string;
    let now = Date.parse('2026-06-01T02:00:00.000Z');
    await waitUntil('the hanging operator job ended', async () => {
      await setClock(new Date((now += 60_000)).toISOString());
      return !['QUEUED', 'RUNNING'].includes((await client.ok(JOB, { id: hangingJob })).job.status);
    }, 120_000);
    const d = (await client.ok(JOB, { id: hangingJob })).job;
    expectStatus(d, 'FAILED');
    expect(d.error).toMatch(/timed out|TIMEOUT/i);
    expect(await readdir(join(work, 'r5', 'own'))).toEqual([]);

    const noKey = await client.request(REGISTER_NODE, {
      input: { networkId, name: 'no-key', plugin: 'rocksdb', role: 'replica', config: { dataDirectory: '/srv/db', machine: { kind: 'ssh', host: '127.0.0.1', user: 'root', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` } } },
    });
    expect(noKey.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(noKey.errors?.[0].message).toMatch(/privateKey/);
  });
});

describe('the rocksdb plugin over SSH', () => {
  let work: string;
  let server: TestServer;
  let alpha: RunningSshd;
  let beta: RunningSshd;
  let r: Replica;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-rocksdb-ssh-'));
    [alpha, beta] = await Promise.all([startSshd(), startSshd()]);
    server = await startTestServer();
  });
  afterAll(async () => {
    if (r) await stopReplica(r).catch(() => undefined);
    await server?.close();
    await Promise.all([alpha?.stop(), beta?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  it('backs up a replica on one machine and restores it to a second machine', async () => {
    const client = server.client;
    r = await replica(join(work, 'alpha-data'), ['--blocks-per-second', '2000']);
    await startReplica(r);
    await waitUntil('3000 blocks', async () => (await lastBlock(r.dataDirectory)) >= 3000);
    await mkdir(join(work, 'alpha-data', 'checkpoints'));
    const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name: 'remote', protocol: 'rocksdb' } });
    const node = async (name: string, config: Record<string, unknown>) => (await client.ok(REGISTER_NODE, { input: { networkId: createNetwork.id, name, plugin: 'rocksdb', role: 'replica', config } })).registerNode;
    const source = await node('alpha-replica', { machine: sshMachine(alpha), dataDirectory: r.dataDirectory, checkpointPath: join(work, 'alpha-data', 'checkpoints'), blockKeyPrefix: BLOCK_PREFIX });
    expect(source.secretFields).toContain('machine.privateKey');
    const targetDir = join(work, 'beta-data', 'db');
    await mkdir(join(work, 'beta-data'));
    const target = await node('beta-replica', { machine: sshMachine(beta), dataDirectory: targetDir, blockKeyPrefix: BLOCK_PREFIX });
    const repo = (await client.ok(CREATE_DESTINATION, { input: { name: 'repo', kind: 'LOCAL', config: { path: join(work, 'repository') } } })).createDestination.id;
    const { createPolicy } = await client.ok(CREATE_POLICY, { input: { name: 'alpha', nodeId: source.id, method: 'checkpoint', destinationIds: [repo], retention: { keepLast: 5 } } });

    const job = (await client.ok(RUN_BACKUP, { policyId: createPolicy.id })).runBackup;
    await client.waitForJob(job.id);
    const backedUp = (await client.ok(JOB, { id: job.id })).job;
    expectStatus(backedUp, 'COMPLETED');
    expect(logOf(backedUp)).toMatch(new RegExp(`copied .* from root@127\\.0\\.0\\.1:${alpha.port}`));
    const recorded = (await client.ok(BACKUP, { id: backedUp.result.backupId })).backup.metadata.lastBlockId as number;

    const restore = (await client.ok(RESTORE, { input: { backupId: backedUp.result.backupId, targetNodeId: target.id } })).restoreBackup;
    await client.waitForJob(restore.id);
    const restored = (await client.ok(JOB, { id: restore.id })).job;
    expectStatus(restored, 'COMPLETED');
    expect(await scanBlocks(targetDir)).toMatchObject({ first: 0, last: recorded, contiguous: true, badValues: 0 });
  });
});

describe('a restore killed with its server after the node was stopped', () => {
  let work: string;
  let server: ServerProcess | undefined;
  let r: Replica;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-rocksdb-kill-'));
  });
  afterAll(async () => {
    if (r) await stopReplica(r).catch(() => undefined);
    server?.child.kill('SIGKILL');
    await rm(work, { recursive: true, force: true });
  });

  it('leaves the old data aside and intact, and the node is started again when the server comes back', async () => {
    const dataDir = join(work, 'server');
    r = await replica(join(work, 'r'), ['--blocks-per-second', '2000']);
    await startReplica(r);
    await waitUntil('2000 blocks', async () => (await lastBlock(r.dataDirectory)) >= 2000);
    await mkdir(join(work, 'r', 'checkpoints'));
    const env = { dataDir, extra: { CHAINVAULT_RESTORE_ROOTS: tmpdir() } };
    server = await spawnServer(env);
    const client = server.client;
    const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name: 'killed', protocol: 'rocksdb' } });
    // A stop that takes its time after the replica is down: the server is killed in it.
    const marker = join(work, 'stopped');
    const stop = ['sh', '-c', `${r.stop.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')} && { [ -e '${marker}' ] || { touch '${marker}' && sleep 30; }; }`];
    const { registerNode } = await client.ok(REGISTER_NODE, {
      input: { networkId: createNetwork.id, name: 'replica', plugin: 'rocksdb', role: 'replica', config: { dataDirectory: r.dataDirectory, checkpointPath: join(work, 'r', 'checkpoints'), blockKeyPrefix: BLOCK_PREFIX, commands: { stop, start: r.start } } },
    });
    const repo = (await client.ok(CREATE_DESTINATION, { input: { name: 'repo', kind: 'LOCAL', config: { path: join(work, 'repository') } } })).createDestination.id;
    const { createPolicy } = await client.ok(CREATE_POLICY, { input: { name: 'p', nodeId: registerNode.id, method: 'checkpoint', destinationIds: [repo], retention: { keepLast: 5 } } });
    const job = (await client.ok(RUN_BACKUP, { policyId: createPolicy.id })).runBackup;
    await client.waitForJob(job.id);
    const backupId = (await client.ok(JOB, { id: job.id })).job.result.backupId;
    const recorded = (await client.ok(BACKUP, { id: backupId })).backup.metadata.lastBlockId as number;
    await waitUntil('blocks written after the backup', async () => (await lastBlock(r.dataDirectory)) >= recorded + 1000);
    const before = await lastBlock(r.dataDirectory);

    const restore = (await client.ok(RESTORE, { input: { backupId, targetNodeId: registerNode.id } })).restoreBackup;
    await waitUntil('the node was stopped', () => existsSync(join(work, 'stopped')));
    expect(replicaRunning(r)).toBe(false);
    server.child.kill('SIGKILL');
    await server.exited;

    server = await spawnServer(env);
    await server.client.waitForJob(restore.id);
    const ended = (await server.client.ok(JOB, { id: restore.id })).job;
    expectStatus(ended, 'FAILED');
    expect(ended.error).toMatch(/interrupted/);
    expect(ended.error).toMatch(/cleanup ran/);
    await waitUntil('the replica runs again', () => replicaRunning(r));
    expect(logOf(ended)).toMatch(/the server stopped during the restore: its checkpoint, copied and opened before the node was stopped, is now in place/);
    // The old data is aside, whole: it holds every block written before the restore.
    const aside = (await readdir(join(work, 'r'))).filter((n) => n.startsWith('db.before-restore-'));
    expect(aside).toHaveLength(1);
    const old = await scanBlocks(join(work, 'r', aside[0]));
    expect(old).toMatchObject({ first: 0, contiguous: true, badValues: 0 });
    expect(old.last).toBeGreaterThanOrEqual(before);
    // The node runs on the checkpoint: a contiguous prefix up to at least the block it recorded (read once stopped, as above).
    await stopReplica(r);
    const now = await scanBlocks(r.dataDirectory);
    expect(now).toMatchObject({ first: 0, contiguous: true, badValues: 0 });
    expect(now.last).toBeGreaterThanOrEqual(recorded);
  });
});
