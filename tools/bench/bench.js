#!/usr/bin/env node
// The benchmark harness (DESIGN §9). Two data sets, each timed in one run on the same data:
//
// - node data: many 64 MiB incompressible SST-like files and small changing files; full
//   backup, backup with no change, backup after appending 1% to one file and adding one new
//   file, restore, and verify with read-data;
// - many small files (a Fabric peer's or a geth node's shape): `--small-files N` files of
//   1–16 KiB in nested folders; full backup, backup with no change, restore.
//
// Measured for chainvault's repository in this process (plain and encrypted), for the same
// through a running chainvault server (GraphQL, job queue, catalog; plain and encrypted), and
// for restic; plus `cp -r` and `sha256sum` as the machine's floor. Prints every figure, the
// ratios to restic, and the peak resident memory of the process that ran each chainvault step.
// Never asserted anywhere: it measures.
//
//   node tools/bench/bench.js [--size 1GiB] [--small-files 200000] [--no-server] [--isolation [--isolation-rounds 3]]
//                             [--dir /tmp/chainvault-bench] [--keep]
const { execFileSync, spawnSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync, lstatSync } = require('node:fs');
const { cpus, totalmem, tmpdir } = require('node:os');
const { join } = require('node:path');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const parseSize = (text) => {
  const m = /^(\d+(?:\.\d+)?)\s*(GiB|MiB|G|M)?$/i.exec(text);
  if (!m) throw new Error(`--size: "${text}" is not a size such as 1GiB or 512MiB`);
  return Math.round(Number(m[1]) * (/^g/i.test(m[2] ?? 'GiB') ? 1024 ** 3 : 1024 ** 2));
};
const MiB = 1024 * 1024;
const size = parseSize(option('size', '1GiB'));
const smallFiles = Number(option('small-files', '200000'));
if (!Number.isInteger(smallFiles) || smallFiles < 0) {
  console.error(`--small-files: "${option('small-files')}" is not a number of files (0 skips the case)`);
  process.exit(2);
}
const root = option('dir', join(tmpdir(), 'chainvault-bench'));
const keep = args.includes('--keep');
const withServer = !args.includes('--no-server');
// A second server whose built-in plugins also run in processes of their own: the column `server+iso` beside `server` is the cost of isolation.
const withIsolation = withServer && args.includes('--isolation');
const isolationRounds = args.includes('--isolation-rounds') ? Math.max(1, Number(args[args.indexOf('--isolation-rounds') + 1])) : 3;

const repositoryDist = join(__dirname, '..', '..', 'libs', 'repository', 'dist');
if (!existsSync(join(repositoryDist, 'index.js'))) {
  console.error('build first: npm run build');
  process.exit(2);
}
const { LocalBackend, Repository } = require(repositoryDist);
const { MAIN, startChainvault } = require('./chainvault-server');
if (withServer && !existsSync(MAIN)) {
  console.error(`the server is not built (${MAIN}): npm run build, or pass --no-server`);
  process.exit(2);
}
const resticVersion = spawnSync('restic', ['version'], { encoding: 'utf8' });
if (resticVersion.status !== 0) {
  console.error('restic is not installed: apt-get install -y restic');
  process.exit(2);
}
const PASSPHRASE = 'benchmark passphrase';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Each step starts with no dirty pages left by the step before, so no tool pays for another's writes.
const seconds = async (work) => {
  execFileSync('sync');
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
};
const run = (command, commandArgs, env = {}) => {
  const result = spawnSync(command, commandArgs, { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 * MiB });
  if (result.status !== 0) throw new Error(`${command} ${commandArgs.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
};

/**
 * Peak resident memory of a process during a step: Linux's high-water mark (VmHWM), reset at
 * the step's start by writing 5 to /proc/<pid>/clear_refs. Where the reset is refused, the mark
 * is the process's peak so far, and the report says so.
 */
function peakMemory(pid) {
  let resettable = true;
  return {
    reset() {
      try {
        writeFileSync(`/proc/${pid}/clear_refs`, '5');
      } catch {
        resettable = false;
      }
    },
    peakMiB() {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m ? Number(m[1]) / 1024 : null;
    },
    get resettable() {
      return resettable;
    },
  };
}

function writeRandomFile(path, bytes) {
  const fd = openSync(path, 'w');
  for (let done = 0; done < bytes; done += 8 * MiB) writeSync(fd, randomBytes(Math.min(8 * MiB, bytes - done)));
  closeSync(fd);
}

function generateNodeData(dir) {
  mkdirSync(join(dir, 'db'), { recursive: true });
  mkdirSync(join(dir, 'config'), { recursive: true });
  const sstCount = Math.max(1, Math.floor((size * 0.95) / (64 * MiB)));
  for (let i = 0; i < sstCount; i += 1) writeRandomFile(join(dir, 'db', `${String(100000 + i)}.sst`), 64 * MiB);
  // Small files that change between runs: MANIFEST, LOG, OPTIONS, config.
  let rest = size - sstCount * 64 * MiB;
  for (let i = 0; rest > 0; i += 1) {
    const bytes = Math.min(rest, 4096 + ((i * 7919) % (256 * 1024)));
    writeFileSync(join(dir, i % 5 === 0 ? 'config' : 'db', `small-${i}.dat`), randomBytes(bytes));
    rest -= bytes;
  }
  return sstCount;
}

/** `count` files of 1–16 KiB, 100 to a folder, 100 folders to a parent: a peer's or an ancient store's shape. */
function generateSmallFiles(dir, count) {
  let bytes = 0;
  let pool = randomBytes(0);
  for (let i = 0; i < count; i += 1) {
    const folder = join(dir, `s${String(Math.floor(i / 10000)).padStart(3, '0')}`, `d${String(Math.floor(i / 100) % 100).padStart(2, '0')}`);
    if (i % 100 === 0) mkdirSync(folder, { recursive: true });
    const length = 1024 + ((i * 7919) % (15 * 1024 + 1));
    if (pool.length < length) pool = randomBytes(8 * MiB);
    writeFileSync(join(folder, `f${String(i).padStart(7, '0')}.dat`), pool.subarray(0, length));
    pool = pool.subarray(length);
    bytes += length;
  }
  return bytes;
}

/** Files and bytes under `dir`: a restore is checked against its source before its time counts. */
function treeFacts(dir) {
  let files = 0;
  let bytes = 0;
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) {
        files += 1;
        bytes += lstatSync(full).size;
      }
    }
  };
  walk(dir);
  return { files, bytes };
}

function chainvault(label, source, repoDir, passphrase) {
  const backend = new LocalBackend(repoDir);
  const options = passphrase ? { passphrase } : {};
  let repository;
  let previous = null;
  const backup = async () => {
    repository = await Repository.openOrInit(backend, options);
    const writer = repository.startBackup({ previous });
    await writer.addTree(source);
    previous = await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
  };
  return {
    label,
    memory: peakMemory(process.pid),
    full: backup,
    again: backup,
    restore: async (target) => (await repository.openBackup(previous.backupId)).extractTree(target),
    verify: async () => {
      const fresh = await Repository.open(backend, options);
      const result = await fresh.verify(previous.backupId, { readData: true });
      if (result.problems.length) throw new Error(`${label} verify: ${result.problems[0]}`);
    },
    stored: () => Number(run('du', ['-sb', repoDir]).split('\t')[0]),
  };
}

/** The same steps through a running server: GraphQL mutations, the job queue, the catalog. */
async function throughServer(server, label, source, repoDir, passphrase) {
  const graphql = (query, variables) => server.graphql(query, variables);
  const name = `${label}-${Math.random().toString(36).slice(2, 8)}`.replace(/[^a-z0-9-]/gi, '-');
  const { createDestination } = await graphql(`mutation ($input: CreateDestinationInput!) { createDestination(input: $input) { id } }`, {
    input: { name, kind: 'LOCAL', config: { path: repoDir, ...(passphrase ? { passphrase } : {}) } },
  });
  const { createNetwork } = await graphql(`mutation ($input: CreateNetworkInput!) { createNetwork(input: $input) { id } }`, { input: { name, protocol: 'directory' } });
  const { registerNode } = await graphql(`mutation ($input: RegisterNodeInput!) { registerNode(input: $input) { id } }`, {
    input: { networkId: createNetwork.id, name, plugin: 'directory', role: 'node', config: { path: source } },
  });
  const { createPolicy } = await graphql(`mutation ($input: CreatePolicyInput!) { createPolicy(input: $input) { id } }`, {
    input: { name, nodeId: registerNode.id, method: 'snapshot', destinationIds: [createDestination.id] },
  });
  /** The job polled every 20 ms to its end: the wall clock an operator waits. */
  const finished = async (jobId, what) => {
    for (;;) {
      const { job } = await graphql(`query ($id: ID!) { job(id: $id) { status } }`, { id: jobId });
      if (!['QUEUED', 'RUNNING', 'CANCELLING'].includes(job.status)) break;
      await sleep(20);
    }
    const { job } = await graphql(`query ($id: ID!) { job(id: $id) { id status error backupId log { level message } } }`, { id: jobId });
    if (job.status !== 'COMPLETED') throw new Error(`${label} ${what}: job ${job.id} ended ${job.status}: ${job.error}\n${job.log.map((l) => `  ${l.level} ${l.message}`).join('\n')}`);
    return job;
  };
  let backupId = null;
  const backup = async () => {
    const { runBackup } = await graphql(`mutation ($policyId: ID!) { runBackup(policyId: $policyId) { id } }`, { policyId: createPolicy.id });
    backupId = (await finished(runBackup.id, 'backup')).backupId;
  };
  return {
    label,
    memory: peakMemory(server.child.pid),
    full: backup,
    again: backup,
    restore: async (target) => {
      const { restoreBackup } = await graphql(`mutation ($input: RestoreInput!) { restoreBackup(input: $input) { id } }`, { input: { backupId, targetConfig: { path: target } } });
      await finished(restoreBackup.id, 'restore');
    },
    verify: async () => {
      const { verifyBackup } = await graphql(`mutation ($id: ID!) { verifyBackup(backupId: $id, readData: true) { id } }`, { id: backupId });
      await finished(verifyBackup.id, 'verify');
      const { backup: facts } = await graphql(`query ($id: ID!) { backup(id: $id) { verificationProblems } }`, { id: backupId });
      if (facts.verificationProblems?.length) throw new Error(`${label} verify: ${facts.verificationProblems[0]}`);
    },
    stored: () => Number(run('du', ['-sb', repoDir]).split('\t')[0]),
  };
}

function restic(source, repoDir) {
  const env = { RESTIC_REPOSITORY: repoDir, RESTIC_PASSWORD: PASSPHRASE, RESTIC_CACHE_DIR: join(root, 'restic-cache') };
  run('restic', ['init'], env);
  return {
    label: 'restic',
    memory: null,
    full: () => run('restic', ['backup', '--quiet', source], env),
    again: () => run('restic', ['backup', '--quiet', source], env),
    restore: (target) => run('restic', ['restore', 'latest', '--target', target], env),
    verify: () => run('restic', ['check', '--read-data'], env),
    stored: () => Number(run('du', ['-sb', repoDir]).split('\t')[0]),
  };
}

/** The tools measured on one data set, each with its own repository under `dir`. */
async function toolsFor(source, dir, server, isolated) {
  const tools = [chainvault('chainvault', source, join(dir, 'repo-plain'), null), chainvault('chainvault+enc', source, join(dir, 'repo-enc'), PASSPHRASE)];
  if (server) {
    tools.push(await throughServer(server, 'server', source, join(dir, 'repo-server'), null));
    tools.push(await throughServer(server, 'server+enc', source, join(dir, 'repo-server-enc'), PASSPHRASE));
  }
  if (isolated) tools.push(await throughServer(isolated, 'server+iso', source, join(dir, 'repo-server-iso'), null));
  tools.push(restic(source, join(dir, 'repo-restic')));
  return tools;
}

/** Runs `work` for each tool in turn, recording its time and the peak memory of the process that ran it. */
function stepper(tools, results, memory) {
  return async (name, work) => {
    for (const tool of tools) {
      tool.memory?.reset();
      results[tool.label][name] = await seconds(() => work(tool));
      if (tool.memory) memory[tool.label][name] = tool.memory.peakMiB();
    }
  };
}

const pad = (text, width) => String(text).padStart(width);

function printTable(title, tools, results, rows) {
  console.log(`\n${title}`);
  const others = tools.filter((t) => t.label !== 'restic');
  console.log(`${'step'.padEnd(30)}${tools.map((t) => pad(t.label, 16)).join('')}${others.map((t) => pad(`${t.label}/restic`.replace('chainvault', 'cv'), 18)).join('')}`);
  for (const row of rows) {
    const unit = row.includes('MiB') ? '' : ' s';
    const restic = results.restic[row];
    const cells = tools.map((t) => pad(results[t.label][row].toFixed(2) + unit, 16)).join('');
    const ratios = others.map((t) => pad((results[t.label][row] / restic).toFixed(2), 18)).join('');
    console.log(`${row.padEnd(30)}${cells}${ratios}`);
  }
}

function printMemory(title, tools, memory, rows) {
  const measured = tools.filter((t) => t.memory);
  console.log(`\n${title}: peak resident memory of the process that ran the step (MiB)`);
  console.log(`${'step'.padEnd(30)}${measured.map((t) => pad(t.label, 16)).join('')}`);
  for (const row of rows) console.log(`${row.padEnd(30)}${measured.map((t) => pad(memory[t.label][row]?.toFixed(0) ?? '–', 16)).join('')}`);
  if (measured.some((t) => !t.memory.resettable)) console.log('(the high-water mark could not be reset here: figures are peaks since the process started)');
}

/** The restored tree holds what the source does; a restore that lost files must not look fast. */
function checkRestores(source, tools, targetOf) {
  const expected = treeFacts(source);
  for (const tool of tools) {
    const got = treeFacts(targetOf(tool));
    if (got.files !== expected.files || got.bytes !== expected.bytes) throw new Error(`${tool.label} restored ${got.files} files of ${got.bytes} bytes; the source holds ${expected.files} of ${expected.bytes}`);
  }
}

(async () => {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  console.log(`chainvault benchmark: ${(size / 1024 ** 3).toFixed(2)} GiB node data, ${smallFiles} small files, ${cpus().length} cores, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Node ${process.version}, ${resticVersion.stdout.trim()}`);
  console.log(`data in ${root} (page cache warm: figures measure CPU and the file system, not a cold disk)`);
  const data = join(root, 'data');
  const sstCount = generateNodeData(data);
  console.log(`generated ${sstCount} × 64 MiB SST-like files and small files`);
  const small = join(root, 'small');
  const smallBytes = smallFiles > 0 ? generateSmallFiles(small, smallFiles) : 0;
  if (smallFiles > 0) console.log(`generated ${smallFiles} files of 1–16 KiB (${(smallBytes / MiB).toFixed(1)} MiB) in nested folders`);
  console.log(`this process at rest: ${(process.memoryUsage().rss / MiB).toFixed(0)} MiB resident (the in-process figures include it)`);

  const floor = {
    'cp -r': await seconds(() => run('cp', ['-r', data, join(root, 'cp-copy')])),
    sha256sum: await seconds(() => run('sh', ['-c', `find '${data}' -type f -print0 | xargs -0 sha256sum > /dev/null`])),
    'cat > /dev/null': await seconds(() => run('sh', ['-c', `find '${data}' -type f -print0 | xargs -0 cat > /dev/null`])),
  };
  rmSync(join(root, 'cp-copy'), { recursive: true, force: true });
  if (smallFiles > 0) {
    floor['cp -r, small files'] = await seconds(() => run('cp', ['-r', small, join(root, 'cp-copy')]));
    rmSync(join(root, 'cp-copy'), { recursive: true, force: true });
  }

  let server = null;
  let isolated = null;
  try {
    if (withServer) {
      server = await startChainvault({ dataDir: join(root, 'server-data'), restoreRoots: root });
      console.log(`server started at ${server.url} (pid ${server.child.pid})`);
    }
    if (withIsolation) {
      isolated = await startChainvault({ dataDir: join(root, 'server-iso-data'), restoreRoots: root, env: { CHAINVAULT_PLUGIN_ISOLATION: 'all' } });
      console.log(`server with every plugin isolated started at ${isolated.url} (pid ${isolated.child.pid})`);
    }
    const output = { size, smallFiles, smallBytes, floor, at: new Date().toISOString() };

    // Node data.
    const tools = await toolsFor(data, join(root, 'node-data'), server, isolated);
    const results = Object.fromEntries(tools.map((t) => [t.label, {}]));
    const memory = Object.fromEntries(tools.map((t) => [t.label, {}]));
    const step = stepper(tools, results, memory);
    await step('full backup', (t) => t.full());
    for (const t of tools) results[t.label]['stored after full (MiB)'] = t.stored() / MiB;
    await step('no-change backup', (t) => t.again());
    // Append 1% to one SST-like file and add one new file, as a compaction would.
    appendFileSync(join(data, 'db', '100000.sst'), randomBytes(Math.round(0.01 * 64 * MiB)));
    writeRandomFile(join(data, 'db', 'new-compaction-output.sst'), 64 * MiB);
    const before = Object.fromEntries(tools.map((t) => [t.label, t.stored()]));
    await step('incremental backup', (t) => t.again());
    for (const t of tools) results[t.label]['stored by incremental (MiB)'] = (t.stored() - before[t.label]) / MiB;
    const restored = (t) => join(root, 'restores', `node-${t.label}`);
    await step('restore', (t) => t.restore(restored(t)));
    checkRestores(data, tools, restored);
    await step('verify --read-data', (t) => t.verify());
    rmSync(join(root, 'restores'), { recursive: true, force: true });
    const steps = ['full backup', 'no-change backup', 'incremental backup', 'restore', 'verify --read-data'];
    printTable(`node data, ${(size / 1024 ** 3).toFixed(2)} GiB`, tools, results, [...steps, 'stored after full (MiB)', 'stored by incremental (MiB)']);
    printMemory('node data', tools, memory, steps);
    output.nodeData = { results, memory };

    // Isolation's cost, measured apart: one full backup on each server in turn (three rounds, or --isolation-rounds), each
    // into a new repository, so a burst of load on the machine falls on both columns alike.
    if (isolated) {
      const rounds = { server: [], 'server+iso': [] };
      for (let round = 0; round < isolationRounds; round++) {
        for (const [label, target] of [['server', server], ['server+iso', isolated]]) {
          const tool = await throughServer(target, label, data, join(root, 'isolation-cost', `${label}-${round}`), null);
          rounds[label].push(await seconds(() => tool.full()));
        }
      }
      rmSync(join(root, 'isolation-cost'), { recursive: true, force: true });
      const best = (list) => Math.min(...list);
      const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
      console.log(`\nisolation's cost, full backup, ${isolationRounds} alternating rounds: server ${rounds.server.map((t) => t.toFixed(2)).join(' / ')} s, server+iso ${rounds['server+iso'].map((t) => t.toFixed(2)).join(' / ')} s`);
      console.log(`  best server+iso / server = ${(best(rounds['server+iso']) / best(rounds.server)).toFixed(3)}, median ${(median(rounds['server+iso']) / median(rounds.server)).toFixed(3)}`);
      output.isolationCost = rounds;
    }

    // Many small files.
    if (smallFiles > 0) {
      const smallTools = await toolsFor(small, join(root, 'small-files'), server, isolated);
      const smallResults = Object.fromEntries(smallTools.map((t) => [t.label, {}]));
      const smallMemory = Object.fromEntries(smallTools.map((t) => [t.label, {}]));
      const smallStep = stepper(smallTools, smallResults, smallMemory);
      await smallStep('full backup', (t) => t.full());
      for (const t of smallTools) smallResults[t.label]['stored after full (MiB)'] = t.stored() / MiB;
      await smallStep('no-change backup', (t) => t.again());
      const smallRestored = (t) => join(root, 'restores', `small-${t.label}`);
      await smallStep('restore', (t) => t.restore(smallRestored(t)));
      checkRestores(small, smallTools, smallRestored);
      rmSync(join(root, 'restores'), { recursive: true, force: true });
      const smallSteps = ['full backup', 'no-change backup', 'restore'];
      printTable(`many small files: ${smallFiles} files, ${(smallBytes / MiB).toFixed(1)} MiB`, smallTools, smallResults, [...smallSteps, 'stored after full (MiB)']);
      printMemory('many small files', smallTools, smallMemory, smallSteps);
      output.smallFilesCase = { results: smallResults, memory: smallMemory };
    }

    console.log("\nthe machine's floor:");
    for (const [name, value] of Object.entries(floor)) console.log(`  ${name.padEnd(20)} ${value.toFixed(2)} s`);
    const ratio = (label) => (results[label] ? `${label} ${(results[label]['full backup'] / floor['cp -r']).toFixed(2)}` : null);
    console.log(`full backup / cp -r (node data): ${['chainvault', 'chainvault+enc', 'server', 'server+enc', 'server+iso', 'restic'].map(ratio).filter(Boolean).join(', ')}`);
    if (results['server+iso']) console.log(`isolation's cost on the full backup: server+iso / server = ${(results['server+iso']['full backup'] / results.server['full backup']).toFixed(3)}`);

    const out = join(__dirname, '..', '..', 'tmp');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'bench-results.json'), JSON.stringify(output, null, 2));
  } finally {
    await server?.stop();
    await isolated?.stop();
    if (!keep) rmSync(root, { recursive: true, force: true });
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
