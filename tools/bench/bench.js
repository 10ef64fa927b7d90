#!/usr/bin/env node
// The benchmark harness (DESIGN §9). Generates a data set shaped like a node's data — many
// 64 MiB incompressible SST-like files and small changing files — then times, in one run and on
// the same data: full backup, backup with no change, backup after appending 1% to one file and
// adding one new file, restore, and verify with read-data, for chainvault's repository (plain
// and encrypted) and for restic, plus `cp -r` and `sha256sum` as the machine's floor. Prints
// every figure and the ratio chainvault / restic. Never asserted anywhere: it measures.
//
//   node tools/bench/bench.js [--size 1GiB] [--dir /tmp/chainvault-bench] [--keep]
const { execFileSync, spawnSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { appendFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync, openSync, writeSync, closeSync } = require('node:fs');
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
const root = option('dir', join(tmpdir(), 'chainvault-bench'));
const keep = args.includes('--keep');

const repositoryDist = join(__dirname, '..', '..', 'libs', 'repository', 'dist');
if (!existsSync(join(repositoryDist, 'index.js'))) {
  console.error('build first: npm run build');
  process.exit(2);
}
const { LocalBackend, Repository } = require(repositoryDist);
const resticVersion = spawnSync('restic', ['version'], { encoding: 'utf8' });
if (resticVersion.status !== 0) {
  console.error('restic is not installed: apt-get install -y restic');
  process.exit(2);
}

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

function writeRandomFile(path, bytes) {
  const fd = openSync(path, 'w');
  for (let done = 0; done < bytes; done += 8 * MiB) writeSync(fd, randomBytes(Math.min(8 * MiB, bytes - done)));
  closeSync(fd);
}

function generate(dir) {
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

async function chainvault(label, repoDir, passphrase) {
  const backend = new LocalBackend(repoDir);
  let repository = await Repository.openOrInit(backend, passphrase ? { passphrase } : {});
  let previous = null;
  const backup = async () => {
    repository = await Repository.open(backend, passphrase ? { passphrase } : {});
    const writer = repository.startBackup({ previous });
    await writer.addTree(join(root, 'data'));
    previous = await writer.commit({ createdAt: new Date(), labels: {}, metadata: {} });
    return previous;
  };
  return {
    label,
    full: () => backup(),
    again: () => backup(),
    restore: async (target) => (await repository.openBackup(previous.backupId)).extractTree(target),
    verify: async () => {
      const fresh = await Repository.open(backend, passphrase ? { passphrase } : {});
      const result = await fresh.verify(previous.backupId, { readData: true });
      if (result.problems.length) throw new Error(`${label} verify: ${result.problems[0]}`);
    },
    stored: () => Number(run('du', ['-sb', repoDir]).split('\t')[0]),
  };
}

function restic(repoDir) {
  const env = { RESTIC_REPOSITORY: repoDir, RESTIC_PASSWORD: 'benchmark passphrase', RESTIC_CACHE_DIR: join(root, 'restic-cache') };
  run('restic', ['init'], env);
  return {
    label: 'restic',
    full: () => run('restic', ['backup', '--quiet', join(root, 'data')], env),
    again: () => run('restic', ['backup', '--quiet', join(root, 'data')], env),
    restore: (target) => run('restic', ['restore', 'latest', '--target', target], env),
    verify: () => run('restic', ['check', '--read-data'], env),
    stored: () => Number(run('du', ['-sb', repoDir]).split('\t')[0]),
  };
}

(async () => {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  console.log(`chainvault benchmark: ${(size / 1024 ** 3).toFixed(2)} GiB, ${cpus().length} cores, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Node ${process.version}, ${resticVersion.stdout.trim()}`);
  console.log(`data in ${root} (page cache warm: figures measure CPU and the file system, not a cold disk)`);
  const sstCount = generate(join(root, 'data'));
  console.log(`generated ${sstCount} × 64 MiB SST-like files and small files\n`);

  const floor = {
    'cp -r': await seconds(() => run('cp', ['-r', join(root, 'data'), join(root, 'cp-copy')])),
    sha256sum: await seconds(() => run('sh', ['-c', `find '${join(root, 'data')}' -type f -print0 | xargs -0 sha256sum > /dev/null`])),
    'cat > /dev/null': await seconds(() => run('sh', ['-c', `find '${join(root, 'data')}' -type f -print0 | xargs -0 cat > /dev/null`])),
  };
  rmSync(join(root, 'cp-copy'), { recursive: true, force: true });

  const tools = [await chainvault('chainvault', join(root, 'repo-plain'), null), await chainvault('chainvault+enc', join(root, 'repo-enc'), 'benchmark passphrase'), restic(join(root, 'repo-restic'))];
  const results = Object.fromEntries(tools.map((t) => [t.label, {}]));
  const step = async (name, work) => {
    for (const tool of tools) results[tool.label][name] = await seconds(() => work(tool));
  };

  await step('full backup', (t) => t.full());
  for (const t of tools) results[t.label]['stored after full (MiB)'] = t.stored() / MiB;
  await step('no-change backup', (t) => t.again());
  // Append 1% to one SST-like file and add one new file, as a compaction would.
  appendFileSync(join(root, 'data', 'db', '100000.sst'), randomBytes(Math.round(0.01 * 64 * MiB)));
  writeRandomFile(join(root, 'data', 'db', 'new-compaction-output.sst'), 64 * MiB);
  const before = Object.fromEntries(tools.map((t) => [t.label, t.stored()]));
  await step('incremental backup', (t) => t.again());
  for (const t of tools) results[t.label]['stored by incremental (MiB)'] = (t.stored() - before[t.label]) / MiB;
  await step('restore', (t) => t.restore(join(root, `restore-${t.label}`)));
  await step('verify --read-data', (t) => t.verify());

  const rows = ['full backup', 'no-change backup', 'incremental backup', 'restore', 'verify --read-data', 'stored after full (MiB)', 'stored by incremental (MiB)'];
  const pad = (text, width) => String(text).padStart(width);
  console.log(`${'step'.padEnd(30)}${pad('chainvault', 12)}${pad('+enc', 10)}${pad('restic', 10)}${pad('cv/restic', 11)}${pad('enc/restic', 11)}`);
  for (const row of rows) {
    const [a, b, c] = tools.map((t) => results[t.label][row]);
    const unit = row.includes('MiB') ? '' : ' s';
    console.log(`${row.padEnd(30)}${pad(a.toFixed(2) + unit, 12)}${pad(b.toFixed(2) + unit, 10)}${pad(c.toFixed(2) + unit, 10)}${pad((a / c).toFixed(2), 11)}${pad((b / c).toFixed(2), 11)}`);
  }
  console.log('\nthe machine\'s floor on the same data:');
  for (const [name, value] of Object.entries(floor)) console.log(`  ${name.padEnd(16)} ${value.toFixed(2)} s`);
  console.log(`full backup / cp -r: chainvault ${(results.chainvault['full backup'] / floor['cp -r']).toFixed(2)}, +enc ${(results['chainvault+enc']['full backup'] / floor['cp -r']).toFixed(2)}, restic ${(results.restic['full backup'] / floor['cp -r']).toFixed(2)}`);

  const out = join(__dirname, '..', '..', 'tmp');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'bench-results.json'), JSON.stringify({ size, floor, results, at: new Date().toISOString() }, null, 2));
  if (!keep) rmSync(root, { recursive: true, force: true });
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
