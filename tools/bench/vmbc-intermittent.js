#!/usr/bin/env node
// VMware Blockchain intermittent backup benchmark (plugins/vmbc). Times the consistent run (the
// network's "stop to restart": the job metadata's consistentRunSeconds, the job log's
// "consistent run: N s") of a network of 4 replicas and 2 clients made of the e2e tests'
// stand-ins (apps/server-e2e/test-support/vmbc: node agents, concop, db editor, replicas on a real
// RocksDB), each machine on its own real sshd, backed up by a real chainvault server process:
//
//   (a)  right after a `sync` of every replica (the hourly job), so the final rsync moves only
//        what changed since: the first intermittent run of its policy;
//   (b)  with no sync before: a second registration of the same machines under other node names
//        (fresh mirrors) and a fresh destination, so the final rsync moves everything;
//   (a') then, unless --no-steady: another sync round and a second run of (a)'s policy, which
//        has a previous backup to compare files with (what every run after the first one sees).
//
// The replicas' databases are generated first, with the same replica-standin binary and the
// same RocksDB options the network uses, at full speed and up to the same block on every
// replica, in the folders the network helper uses; the network then starts on them and its
// replicas write --rate blocks per second for the whole benchmark (the delta a sync leaves).
// Prints every figure and the ratio (b) / (a). Measures only.
//
//   npm run build && node tools/bench/vmbc-intermittent.js [--replica-mib 500] [--value-size 4096]
//     [--rate 200] [--wedge-poll-seconds 5] [--no-steady] [--work DIR] [--keep]
'use strict';

const { execFileSync, spawn, spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } = require('node:fs');
const Module = require('node:module');
const { cpus, loadavg, totalmem, tmpdir } = require('node:os');
const { dirname, join, resolve } = require('node:path');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const MiB = 1024 * 1024;
const replicaMib = Number(option('replica-mib', '500'));
const valueSize = Number(option('value-size', '4096'));
const rate = Number(option('rate', '200'));
const wedgePollSeconds = Number(option('wedge-poll-seconds', '5'));
const steady = !args.includes('--no-steady');
const keep = args.includes('--keep');
for (const [name, value] of [['replica-mib', replicaMib], ['value-size', valueSize], ['rate', rate], ['wedge-poll-seconds', wedgePollSeconds]]) {
  if (!(value > 0)) {
    console.error(`--${name} must be a positive number`);
    process.exit(2);
  }
}
const REPLICAS = 4;
const CLIENTS = 2;

const repoRoot = join(__dirname, '..', '..');
const { MAIN, startChainvault } = require('./chainvault-server');
const REPLICA_STANDIN = join(repoRoot, 'plugins', 'rocksdb', 'dist', 'native', 'replica-standin');
const TESTING = join(repoRoot, 'libs', 'testing', 'dist', 'index.js');
const NETWORK_TS = join(repoRoot, 'apps', 'server-e2e', 'test-support', 'vmbc', 'network.ts');
for (const file of [MAIN, join(repoRoot, 'plugins', 'vmbc', 'dist', 'index.js'), REPLICA_STANDIN, TESTING, NETWORK_TS]) {
  if (!existsSync(file)) {
    console.error(`missing ${file}: build first (npm run build, bash plugins/rocksdb/native/build.sh)`);
    process.exit(2);
  }
}

/** The e2e tests' network helper is TypeScript: transpiled here with the repository's @swc/core and loaded as a CommonJS module. */
function loadTypeScript(file) {
  const { transformFileSync } = require('@swc/core');
  const { code } = transformFileSync(file, { swcrc: false, configFile: false, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } });
  const loaded = new Module(file, module);
  loaded.filename = file;
  loaded.paths = Module._nodeModulePaths(dirname(file));
  loaded._compile(code, file);
  return loaded.exports;
}
const { startVmbcNetwork } = loadTypeScript(NETWORK_TS);
const { startSshd } = require(TESTING);

const workOption = option('work', null);
if (workOption) mkdirSync(resolve(workOption), { recursive: true });
const root = mkdtempSync(join(workOption ? resolve(workOption) : tmpdir(), 'chainvault-vmbc-bench-'));
const paths = {
  net: join(root, 'net'),
  gen: join(root, 'generate'),
  serverData: join(root, 'server'),
  repoSynced: join(root, 'repo-synced'),
  repoFresh: join(root, 'repo-fresh'),
};
const dataDirectoryOf = (i) => join(paths.net, `replica-${i + 1}`, 'mnt', 'data', 'rocksdbdata');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const deadlineOf = (ms) => new Promise((r) => setTimeout(() => r('timeout'), ms).unref());
const now = () => Number(process.hrtime.bigint()) / 1e9;
const duBytes = (dir) => Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
const fmtMiB = (b) => `${(b / MiB).toFixed(1)} MiB`;
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

// ---- the replicas' data, generated before the network starts --------------------------------

const generators = new Set();

/** One replica-standin at full speed up to block `lastBlock`, then, once RocksDB's files stop changing, SIGTERM (a clean close). */
function generate(i, lastBlock) {
  const db = dataDirectoryOf(i);
  mkdirSync(db, { recursive: true });
  mkdirSync(paths.gen, { recursive: true });
  // The same argv as the network helper's, but no limit on the rate and a last block.
  const child = spawn(REPLICA_STANDIN, ['--db', db, '--status-file', join(paths.gen, `replica-${i + 1}.status.json`), '--blocks-per-second', '0', '--stop-after-blocks', String(lastBlock), '--value-size', String(valueSize)], { stdio: ['ignore', 'pipe', 'pipe'] });
  generators.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((r) => child.once('exit', r));
  return new Promise((resolvePromise, reject) => {
    let buffered = '';
    let done = false;
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
        if (event.event === 'writing-stopped' && !done) {
          done = true;
          waitForQuiet(db)
            .then(async () => {
              child.kill('SIGTERM');
              await exited;
              generators.delete(child);
              resolvePromise(event.lastBlock);
            })
            .catch(reject);
        }
      }
    });
    child.on('exit', (code, signal) => {
      if (!done) reject(new Error(`replica-standin for replica-${i + 1} exited (${signal ?? code}) before it reached block ${lastBlock}: ${stderr}`));
    });
  });
}

/** RocksDB flushes and compacts for a while after the last write: waits until the folder's files (names, sizes) are unchanged for `quietMs`. */
async function waitForQuiet(db, quietMs = 3000, limitMs = 10 * 60_000) {
  // A file compacted away between the listing and its stat shows as gone: the folder is still changing.
  const listing = () => readdirSync(db).filter((n) => n !== 'LOG').map((n) => `${n}:${statSync(join(db, n), { throwIfNoEntry: false })?.size ?? 'gone'}`).sort().join(',');
  const deadline = Date.now() + limitMs;
  let last = listing();
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > deadline) throw new Error(`${db} was still changing after ${limitMs / 1000} s`);
    await sleep(250);
    const current = listing();
    if (current !== last) {
      last = current;
      since = Date.now();
    }
  }
}

// ---- the chainvault server ------------------------------------------------------------------

let server = null;

async function startServer() {
  server = await startChainvault({ dataDir: paths.serverData, restoreRoots: root });
}

async function stopServer() {
  await server?.stop();
}

const graphql = (query, variables = {}) => server.graphql(query, variables);

const ALL_WEEK = [{ days: ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'], start: '00:00', end: '00:00' }];

const createDestination = async (name, path) =>
  (await graphql(`mutation ($input: CreateDestinationInput!) { createDestination(input: $input) { id } }`, { input: { name, kind: 'LOCAL', config: { path } } })).createDestination.id;

const sshMachine = (sshd) => ({ kind: 'ssh', host: sshd.host, port: sshd.port, user: sshd.username, privateKey: sshd.privateKey, hostKeyFingerprint: sshd.hostKeySha256 });

/** Registers the stand-in network's machines as a network of nodes named `<name>-replica-N` / `<name>-client-N`, as the e2e test does. */
async function register(name, net, sshds) {
  const { createNetwork } = await graphql(`mutation ($input: CreateNetworkInput!) { createNetwork(input: $input) { id } }`, { input: { name, protocol: 'vmbc' } });
  const node = async (nodeName, role, config) =>
    (await graphql(`mutation ($input: RegisterNodeInput!) { registerNode(input: $input) { id } }`, { input: { networkId: createNetwork.id, name: nodeName, plugin: 'vmbc', role, config } })).registerNode.id;
  const replicaIds = [];
  for (const [i, r] of net.replicas.entries()) {
    replicaIds.push(
      await node(`${name}-${r.name}`, 'replica', {
        machine: sshMachine(sshds[i]),
        agentUrl: r.agentUrl,
        dataDirectory: r.dataDirectory,
        address: r.address,
        blockIdCommand: [...net.dbEditorArgv, '{dataDirectory}', '{query}'],
        commandTimeoutSeconds: 120,
      }),
    );
  }
  for (const [i, c] of net.clients.entries()) {
    await node(`${name}-${c.name}`, 'client', {
      machine: sshMachine(sshds[net.replicas.length + i]),
      agentUrl: c.agentUrl,
      clientFiles: c.files,
      commandTimeoutSeconds: 120,
      ...(i === 0 ? { operatorCommand: [...net.concopArgv, '{args}'] } : {}),
    });
  }
  return { networkId: createNetwork.id, replicaIds };
}

const createPolicy = async (input) => (await graphql(`mutation ($input: CreatePolicyInput!) { createPolicy(input: $input) { id } }`, { input })).createPolicy.id;
const pausePolicy = (id) => graphql(`mutation ($id: ID!) { pausePolicy(id: $id) { id } }`, { id });
const resumePolicy = (id) => graphql(`mutation ($id: ID!) { resumePolicy(id: $id) { id } }`, { id });

/** The intermittent policy of a network: a schedule (required; it never fires here: 1 January 00:00) and a window open all week. */
const intermittentPolicy = (name, networkId, destinationId) =>
  createPolicy({ name, networkId, method: 'intermittent', options: { wedgePollSeconds }, destinationIds: [destinationId], retention: { keepLast: 10 }, schedule: { cron: '0 0 1 1 *', timeZone: 'UTC' }, maintenanceWindows: ALL_WEEK });

const JOB = `query ($id: ID!) { job(id: $id) { id status error result startedAt finishedAt log { at level message } } }`;

/** runBackup, then the job polled to its end. Returns the job, the wall clock from the request to the end seen, and the backup's metadata. */
async function runJob(policyId) {
  const started = now();
  const { runBackup } = await graphql(`mutation ($policyId: ID!) { runBackup(policyId: $policyId) { id } }`, { policyId });
  for (;;) {
    const { job } = await graphql(`query ($id: ID!) { job(id: $id) { status } }`, { id: runBackup.id });
    if (!['QUEUED', 'RUNNING', 'CANCELLING'].includes(job.status)) break;
    await sleep(200);
  }
  const wall = now() - started;
  const { job } = await graphql(JOB, { id: runBackup.id });
  if (job.status !== 'COMPLETED') throw new Error(`job ${job.id} ended ${job.status}: ${job.error}\n${job.log.map((l) => `  ${l.at} ${l.level} ${l.message}`).join('\n')}`);
  const { backup } = await graphql(`query ($id: ID!) { backup(id: $id) { metadata } }`, { id: job.result.backupId });
  return { job, wall, metadata: backup.metadata };
}

// ---- the measured steps --------------------------------------------------------------------

/** A sync of every replica at once, as their hourly schedules would fire together. */
async function syncRound(policyIds) {
  const started = now();
  const jobs = await Promise.all(policyIds.map((id) => runJob(id)));
  const moved = jobs.map(({ job }) => {
    const m = /synced (\S+): (\d+) bytes moved of (\d+)/.exec(job.log.map((l) => l.message).join('\n'));
    return { name: m[1], moved: Number(m[2]), total: Number(m[3]), seconds: (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000, finishedAt: Date.parse(job.finishedAt) };
  });
  return { seconds: now() - started, moved, lastFinishedAt: Math.max(...moved.map((m) => m.finishedAt)) };
}

/** One intermittent run, with the phases of its consistent run read from the job log's timestamps. */
async function intermittentRun(label, policyId, net) {
  execFileSync('sync'); // no dirty pages of earlier steps for this one to pay for
  const loadBefore = load();
  const { job, wall, metadata } = await runJob(policyId);
  const log = job.log.map((l) => ({ time: Date.parse(l.at), message: l.message }));
  const find = (re) => log.filter((l) => re.test(l.message));
  const endLine = find(/^consistent run: /)[0];
  const end = endLine.time;
  const start = end - metadata.consistentRunSeconds * 1000;
  const stopped = find(/: last block id \d+/).at(-1).time;
  const archived = find(/^archived /).at(-1).time;
  // The wedge: from the last client stopped to the first replica stop asked (its log line comes at its end, with its duration).
  const firstReplicaStop = find(/^stopped replica \S+ through its agent/)[0];
  const wedgeSeconds = (firstReplicaStop.time - Number(/\(([\d.]+) s\)$/.exec(firstReplicaStop.message)[1]) * 1000 - find(/^stopped client /).at(-1).time) / 1000;
  const copies = find(/^copied \S+: \d+ bytes moved of \d+/).map((l) => {
    const m = /^copied (\S+): (\d+) bytes moved of (\d+) \((\d+) files\)/.exec(l.message);
    return { name: m[1], moved: Number(m[2]), total: Number(m[3]), files: Number(m[4]) };
  });
  // The SDK logs every rsync with its duration; the rest of the copy phase is storing the mirrors (and the small client archives).
  const rsyncSeconds = find(/^rsync .*: \d+ files, \d+ bytes moved of \d+ in [\d.]+ s$/).reduce((sum, l) => sum + Number(/in ([\d.]+) s$/.exec(l.message)[1]), 0);
  await expectRunning(net);
  return {
    rsyncSeconds,
    wedgeSeconds,
    label,
    consistent: metadata.consistentRunSeconds,
    logLine: endLine.message,
    phases: { stop: (stopped - start) / 1000, copy: (archived - stopped) / 1000, restart: (end - archived) / 1000 },
    job: (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000,
    wall,
    startedAt: start,
    copies,
    moved: copies.reduce((s, c) => s + c.moved, 0),
    total: copies.reduce((s, c) => s + c.total, 0),
    blockId: metadata.blockId,
    result: job.result,
    loadBefore,
    loadAfter: load(),
  };
}

/** After a run: every node runs again and the replicas write blocks again (unwedged). */
async function expectRunning(net) {
  for (const m of [...net.replicas, ...net.clients]) {
    if (!(await net.status(m.name)).running) throw new Error(`${m.name} is not running after the run`);
  }
  const before = (await net.status('replica-1')).lastBlock ?? 0;
  const deadline = Date.now() + 60_000;
  while (((await net.status('replica-1')).lastBlock ?? 0) <= before) {
    if (Date.now() > deadline) throw new Error('replica-1 does not write blocks again after the run');
    await sleep(100);
  }
}

// ---- the run ------------------------------------------------------------------------------

let net = null;
let sshds = [];

async function cleanUp() {
  for (const child of generators) child.kill('SIGKILL');
  await stopServer().catch((e) => console.error(`stopping the server: ${e.message}`));
  await net?.stop().catch((e) => console.error(`stopping the network: ${e.message}`));
  await Promise.all(sshds.map((s) => s.stop().catch((e) => console.error(`stopping an sshd: ${e.message}`))));
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

function printRun(r) {
  console.log(
    `${r.label}: consistent run ${r.consistent.toFixed(1)} s (stop ${r.phases.stop.toFixed(1)} s of which wedge ${r.wedgeSeconds.toFixed(1)} s, copy ${r.phases.copy.toFixed(1)} s = final rsync ${r.rsyncSeconds.toFixed(1)} s + storing the mirrors and client archives ${(r.phases.copy - r.rsyncSeconds).toFixed(1)} s, restart ${r.phases.restart.toFixed(1)} s); ` +
      `job ${r.job.toFixed(1)} s (runBackup to end seen ${r.wall.toFixed(1)} s); block ${r.blockId}`,
  );
  console.log(`    job log: "${r.logLine}"`);
  console.log(`    rsync moved ${fmtMiB(r.moved)} of ${fmtMiB(r.total)}: ${r.copies.map((c) => `${c.name} ${fmtMiB(c.moved)}/${fmtMiB(c.total)} (${c.files} files)`).join(', ')}`);
  console.log(`    repository: ${r.result.filesRead} files read (${fmtMiB(r.result.bytesRead)}), ${r.result.filesUnchanged} unchanged, ${fmtMiB(r.result.storedBytes)} new stored; load average ${r.loadBefore} before, ${r.loadAfter} after`);
}

async function main() {
  const lastBlock = Math.ceil((replicaMib * MiB) / valueSize) - 1;
  console.log(`chainvault vmbc intermittent benchmark: ${REPLICAS} replicas x ${replicaMib} MiB (value size ${valueSize}), ${CLIENTS} clients; ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}; load average ${load()}`);
  console.log(`work folder ${root}`);

  // 1. The replicas' databases: blocks 0..lastBlock on every replica, generated two at a time (2 cores).
  let started = now();
  const blocks = [];
  for (let i = 0; i < REPLICAS; i += 2) blocks.push(...(await Promise.all([i, i + 1].filter((j) => j < REPLICAS).map((j) => generate(j, lastBlock)))));
  const sizes = Array.from({ length: REPLICAS }, (_, i) => duBytes(dataDirectoryOf(i)));
  console.log(`generated ${REPLICAS} databases up to block ${blocks.join('/')} in ${(now() - started).toFixed(0)} s: ${sizes.map(fmtMiB).join(', ')} (du -sb)`);

  // 2. The network on them (the replicas now write `rate` blocks per second), one sshd per machine, the server.
  net = await startVmbcNetwork({ root: paths.net, replicas: REPLICAS, clients: CLIENTS, blocksPerSecond: rate, valueSize });
  sshds = await Promise.all(Array.from({ length: REPLICAS + CLIENTS }, () => startSshd()));
  await startServer();
  console.log(`network up: replicas write ${rate} blocks/s of ${valueSize} bytes (${fmtMiB(rate * valueSize)}/s each); ${sshds.length} sshds; server at ${server.url}; intermittent wedgePollSeconds ${wedgePollSeconds}\n`);

  const repoSynced = await createDestination('synced', paths.repoSynced);
  const synced = await register('synced', net, sshds);
  const syncPolicies = [];
  for (const [i, nodeId] of synced.replicaIds.entries()) {
    // Run by hand here (the hourly schedule would fire at the top of the hour, in the middle of a measurement).
    syncPolicies.push(await createPolicy({ name: `sync-${i + 1}`, nodeId, method: 'sync', destinationIds: [repoSynced], retention: { keepLast: 3 } }));
  }
  const policyA = await intermittentPolicy('intermittent-synced', synced.networkId, repoSynced);

  // (a) sync of every replica, then at once the intermittent run.
  const sync1 = await syncRound(syncPolicies);
  console.log(`sync round: ${sync1.seconds.toFixed(1)} s for ${REPLICAS} syncs (${sync1.moved.map((m) => `${m.name} ${fmtMiB(m.moved)} in ${m.seconds.toFixed(1)} s`).join(', ')})`);
  const a = await intermittentRun('(a) after a sync', policyA, net);
  printRun(a);
  console.log(`    last sync ended ${((a.startedAt - sync1.lastFinishedAt) / 1000).toFixed(1)} s before the first stop\n`);

  // (b) same machines, registered again (fresh nodes, so fresh mirrors), a fresh destination, no sync.
  await pausePolicy(policyA); // two exclusive methods on the same data cannot both be enabled
  const repoFresh = await createDestination('fresh', paths.repoFresh);
  const fresh = await register('fresh', net, sshds);
  const policyB = await intermittentPolicy('intermittent-fresh', fresh.networkId, repoFresh);
  const b = await intermittentRun('(b) no sync before', policyB, net);
  printRun(b);
  console.log('');

  let a2 = null;
  if (steady) {
    await pausePolicy(policyB);
    await resumePolicy(policyA);
    const sync2 = await syncRound(syncPolicies);
    console.log(`second sync round: ${sync2.seconds.toFixed(1)} s (${sync2.moved.map((m) => `${m.name} ${fmtMiB(m.moved)} in ${m.seconds.toFixed(1)} s`).join(', ')})`);
    a2 = await intermittentRun("(a') after a sync, 2nd run of the policy", policyA, net);
    printRun(a2);
    console.log(`    last sync ended ${((a2.startedAt - sync2.lastFinishedAt) / 1000).toFixed(1)} s before the first stop\n`);
  }

  console.log(`consistent run (stop to restart), ${REPLICAS} x ${replicaMib} MiB:`);
  const line = (r) => `${r.consistent.toFixed(1)} s (final rsync ${r.rsyncSeconds.toFixed(1)} s), rsync moved ${fmtMiB(r.moved)} of ${fmtMiB(r.total)}, job ${r.job.toFixed(1)} s`;
  console.log(`  (a)  after a sync:   ${line(a)}`);
  console.log(`  (b)  without a sync: ${line(b)}`);
  console.log(`  ratio (b)/(a): ${(b.consistent / a.consistent).toFixed(2)}; without the wedge (its wait is quantized by wedgePollSeconds): ${((b.consistent - b.wedgeSeconds) / (a.consistent - a.wedgeSeconds)).toFixed(2)}`);
  if (a2) console.log(`  (a') after a sync, the policy's 2nd run: ${line(a2)}; ratio (b)/(a') ${(b.consistent / a2.consistent).toFixed(2)}`);
}

main()
  .then(cleanUp)
  .catch(async (error) => {
    console.error(error);
    if (server) console.error(`server output (tail):\n${server.output().slice(-3000)}`);
    await cleanUp();
    process.exit(1);
  });
