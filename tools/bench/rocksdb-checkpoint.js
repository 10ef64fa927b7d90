#!/usr/bin/env node
// RocksDB checkpoint benchmark (plugins/rocksdb). Generates a real RocksDB database with the
// plugin's replica stand-in and keeps the stand-in running, holding the database open but not
// writing, so every backup is of a live database. Then, in one run and on the same data, times
// wall-clock: chainvault's checkpoint backup through a real server (GraphQL: registerNode,
// createPolicy, runBackup, the job polled to its end), `cp -r` of the database folder as the
// machine's floor, and restic into a fresh repository; then lets the stand-in write 5% more
// blocks and times a second (incremental) chainvault backup against a second restic backup.
// Prints every figure and the ratios chainvault / cp and chainvault / restic. Measures only.
//
//   npm run build && node tools/bench/rocksdb-checkpoint.js [--size-gib 2] [--value-size 4096]
//     [--sst-mib 64] [--grow-percent 5] [--work DIR] [--encrypted] [--keep]
//
// --sst-mib sets the stand-in's memtable and target SST file size (64 MiB: RocksDB's defaults,
// the shape of a real node's database; the stand-in's own default, 1-2 MiB, is for tests that
// want compactions under them). --encrypted gives chainvault's destination a passphrase, as
// restic's repository always has one.
const { execFileSync, spawn, spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } = require('node:fs');
const { cpus, totalmem, tmpdir } = require('node:os');
const { join, resolve } = require('node:path');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const sizeGib = Number(option('size-gib', '2'));
const valueSize = Number(option('value-size', '4096'));
const sstMib = Number(option('sst-mib', '64'));
const growPercent = Number(option('grow-percent', '5'));
const encrypted = args.includes('--encrypted');
const keep = args.includes('--keep');
for (const [name, value] of [['size-gib', sizeGib], ['value-size', valueSize], ['sst-mib', sstMib], ['grow-percent', growPercent]]) {
  if (!(value > 0)) {
    console.error(`--${name} must be a positive number`);
    process.exit(2);
  }
}

const repoRoot = join(__dirname, '..', '..');
const { MAIN, startChainvault } = require('./chainvault-server');
const NATIVE = join(repoRoot, 'plugins', 'rocksdb', 'dist', 'native');
const REPLICA = join(NATIVE, 'replica-standin');
const TOOL = join(NATIVE, 'chainvault-rocksdb');
for (const file of [MAIN, join(repoRoot, 'plugins', 'rocksdb', 'dist', 'index.js'), REPLICA, TOOL]) {
  if (!existsSync(file)) {
    console.error(`missing ${file}: build first (npm run build)`);
    process.exit(2);
  }
}
const resticVersion = spawnSync('restic', ['version'], { encoding: 'utf8' });
if (resticVersion.status !== 0) {
  console.error('restic is not installed: apt-get install -y restic');
  process.exit(2);
}

const workOption = option('work', null);
const root = workOption ? resolve(workOption, `chainvault-rocksdb-bench-${process.pid}`) : mkdtempSync(join(tmpdir(), 'chainvault-rocksdb-bench-'));
const paths = {
  replica: join(root, 'replica'),
  db: join(root, 'replica', 'db'),
  checkpoints: join(root, 'replica', 'checkpoints'),
  pidFile: join(root, 'replica', 'replica.pid'),
  statusFile: join(root, 'replica', 'status.json'),
  serverData: join(root, 'server'),
  cvRepo: join(root, 'repo-chainvault'),
  resticRepo: join(root, 'repo-restic'),
  resticCache: join(root, 'restic-cache'),
  cpCopy: join(root, 'cp-copy'),
};
const resticEnv = { RESTIC_REPOSITORY: paths.resticRepo, RESTIC_PASSWORD: 'benchmark passphrase', RESTIC_CACHE_DIR: paths.resticCache };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** A timer that does not keep the process alive once everything else is done. */
const deadlineOf = (ms) => new Promise((r) => setTimeout(() => r('timeout'), ms).unref());
const now = () => Number(process.hrtime.bigint()) / 1e9;
const run = (command, commandArgs, env = {}) => {
  const result = spawnSync(command, commandArgs, { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 256 * MiB });
  if (result.status !== 0) throw new Error(`${command} ${commandArgs.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr}`);
  return result.stdout;
};
const duBytes = (dir) => Number(run('du', ['-sb', dir]).split('\t')[0]);
/** Bytes of the database's own files (the top level: LOG, WAL, MANIFEST, SSTs). */
const dbBytes = () => readdirSync(paths.db).reduce((sum, name) => {
  const s = statSync(join(paths.db, name));
  return s.isFile() ? sum + s.size : sum;
}, 0);

/**
 * Times one step as bench.js does: `sync` first, so no step pays for the dirty pages of the one
 * before; then the step, wall-clock. The `sync` after it is timed apart ("flush"): what the step
 * left for the kernel to write, which cp leaves more of than a tool that fsyncs.
 */
async function timed(work) {
  execFileSync('sync');
  const start = now();
  const value = await work();
  const seconds = now() - start;
  const flushStart = now();
  execFileSync('sync');
  return { seconds, flush: now() - flushStart, value };
}

// ---- the replica stand-in ---------------------------------------------------------------

let replicaChild = null;

/** Starts the stand-in; resolves once it has written up to block `stopAfter` and stopped writing. */
function startReplica(stopAfter) {
  const child = spawn(
    REPLICA,
    [
      '--db', paths.db, '--pid-file', paths.pidFile, '--status-file', paths.statusFile,
      '--blocks-per-second', '0', '--stop-after-blocks', String(stopAfter), '--value-size', String(valueSize),
      '--write-buffer-size', String(sstMib * MiB), '--target-file-size', String(sstMib * MiB),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  replicaChild = child;
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolvePromise, reject) => {
    let buffered = '';
    const started = now();
    const progress = setInterval(() => {
      try {
        const { lastBlock } = JSON.parse(readFileSync(paths.statusFile, 'utf8'));
        console.log(`  … block ${lastBlock} of ${stopAfter} (${(now() - started).toFixed(0)} s)`);
      } catch {
        /* not written yet */
      }
    }, 30_000);
    child.stdout.on('data', (d) => {
      buffered += d;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let event;
        try {
          event = JSON.parse(line);
        } catch {
          continue;
        }
        if (event.event === 'writing-stopped') {
          clearInterval(progress);
          resolvePromise({ lastBlock: event.lastBlock, seconds: now() - started });
        }
      }
    });
    child.on('exit', (code, signal) => {
      clearInterval(progress);
      if (replicaChild === child) replicaChild = null;
      reject(new Error(`replica-standin exited (${signal ?? code}) before it stopped writing: ${stderr}`));
    });
  });
}

/** SIGTERM: the stand-in closes the database cleanly and removes its pid file. */
async function stopReplica() {
  const child = replicaChild;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  if ((await Promise.race([exited, deadlineOf(60_000)])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
  replicaChild = null;
}

/**
 * Waits until RocksDB's background flushes and compactions are done: the database folder's files
 * (names and sizes) unchanged for `quietMs`. The replica stops writing blocks, but compaction of
 * what it wrote goes on for a while; the backups should all see the same, settled files.
 */
async function waitForQuiet(quietMs = 5000, limitMs = 15 * 60_000) {
  const listing = () => readdirSync(paths.db).filter((n) => n !== 'LOG').map((n) => `${n}:${statSync(join(paths.db, n)).size}`).sort().join(',');
  const deadline = Date.now() + limitMs;
  let last = listing();
  let since = Date.now();
  const started = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > deadline) throw new Error(`the database was still changing after ${limitMs / 1000} s`);
    await sleep(500);
    const current = listing();
    if (current !== last) {
      last = current;
      since = Date.now();
    }
  }
  return (Date.now() - started - quietMs) / 1000;
}

const inspect = () => JSON.parse(run(TOOL, ['inspect', paths.db, '--block-prefix', 'block/']));
const sstCount = () => readdirSync(paths.db).filter((n) => n.endsWith('.sst')).length;

// ---- the chainvault server --------------------------------------------------------------

let server = null;

async function startServer() {
  server = await startChainvault({ dataDir: paths.serverData, restoreRoots: root });
}

async function stopServer() {
  await server?.stop();
}

const graphql = (query, variables = {}) => server.graphql(query, variables);

async function setUpChainvault() {
  const destination = (await graphql(`mutation ($input: CreateDestinationInput!) { createDestination(input: $input) { id } }`, {
    input: { name: 'bench-local', kind: 'LOCAL', config: { path: paths.cvRepo, ...(encrypted ? { passphrase: 'benchmark passphrase' } : {}) } },
  })).createDestination;
  const network = (await graphql(`mutation ($input: CreateNetworkInput!) { createNetwork(input: $input) { id } }`, { input: { name: 'bench-rocksdb', protocol: 'rocksdb' } })).createNetwork;
  const node = (await graphql(`mutation ($input: RegisterNodeInput!) { registerNode(input: $input) { id } }`, {
    input: { networkId: network.id, name: 'replica-0', plugin: 'rocksdb', role: 'replica', config: { dataDirectory: paths.db, checkpointPath: paths.checkpoints, blockKeyPrefix: 'block/' } },
  })).registerNode;
  const policy = (await graphql(`mutation ($input: CreatePolicyInput!) { createPolicy(input: $input) { id } }`, {
    input: {
      name: 'bench-checkpoint',
      nodeId: node.id,
      method: 'checkpoint',
      options: { source: 'chainvault', db_checkpoint_duration: 0, dbcheckpoint_window: 0, num_of_rocksdbcheckpoints: 1 },
      destinationIds: [destination.id],
    },
  })).createPolicy;
  return policy.id;
}

/** runBackup, then the job polled (every 50 ms) to its end: the wall clock an operator waits. */
async function chainvaultBackup(policyId) {
  const { runBackup } = await graphql(`mutation ($policyId: ID!) { runBackup(policyId: $policyId) { id } }`, { policyId });
  for (;;) {
    const { job } = await graphql(`query ($id: ID!) { job(id: $id) { status } }`, { id: runBackup.id });
    if (!['QUEUED', 'RUNNING', 'CANCELLING'].includes(job.status)) break;
    await sleep(50);
  }
  const { job } = await graphql(`query ($id: ID!) { job(id: $id) { id status error result backupId startedAt finishedAt log { level message } } }`, { id: runBackup.id });
  if (job.status !== 'COMPLETED') throw new Error(`chainvault backup job ${job.id} ended ${job.status}: ${job.error}\n${job.log.map((l) => `  ${l.level} ${l.message}`).join('\n')}`);
  return job;
}

async function backupFacts(backupId) {
  return (await graphql(`query ($id: ID!) { backup(id: $id) { id fileCount filesUnchanged bytesRead logicalSize storedSize metadata } }`, { id: backupId })).backup;
}

// ---- restic and cp ----------------------------------------------------------------------

function resticBackup() {
  const out = run('restic', ['backup', '--json', paths.db], resticEnv);
  const summary = out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
    .find((m) => m.message_type === 'summary');
  if (!summary) throw new Error(`restic printed no summary:\n${out.slice(-2000)}`);
  return summary;
}

function cpCopy() {
  rmSync(paths.cpCopy, { recursive: true, force: true });
  run('cp', ['-r', paths.db, paths.cpCopy]);
}

// ---- the run ----------------------------------------------------------------------------

async function cleanUp() {
  await stopReplica().catch((e) => console.error(`stopping the replica: ${e.message}`));
  await stopServer().catch((e) => console.error(`stopping the server: ${e.message}`));
  if (!keep) rmSync(root, { recursive: true, force: true });
  else console.log(`kept ${root}`);
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${signal}: cleaning up`);
    cleanUp().finally(() => process.exit(130));
  });
}

const MB = 1e6;
const fmtS = (s) => `${s.toFixed(2)} s`;
const fmtMBps = (bytes, s) => `${(bytes / MB / s).toFixed(1)}`;
const fmtBytes = (b) => (b === null || b === undefined ? '-' : b >= GiB ? `${(b / GiB).toFixed(2)} GiB` : `${(b / MiB).toFixed(1)} MiB`);

async function main() {
  mkdirSync(paths.replica, { recursive: true });
  mkdirSync(paths.checkpoints, { recursive: true });
  const blocks = Math.max(1, Math.floor((sizeGib * GiB) / valueSize));
  const firstLast = blocks - 1;
  const secondLast = firstLast + Math.ceil((blocks * growPercent) / 100);
  console.log(`chainvault RocksDB checkpoint benchmark: ${sizeGib} GiB target, ${cpus().length} cores, ${(totalmem() / GiB).toFixed(0)} GiB RAM, Node ${process.version}, ${resticVersion.stdout.trim()}`);
  console.log(`work folder ${root}; chainvault destination ${encrypted ? 'encrypted (passphrase)' : 'plain (restic always encrypts)'}`);
  console.log(`generating ${blocks} blocks of ${valueSize} bytes with replica-standin (memtable and target SST ${sstMib} MiB)…`);

  const generated = await startReplica(firstLast);
  const settle1 = await waitForQuiet();
  const facts1 = inspect();
  const size1 = dbBytes();
  console.log(`database: ${fmtBytes(size1)} in ${sstCount()} SST files, last block ${facts1.lastBlock}, written in ${generated.seconds.toFixed(0)} s, compactions settled ${settle1.toFixed(0)} s later; the replica keeps it open, not writing`);
  console.log('page cache: warm for every peer (the database was just written and fits in RAM); order chainvault, cp -r, restic; each step after `sync`, its own flush timed apart\n');

  await startServer();
  const policyId = await setUpChainvault();
  run('restic', ['init'], resticEnv);

  // Full: chainvault first, then cp -r and restic on the same, warm data.
  const cvFull = await timed(() => chainvaultBackup(policyId));
  const cvFullBackup = await backupFacts(cvFull.value.backupId);
  const cvRepoAfterFull = duBytes(paths.cvRepo);
  const cpFull = await timed(() => cpCopy());
  rmSync(paths.cpCopy, { recursive: true, force: true });
  const rsFull = await timed(() => resticBackup());
  const rsRepoAfterFull = duBytes(paths.resticRepo);
  if (cvFullBackup.metadata.lastBlockId !== firstLast) console.log(`ODD: chainvault's checkpoint holds block ${cvFullBackup.metadata.lastBlockId}, the database ${firstLast}`);

  // Incremental: the replica writes growPercent more blocks, then holds the database again.
  console.log(`letting the replica write ${secondLast - firstLast} more blocks (${growPercent}%)…`);
  await stopReplica();
  const grown = await startReplica(secondLast);
  const settle2 = await waitForQuiet();
  const facts2 = inspect();
  const size2 = dbBytes();
  console.log(`database: ${fmtBytes(size2)} in ${sstCount()} SST files, last block ${facts2.lastBlock} (written in ${grown.seconds.toFixed(0)} s, settled ${settle2.toFixed(0)} s later)\n`);

  const cvIncr = await timed(() => chainvaultBackup(policyId));
  const cvIncrBackup = await backupFacts(cvIncr.value.backupId);
  const cvRepoAfterIncr = duBytes(paths.cvRepo);
  const cpIncr = await timed(() => cpCopy());
  rmSync(paths.cpCopy, { recursive: true, force: true });
  const rsIncr = await timed(() => resticBackup());
  const rsRepoAfterIncr = duBytes(paths.resticRepo);
  if (cvIncrBackup.metadata.lastBlockId !== secondLast) console.log(`ODD: chainvault's checkpoint holds block ${cvIncrBackup.metadata.lastBlockId}, the database ${secondLast}`);

  const rows = [
    ['chainvault full', cvFull, size1, cvFull.value.result.storedBytes, cvRepoAfterFull, cvFull.value.result.bytesRead],
    ['cp -r', cpFull, size1, size1, null, size1],
    ['restic full', rsFull, size1, rsFull.value.data_added, rsRepoAfterFull, rsFull.value.total_bytes_processed],
    ['chainvault incremental', cvIncr, size2, cvIncr.value.result.storedBytes, cvRepoAfterIncr - cvRepoAfterFull, cvIncr.value.result.bytesRead],
    ['cp -r (whole DB again)', cpIncr, size2, size2, null, size2],
    ['restic incremental', rsIncr, size2, rsIncr.value.data_added, rsRepoAfterIncr - rsRepoAfterFull, rsIncr.value.total_bytes_processed],
  ];
  const pad = (t, w) => String(t).padStart(w);
  console.log(`${'step'.padEnd(24)}${pad('wall', 10)}${pad('+flush', 9)}${pad('MB/s', 8)}${pad('stored (tool)', 15)}${pad('repo growth', 13)}${pad('bytes read', 13)}`);
  for (const [name, t, size, stored, growth, read] of rows) {
    console.log(`${name.padEnd(24)}${pad(fmtS(t.seconds), 10)}${pad(fmtS(t.flush), 9)}${pad(fmtMBps(size, t.seconds), 8)}${pad(fmtBytes(stored), 15)}${pad(growth === null ? '-' : fmtBytes(growth), 13)}${pad(fmtBytes(read), 13)}`);
  }
  console.log('MB/s = database bytes (1 MB = 10^6) / wall seconds; stored (tool) = chainvault job result storedBytes, restic summary data_added; repo growth = du -sb of the repository');
  const ratio = (a, b) => (a / b).toFixed(2);
  console.log(`\nratios (wall clock): full        chainvault/cp ${ratio(cvFull.seconds, cpFull.seconds)}   chainvault/restic ${ratio(cvFull.seconds, rsFull.seconds)}`);
  console.log(`                     incremental chainvault/cp ${ratio(cvIncr.seconds, cpIncr.seconds)}   chainvault/restic ${ratio(cvIncr.seconds, rsIncr.seconds)}`);
  console.log(`ratios (wall + flush): full chainvault/cp ${ratio(cvFull.seconds + cvFull.flush, cpFull.seconds + cpFull.flush)}, incremental chainvault/cp ${ratio(cvIncr.seconds + cvIncr.flush, cpIncr.seconds + cpIncr.flush)}`);
  const serverSeconds = (job) => (new Date(job.finishedAt) - new Date(job.startedAt)) / 1000;
  console.log(`chainvault jobs, startedAt→finishedAt: full ${fmtS(serverSeconds(cvFull.value))}, incremental ${fmtS(serverSeconds(cvIncr.value))}; backups hold blocks ${cvFullBackup.metadata.lastBlockId} and ${cvIncrBackup.metadata.lastBlockId}, ${cvFullBackup.fileCount} and ${cvIncrBackup.fileCount} files (${cvIncrBackup.filesUnchanged} unchanged)`);
}

main()
  .then(cleanUp)
  .catch(async (error) => {
    console.error(error);
    if (server) console.error(`server output (tail):\n${server.output().slice(-3000)}`);
    await cleanUp();
    process.exit(1);
  });
