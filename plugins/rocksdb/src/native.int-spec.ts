// The plugin's native programs against real RocksDB data: the RocksDB 5.13.4 fixture, and live
// databases that replica-standin writes (it stands in for a Concord replica, which cannot run
// here). Uses the binaries in dist/native: run `bash plugins/rocksdb/native/build.sh` first.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { DatabaseFacts } from './tool';

const NATIVE = join(__dirname, '..', 'dist', 'native');
const TOOL = join(NATIVE, 'chainvault-rocksdb');
const STANDIN = join(NATIVE, 'replica-standin');
const FIXTURE = join(__dirname, '..', '..', '..', '..', 'shared', 'fixtures', 'rocksdb', 'pebble-rocksdb-5.13.4', 'db-stage-4');

/** What the tool prints, as the plugin reads it. */
type Facts = DatabaseFacts;

interface BlockScan {
  first: number | null;
  last: number | null;
  count: number;
  contiguous: boolean;
  firstGap: number | null;
  badValues: number;
}

interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface ReplicaEvent {
  event: string;
  id?: number;
  lastBlock?: number;
  nextBlock?: number;
  reason?: string;
}

function run(command: string, args: string[]): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const tool = (...args: string[]) => run(TOOL, args);

/** Runs the tool as `nobody` when we are root, so the kernel refuses any write into a read-only directory. */
const toolWithoutPrivileges = (...args: string[]) =>
  process.getuid?.() === 0 ? run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', TOOL, ...args]) : tool(...args);

/** The one JSON line of a successful run. */
function answer<T>(result: ToolResult): T {
  if (result.code !== 0) throw new Error(`chainvault-rocksdb exited ${result.code}: ${result.stderr}`);
  expect(result.stdout).toMatch(/^[^\n]+\n$/);
  return JSON.parse(result.stdout) as T;
}

function valueOf(result: ToolResult): string | null {
  const { value } = answer<{ value: string | null }>(result);
  return value === null ? null : Buffer.from(value, 'base64').toString('utf8');
}

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Names, sizes, modes, mtimes and content hashes of a directory's entries, and the directory's own mtime. */
function snapshot(dir: string): string {
  const entries = readdirSync(dir)
    .sort()
    .map((name) => {
      const s = statSync(join(dir, name));
      const hash = s.isFile() ? createHash('sha256').update(readFileSync(join(dir, name))).digest('hex') : '-';
      return `${name} ${s.size} ${s.mode} ${s.mtimeMs} ${hash}`;
    });
  return [`. ${statSync(dir).mtimeMs}`, ...entries].join('\n');
}

const sstFiles = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.sst'));

/** A running replica-standin: its stdout events and its status file. */
class Replica {
  readonly events: ReplicaEvent[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly child: ChildProcess,
    readonly db: string,
    readonly pidFile: string,
    readonly statusFile: string,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => this.events.push(JSON.parse(line) as ReplicaEvent));
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  static async start(work: string, name: string, args: string[]): Promise<Replica> {
    const db = join(work, name);
    const pidFile = join(work, `${name}.pid`);
    const statusFile = join(work, `${name}.status`);
    const child = spawn(STANDIN, ['--db', db, '--pid-file', pidFile, '--status-file', statusFile, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const replica = new Replica(child, db, pidFile, statusFile);
    running.push(replica);
    await until('replica-standin to start', () => replica.eventsOf('started').length > 0 || child.exitCode !== null, 15_000);
    if (child.exitCode !== null) throw new Error(`replica-standin exited ${child.exitCode}: ${replica.stderr}`);
    return replica;
  }

  eventsOf(event: string): ReplicaEvent[] {
    return this.events.filter((e) => e.event === event);
  }

  /** The last block the replica reported in its status file (null before the first block). */
  lastBlock(): number | null {
    try {
      return (JSON.parse(readFileSync(this.statusFile, 'utf8')) as { lastBlock: number | null }).lastBlock;
    } catch {
      return null;
    }
  }

  async waitForBlock(block: number, timeoutMs = 30_000): Promise<void> {
    await until(`block ${block} (replica stderr: ${this.stderr})`, () => (this.lastBlock() ?? -1) >= block, timeoutMs);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM') {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }
}

const running: Replica[] = [];
let work: string;

beforeAll(() => {
  for (const binary of [TOOL, STANDIN]) {
    if (!existsSync(binary)) throw new Error(`${binary} is missing: run bash plugins/rocksdb/native/build.sh first`);
  }
});
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'chainvault-rocksdb-'));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop('SIGKILL')));
  await rm(work, { recursive: true, force: true });
});

describe('a real RocksDB 5.13.4 database (read-only fixture)', () => {
  it('is read with its WAL replayed, and nothing is written into its directory', async () => {
    const before = snapshot(FIXTURE);

    const facts = answer<Facts>(await toolWithoutPrivileges('inspect', FIXTURE));
    expect(facts).toEqual({
      rocksdbVersion: '7.8.3',
      sequence: 8,
      lastBlock: null,
      lastKey: 'quux',
      columnFamilies: ['default'],
      liveFiles: [{ name: '000004.sst', size: 986, columnFamily: 'default', level: 0 }],
      manifest: 'MANIFEST-000005',
      keys: expect.any(Number),
    });
    // The SST holds foo=four and baz=three; only the WAL (seq 6-8) makes them five, six and deleted.
    expect(valueOf(await toolWithoutPrivileges('get', FIXTURE, 'foo'))).toBe('five');
    expect(valueOf(await toolWithoutPrivileges('get', FIXTURE, 'quux'))).toBe('six');
    expect(valueOf(await toolWithoutPrivileges('get', FIXTURE, 'baz'))).toBeNull();
    expect(answer<Facts>(await toolWithoutPrivileges('verify', FIXTURE)).checkedFiles).toBe(1);
    // Run as root too: the kernel would not stop root from writing a LOG or LOCK here.
    expect(answer<Facts>(await tool('inspect', FIXTURE)).sequence).toBe(8);

    expect(snapshot(FIXTURE)).toBe(before);
  });

  it('answers bad usage with 64 and a missing directory with 2 naming it', async () => {
    expect((await tool('inspect')).code).toBe(64);
    expect((await tool('inspect', FIXTURE, '--no-such-flag', 'x')).code).toBe(64);
    const missing = await tool('inspect', join(work, 'nowhere'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(join(work, 'nowhere'));
    const family = await tool('get', FIXTURE, 'foo', '--column-family', 'blocks');
    expect(family.code).toBe(2);
    expect(family.stderr).toContain("no column family 'blocks'");
  });
});

describe('a live replica (replica-standin holding the database open)', () => {
  it('refuses a checkpoint while the replica holds the database, and is inspected read-only while it writes', async () => {
    const replica = await Replica.start(work, 'db', ['--blocks-per-second', '0', '--stop-after-blocks', '100000']);
    await replica.waitForBlock(3000);

    const refused = await tool('checkpoint', replica.db, join(work, 'copy'));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(replica.db);
    expect(refused.stderr).toContain('another process holds it open');
    expect(existsSync(join(work, 'copy'))).toBe(false);

    const facts = answer<Facts>(await tool('inspect', replica.db, '--block-prefix', 'block/'));
    expect(facts.lastBlock).toBeGreaterThanOrEqual(3000);
    expect(facts.lastKey).toBe(`block/${String(facts.lastBlock).padStart(12, '0')}`);
    // One batch per block (the block and meta/lastBlockId): the view is one consistent moment.
    expect(facts.sequence).toBe(2 * (facts.lastBlock! + 1));
    expect(facts.liveFiles.length).toBeGreaterThan(0);
    expect(facts.columnFamilies).toEqual(['default']);

    const stopped = await replica.stop();
    expect(stopped).toEqual({ code: 0, signal: null });
    const last = replica.eventsOf('stopped')[0].lastBlock!;
    // The replica went on writing after the read-only look.
    expect(last).toBeGreaterThan(facts.lastBlock!);
    const made = answer<Facts>(await tool('checkpoint', replica.db, join(work, 'copy'), '--block-prefix', 'block/'));
    expect(made.lastBlock).toBe(last);
  }, 120_000);
});

describe('Concord-like checkpoints of the replica stand-in', () => {
  it('are named after the last block id, only the newest K are kept, and each holds blocks 0..id intact', async () => {
    const checkpoints = join(work, 'checkpoints');
    const replica = await Replica.start(work, 'db', [
      ...['--blocks-per-second', '4000', '--stop-after-blocks', '40000'],
      ...['--checkpoint-path', checkpoints, '--checkpoint-interval-seconds', '0.2', '--checkpoint-window', '300', '--checkpoints-to-keep', '2'],
    ]);
    await until(`four checkpoints (stderr: ${replica.stderr})`, () => replica.eventsOf('checkpoint').length >= 4, 60_000);
    // A checkpoint and its pruning finish before the replica looks at the signal: the folder is settled once it has stopped.
    expect((await replica.stop()).code).toBe(0);

    const made = replica.eventsOf('checkpoint').map((e) => e.id!);
    const kept = readdirSync(checkpoints).sort((a, b) => Number(a) - Number(b));
    expect(kept).toEqual(made.slice(-2).map(String));
    expect(replica.eventsOf('checkpoint-removed').map((e) => e.id)).toEqual(made.slice(0, -2));
    for (let i = 1; i < made.length; i++) expect(made[i] - made[i - 1]).toBeGreaterThanOrEqual(300);

    // The live database compacted away files after these were made: their hard links keep them whole.
    for (const id of kept.map(Number)) {
      const scan = answer<BlockScan>(await tool('scan-blocks', join(checkpoints, String(id)), '--block-prefix', 'block/'));
      expect(scan).toEqual({ first: 0, last: id, count: id + 1, contiguous: true, firstGap: null, badValues: 0, otherKeys: 0 });
    }
  }, 120_000);

  it('skips a checkpoint when the free space is below the threshold times the database size', async () => {
    const checkpoints = join(work, 'checkpoints');
    const replica = await Replica.start(work, 'db', [
      ...['--blocks-per-second', '2000', '--checkpoint-path', checkpoints, '--checkpoint-interval-seconds', '0.1'],
      ...['--checkpoint-window', '10', '--diskspace-threshold', '1000000000'],
    ]);
    await until('a skipped checkpoint', () => replica.eventsOf('checkpoint-skipped').length > 0);
    expect(replica.eventsOf('checkpoint-skipped')[0].reason).toMatch(/^free space \d+ bytes .* below 1e\+09 x database size \d+ bytes$/);
    expect(replica.eventsOf('checkpoint')).toEqual([]);
    expect(readdirSync(checkpoints)).toEqual([]);
  }, 60_000);
});

describe('verify', () => {
  /** A checkpoint of 5001 blocks (0..5000), made by the tool after the replica stopped. */
  async function checkpointOf5000(): Promise<string> {
    const replica = await Replica.start(work, 'db', ['--blocks-per-second', '0', '--stop-after-blocks', '5000']);
    await until('block 5000', () => replica.eventsOf('writing-stopped').length > 0);
    expect((await replica.stop()).code).toBe(0);
    const checkpoint = join(work, 'checkpoint');
    expect(answer<Facts>(await tool('checkpoint', replica.db, checkpoint, '--block-prefix', 'block/')).lastBlock).toBe(5000);
    return checkpoint;
  }

  /** A real copy (cpSync copies bytes; the checkpoint's SSTs are hard links into the live database). */
  function copyOf(checkpoint: string, name: string): string {
    const copy = join(work, name);
    cpSync(checkpoint, copy, { recursive: true });
    return copy;
  }

  it('passes on a checkpoint and names the file with a flipped byte, a missing SST and an extra SST', async () => {
    const checkpoint = await checkpointOf5000();
    const facts = answer<Facts>(await tool('verify', checkpoint, '--block-prefix', 'block/', '--expect-block', '5000'));
    expect(facts.lastBlock).toBe(5000);
    expect(facts.checkedFiles).toBe(facts.liveFiles.length);
    expect(facts.liveFiles.map((f) => f.name).sort()).toEqual(sstFiles(checkpoint).sort());
    expect(facts.liveFiles.length).toBeGreaterThan(1);

    const wrongBlock = await tool('verify', checkpoint, '--block-prefix', 'block/', '--expect-block', '4999');
    expect(wrongBlock.code).toBe(3);
    expect(wrongBlock.stderr).toContain('the database holds block 5000, not 4999');

    const largest = [...facts.liveFiles].sort((a, b) => b.size - a.size)[0].name;
    const flipped = copyOf(checkpoint, 'flipped');
    const bytes = readFileSync(join(flipped, largest));
    bytes[bytes.length >> 1] ^= 0x01;
    writeFileSync(join(flipped, largest), bytes);
    const corrupt = await tool('verify', flipped);
    expect(corrupt.code).toBe(2);
    expect(corrupt.stderr).toContain(join(flipped, largest));
    expect(corrupt.stderr).toMatch(/checksum/);
    expect(corrupt.stderr.trim().split('\n')).toHaveLength(1);
    expect(answer<Facts>(await tool('verify', checkpoint)).checkedFiles).toBe(facts.liveFiles.length);

    const victim = facts.liveFiles[0].name;
    const missing = copyOf(checkpoint, 'missing');
    await rm(join(missing, victim));
    const lost = await tool('verify', missing);
    expect(lost.code).toBe(2);
    expect(lost.stderr).toContain(`${victim} is listed in the MANIFEST but missing from the folder`);

    const extra = copyOf(checkpoint, 'extra');
    cpSync(join(extra, victim), join(extra, '999999.sst'));
    const stray = await tool('verify', extra);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain('999999.sst is in the folder but not in the MANIFEST');
  }, 120_000);

  it('accepts a WAL with a torn last record but names a WAL damaged in the middle, which inspect silently cuts short', async () => {
    // A large memtable keeps all 500 blocks in the WAL only.
    const replica = await Replica.start(work, 'db', ['--blocks-per-second', '0', '--stop-after-blocks', '500', '--write-buffer-size', String(64 << 20)]);
    await until('block 500', () => replica.eventsOf('writing-stopped').length > 0);
    expect((await replica.stop()).code).toBe(0);
    const wal = readdirSync(replica.db).find((n) => n.endsWith('.log'))!;
    expect(sstFiles(replica.db)).toEqual([]);

    const torn = copyOf(replica.db, 'torn');
    const whole = readFileSync(join(torn, wal));
    writeFileSync(join(torn, wal), whole.subarray(0, whole.length - 700));
    expect(answer<Facts>(await tool('verify', torn, '--block-prefix', 'block/')).lastBlock).toBe(499);

    const damaged = copyOf(replica.db, 'damaged');
    const bytes = Buffer.from(whole);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(join(damaged, wal), bytes);
    const inspected = answer<Facts>(await tool('inspect', damaged, '--block-prefix', 'block/'));
    expect(inspected.lastBlock).toBeGreaterThan(0);
    expect(inspected.lastBlock).toBeLessThan(500);
    const verified = await tool('verify', damaged);
    expect(verified.code).toBe(2);
    expect(verified.stderr).toContain(`write-ahead log of ${damaged} is damaged`);
    expect(verified.stderr).toContain(wal);
  }, 60_000);
});

describe('stopping and restarting the replica stand-in', () => {
  it('ends cleanly on SIGTERM and continues from the next block on restart', async () => {
    const first = await Replica.start(work, 'db', ['--blocks-per-second', '2000']);
    expect(readFileSync(first.pidFile, 'utf8').trim()).toBe(String(first.child.pid));
    await first.waitForBlock(500);
    expect(await first.stop()).toEqual({ code: 0, signal: null });
    expect(existsSync(first.pidFile)).toBe(false);
    const stoppedAt = first.eventsOf('stopped')[0].lastBlock!;
    expect(first.lastBlock()).toBe(stoppedAt);

    const second = await Replica.start(work, 'db', ['--blocks-per-second', '2000']);
    expect(second.eventsOf('started')[0].nextBlock).toBe(stoppedAt + 1);
    await second.waitForBlock(stoppedAt + 300);
    expect((await second.stop('SIGINT')).code).toBe(0);
    const end = second.eventsOf('stopped')[0].lastBlock!;

    const scan = answer<BlockScan>(await tool('scan-blocks', second.db, '--block-prefix', 'block/'));
    expect(scan).toEqual({ first: 0, last: end, count: end + 1, contiguous: true, firstGap: null, badValues: 0, otherKeys: 0 });
    expect(valueOf(await tool('get', second.db, 'meta/lastBlockId'))).toBe(String(end));
  }, 60_000);
});
