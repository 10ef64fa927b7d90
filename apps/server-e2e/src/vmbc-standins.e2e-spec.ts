/**
 * The VMware Blockchain stand-ins the `vmbc` plugin's e2e tests run against (node agent, concop,
 * Concord replica, kv_blockchain_db_editor; test-support/vmbc/), tested by themselves: they must
 * behave as the intermittent-backup procedure says (shared/seeds/001_11435fedc7e2cf99.txt),
 * including its delays and failures. No chainvault server is involved.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startVmbcNetwork, type VmbcNetwork, type VmbcReplica } from '../test-support/vmbc/network';

jest.setTimeout(120_000);

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(argv: string[], timeoutMs = 30_000): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(argv[0], argv.slice(1), { timeout: timeoutMs }, (error, stdout, stderr) => {
      const e = error as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr, ms: Date.now() - started });
    });
  });
}

async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the VMware Blockchain stand-ins', () => {
  let root: string;
  let net: VmbcNetwork;

  const concop = (args: string[], timeoutMs?: number) => run([...net.concopArgv, ...args], timeoutMs);
  const wedgeStatus = async (): Promise<Record<string, boolean>> => {
    const r = await concop(['wedge', 'status']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^\{[^\n]*\}\n$/);
    return JSON.parse(r.stdout);
  };
  const allWedged = async () => Object.values(await wedgeStatus()).every(Boolean);
  const wedgeAt = (r: VmbcReplica): number | null => JSON.parse(readFileSync(r.controlFile, 'utf8')).wedgeAt;
  const lastBlocks = async () => Promise.all(net.replicas.map(async (r) => (await net.status(r.name)).lastBlock ?? -1));
  const post = (name: string, action: 'start' | 'stop', timeoutMs?: number) => net.agent(name, 'POST', `/api/node/management?action=${action}`, undefined, timeoutMs);
  const dbEditor = (dir: string, command: string) => run([...net.dbEditorArgv, dir, command]);
  const wedgeStop = async () => {
    const r = await concop(['wedge', 'stop']);
    expect(r).toMatchObject({ code: 0, stdout: '{"succ":true}\n' });
    return r;
  };
  const unwedge = async () => expect(await concop(['unwedge'])).toMatchObject({ code: 0, stdout: "{'succ': True}\n" });

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'chainvault-vmbc-'));
    net = await startVmbcNetwork({ root, replicas: 4, clients: 2, blocksPerSecond: 100 });
  });
  afterAll(async () => {
    await net?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('runs four replicas writing blocks and two clients, each behind its own agent', async () => {
    expect(net.replicas.map((r) => r.address)).toEqual(['192.168.100.107', '192.168.100.108', '192.168.100.109', '192.168.100.110']);
    expect(new Set([...net.replicas, ...net.clients].map((m) => m.agentPort)).size).toBe(6);
    for (const m of [...net.replicas, ...net.clients]) expect(existsSync(`${m.pidFile}.agent`)).toBe(true);
    const before = await lastBlocks();
    await waitUntil('every replica wrote 20 more blocks', async () => (await lastBlocks()).every((b, i) => b >= before[i] + 20));
    for (const r of net.replicas) {
      expect(r.dataDirectory).toBe(join(root, r.name, 'mnt', 'data', 'rocksdbdata'));
      expect(await net.status(r.name)).toEqual({ running: true, pid: expect.any(Number), lastBlock: expect.any(Number), wedged: false, stateTransfer: false });
    }
    for (const c of net.clients) {
      expect(await net.status(c.name)).toEqual({ running: true, pid: expect.any(Number), lastBlock: null, wedged: false, stateTransfer: false });
      expect(c.files.map((f) => f.slice(c.machineRoot.length))).toEqual(['/config/daml-ledger-api/environment-vars', '/config/daml-index-db/environment-vars', '/config/telegraf/telegraf.conf']);
      for (const f of c.files) expect(readFileSync(f, 'utf8')).toMatch(/\n.*\n/);
    }
    expect(await wedgeStatus()).toEqual(Object.fromEntries(net.replicas.map((r) => [r.address, false])));
  });

  it('wedges every replica at the same block, which the db editor reads after they stop; backs them up; unwedge resumes', async () => {
    const highest = Math.max(...(await lastBlocks()));
    const stop = await wedgeStop();
    expect(stop.ms).toBeGreaterThanOrEqual(1000);
    const point = wedgeAt(net.replicas[0])!;
    expect(point % 150).toBe(0);
    expect(point).toBeGreaterThanOrEqual(highest + 150);
    for (const r of net.replicas) expect(wedgeAt(r)).toBe(point);

    await waitUntil('the wedge status is true everywhere', allWedged);
    for (const r of net.replicas) expect(await net.status(r.name)).toMatchObject({ running: true, lastBlock: point, wedged: true, stateTransfer: false });
    // Wedging again while wedged keeps the point.
    await wedgeStop();
    expect(wedgeAt(net.replicas[3])).toBe(point);

    for (const r of net.replicas) expect(await post(r.name, 'stop')).toEqual({ status: 200, body: { status: 'stopped' } });
    for (const r of net.replicas) expect(await net.status(r.name)).toEqual({ running: false, pid: null, lastBlock: point, wedged: false, stateTransfer: false });
    await waitUntil('a stopped replica is not wedged for concop', async () => Object.values(await wedgeStatus()).every((v) => !v), 10_000);

    for (const r of net.replicas) {
      expect(await dbEditor(r.dataDirectory, 'getLastBlockID')).toMatchObject({ code: 0, stdout: `{\n  "lastBlockID": "${point}"\n}\n` });
      expect(await dbEditor(r.dataDirectory, 'getLastReachableBlockID')).toMatchObject({ code: 0, stdout: `{\n  "lastReachableBlockID": "${point}"\n}\n` });
    }
    const missing = await dbEditor(join(root, 'nowhere'), 'getLastBlockID');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`Failed to execute command [getLastBlockID], reason: RocksDB directory path doesn't exist at ${join(root, 'nowhere')}\n`);
    expect((await dbEditor(net.replicas[0].dataDirectory, 'noSuchCommand')).code).toBe(1);

    const r1 = net.replicas[0];
    const schedule = { backup_destination: join(root, 'backups', r1.name), schedule_frequency: 'HOURLY', rsync_user_name: 'vmbc', backup_time_zone: 'UTC' };
    expect(await net.agent(r1.name, 'POST', '/api/backup?action=schedule', schedule)).toEqual({ status: 200, body: { status: 'scheduled' } });
    expect((await net.agent(r1.name, 'GET', '/api/backup')).body).toEqual({ schedule });
    for (const r of net.replicas) {
      const destination = join(root, 'backups', r.name);
      const backup = await net.agent(r.name, 'POST', '/api/backup?action=run_now', { backup_destination: destination, rsync_user_name: 'vmbc', backup_time_zone: 'UTC' });
      expect(backup).toEqual({ status: 200, body: { status: 'done', bytes: expect.any(Number), transferredBytes: expect.any(Number) } });
      expect(backup.body.bytes).toBeGreaterThan(0);
      expect(await dbEditor(destination, 'getLastBlockID')).toMatchObject({ code: 0, stdout: `{\n  "lastBlockID": "${point}"\n}\n` });
    }
    // A second run copies (nearly) nothing: the delta only.
    const again = await net.agent(r1.name, 'POST', '/api/backup?action=run_now', { backup_destination: join(root, 'backups', r1.name) });
    expect(again.body.transferredBytes).toBeLessThan(again.body.bytes);

    for (const r of net.replicas) expect(await post(r.name, 'start')).toEqual({ status: 200, body: { status: 'running' } });
    await waitUntil('the restarted replicas report wedged again', allWedged);
    await unwedge();
    for (const r of net.replicas) expect(wedgeAt(r)).toBeNull();
    await waitUntil('every replica writes past the wedge point', async () => (await lastBlocks()).every((b) => b > point + 20));
    expect(Object.values(await wedgeStatus())).toEqual([false, false, false, false]);
  });

  it('stops and starts a client node through its agent; backups are for replicas only', async () => {
    const c = net.clients[0];
    const { pid } = await net.status(c.name);
    expect(await post(c.name, 'stop')).toEqual({ status: 200, body: { status: 'stopped' } });
    expect(() => process.kill(pid!, 0)).toThrow();
    expect(await net.status(c.name)).toMatchObject({ running: false, pid: null });
    expect(await post(c.name, 'stop')).toEqual({ status: 200, body: { status: 'stopped' } });
    expect(await post(c.name, 'start')).toEqual({ status: 200, body: { status: 'running' } });
    const restarted = await net.status(c.name);
    expect(restarted).toMatchObject({ running: true, lastBlock: null });
    expect(restarted.pid).not.toBe(pid);
    expect(await post(c.name, 'start')).toEqual({ status: 200, body: { status: 'running' } });
    expect((await net.agent(c.name, 'POST', '/api/backup?action=run_now', { backup_destination: join(root, 'x') })).status).toBe(400);
    expect((await net.agent(c.name, 'GET', '/api/nothing')).status).toBe(404);
  });

  it('a wedge stop that times out succeeds when run again; a replica that never completes stays false', async () => {
    const operatorFaults = join(root, 'operator', 'faults.json');
    net.faults.set('operator', { wedgeStopTimeouts: 1 });
    const hung = await concop(['wedge', 'stop'], 3000);
    expect(hung).toMatchObject({ code: null, signal: 'SIGTERM', stdout: '' });
    expect(JSON.parse(readFileSync(operatorFaults, 'utf8'))).toEqual({ wedgeStopTimeouts: 0 });
    expect(net.replicas.map(wedgeAt)).toEqual([null, null, null, null]);

    await wedgeStop();
    await waitUntil('all wedged', allWedged);
    net.faults.set('operator', { wedgeNeverCompletes: [net.replicas[2].address] });
    expect(await wedgeStatus()).toEqual({ '192.168.100.107': true, '192.168.100.108': true, '192.168.100.109': false, '192.168.100.110': true });
    net.faults.set('operator', null);
    await unwedge();
  });

  it('an agent whose stop hangs leaves its node running; a refusing agent answers 503', async () => {
    const r = net.replicas[0];
    const { pid, lastBlock } = await net.status(r.name);
    net.faults.set(r.name, { hangStop: true });
    await expect(post(r.name, 'stop', 2000)).rejects.toThrow(/no answer from the agent/);
    await waitUntil('the replica goes on writing', async () => ((await net.status(r.name)).lastBlock ?? -1) > lastBlock! + 20);
    expect(await net.status(r.name)).toMatchObject({ running: true, pid });

    net.faults.set(r.name, { refuse: true });
    expect((await net.agent(r.name, 'GET', '/api/node/status')).status).toBe(503);
    expect((await post(r.name, 'stop')).status).toBe(503);
    net.faults.set(r.name, null);
    expect(await net.status(r.name)).toMatchObject({ running: true, pid });
  });

  it('a replica started with a start delay is in state transfer, and not wedged until it catches up', async () => {
    const lagging = net.replicas[1];
    expect(await post(lagging.name, 'stop')).toEqual({ status: 200, body: { status: 'stopped' } });
    const stoppedAt = (await net.status(lagging.name)).lastBlock!;
    net.faults.set(lagging.name, { startDelayMs: 5000 });
    await new Promise((r) => setTimeout(r, 500));
    expect(await post(lagging.name, 'start')).toEqual({ status: 200, body: { status: 'running' } });
    await waitUntil('the lagging replica reports state transfer', async () => (await net.status(lagging.name)).stateTransfer);

    await wedgeStop();
    const point = wedgeAt(lagging)!;
    expect(await net.status(lagging.name)).toMatchObject({ running: true, stateTransfer: true, lastBlock: stoppedAt });
    expect((await wedgeStatus())[lagging.address]).toBe(false);
    const others = net.replicas.filter((r) => r !== lagging);
    await waitUntil('the others are wedged', async () => {
      const s = await wedgeStatus();
      return others.every((r) => s[r.address]);
    });
    // While it transfers state it is behind, so concop reports it false.
    const during = await wedgeStatus();
    if ((await net.status(lagging.name)).stateTransfer) expect(during[lagging.address]).toBe(false);

    await waitUntil('all wedged, the lagging one included', allWedged);
    expect(await net.status(lagging.name)).toMatchObject({ running: true, lastBlock: point, wedged: true, stateTransfer: false });
    net.faults.set(lagging.name, null);
    await unwedge();
  });
});
