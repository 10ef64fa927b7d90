#!/usr/bin/env node
/**
 * Load test of the job queue with several instances (issue 4): two real server processes on one
 * PostgreSQL catalog, 10,000 jobs enqueued through the GraphQL API of both, then the catalog is
 * read to show that none ran twice and none was lost, and at what rate they ran.
 *
 *   npm run build && node tools/load/jobs.js [--jobs 10000] [--instances 2] [--concurrency 4]
 *
 * The jobs are structure-only verifies of one small backup (`verifyBackup(readData: false)`):
 * each opens the repository under its shared lock, re-reads the index and checks the manifest,
 * so the figure measures the queue (claims, leases, log and status writes), not the disks.
 * Needs PostgreSQL on 127.0.0.1:5432 (CHAINVAULT_TEST_POSTGRES_URL to change it).
 */
const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { mkdtempSync, mkdirSync, rmSync, writeFileSync } = require('node:fs');
const { createServer } = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { Client } = require('pg');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const JOBS = option('jobs', 10_000);
const INSTANCES = option('instances', 2);
const CONCURRENCY = option('concurrency', 4);
const ADMIN_URL = process.env.CHAINVAULT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MAIN = join(__dirname, '..', '..', 'apps', 'server', 'dist', 'main.js');

const freePort = () =>
  new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });

async function graphql(url, query, variables = {}) {
  const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const body = await response.json();
  if (body.errors) throw new Error(body.errors.map((e) => e.message).join('; '));
  return body.data;
}

async function startInstance(n, work, databaseUrl, secretKey) {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      CHAINVAULT_DATA_DIR: join(work, `instance-${n}`),
      CHAINVAULT_PORT: String(port),
      CHAINVAULT_DATABASE_URL: databaseUrl,
      CHAINVAULT_SECRET_KEY: secretKey,
      CHAINVAULT_JOB_CONCURRENCY: String(CONCURRENCY),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  child.stderr.on('data', (d) => (errors += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (let tries = 0; ; tries++) {
    if (child.exitCode !== null) throw new Error(`instance ${n} exited: ${errors}`);
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) break;
    if (tries > 300) throw new Error(`instance ${n} did not start: ${errors}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { n, url, child };
}

(async () => {
  const work = mkdtempSync(join(tmpdir(), 'chainvault-load-'));
  const name = `chainvault_load_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const databaseUrl = Object.assign(new URL(ADMIN_URL), { pathname: `/${name}` }).toString();
  const instances = [];
  try {
    const secretKey = randomBytes(32).toString('base64');
    for (let n = 1; n <= INSTANCES; n++) instances.push(await startInstance(n, work, databaseUrl, secretKey));
    const [first] = instances;

    const source = join(work, 'source');
    mkdirSync(source);
    writeFileSync(join(source, 'ledger.dat'), randomBytes(256 * 1024));
    const { createNetwork } = await graphql(first.url, 'mutation ($i: CreateNetworkInput!) { createNetwork(input: $i) { id } }', { i: { name: 'load', protocol: 'directory' } });
    const { registerNode } = await graphql(first.url, 'mutation ($i: RegisterNodeInput!) { registerNode(input: $i) { id } }', { i: { networkId: createNetwork.id, name: 'files', plugin: 'directory', role: 'node', config: { path: source } } });
    const { createDestination } = await graphql(first.url, 'mutation ($i: CreateDestinationInput!) { createDestination(input: $i) { id } }', { i: { name: 'load-repo', kind: 'LOCAL', config: { path: join(work, 'repository') } } });
    const { createPolicy } = await graphql(first.url, 'mutation ($i: CreatePolicyInput!) { createPolicy(input: $i) { id } }', { i: { name: 'load', nodeId: registerNode.id, method: 'snapshot', destinationIds: [createDestination.id] } });
    const { runBackup } = await graphql(first.url, 'mutation ($p: ID!) { runBackup(policyId: $p) { id } }', { p: createPolicy.id });
    let backupId = null;
    while (!backupId) {
      const { job } = await graphql(first.url, 'query ($id: ID!) { job(id: $id) { status backupId } }', { id: runBackup.id });
      if (job.status === 'FAILED') throw new Error('the setup backup failed');
      if (job.status === 'COMPLETED') backupId = job.backupId;
      else await new Promise((r) => setTimeout(r, 100));
    }

    console.log(`${INSTANCES} instances on PostgreSQL, ${CONCURRENCY} jobs at once each; enqueueing ${JOBS} jobs through both APIs ...`);
    const started = Date.now();
    let next = 0;
    const ids = [];
    await Promise.all(
      Array.from({ length: 16 }, async (_, w) => {
        while (next < JOBS) {
          next++;
          const target = instances[w % instances.length];
          const { verifyBackup } = await graphql(target.url, 'mutation ($b: ID!) { verifyBackup(backupId: $b, readData: false) { id } }', { b: backupId });
          ids.push(verifyBackup.id);
        }
      }),
    );
    const enqueued = Date.now();
    console.log(`enqueued ${ids.length} in ${((enqueued - started) / 1000).toFixed(1)} s; waiting for them to run ...`);

    const catalog = new Client({ connectionString: databaseUrl });
    await catalog.connect();
    for (;;) {
      const { rows } = await catalog.query(`SELECT count(*)::int AS open FROM job WHERE kind = 'VERIFY' AND status IN ('QUEUED', 'RUNNING')`);
      if (rows[0].open === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const finished = Date.now();

    const { rows: statuses } = await catalog.query(`SELECT status, count(*)::int AS n FROM job WHERE kind = 'VERIFY' GROUP BY status ORDER BY status`);
    const { rows: jobs } = await catalog.query(`SELECT id, attempts, log, lease_owner FROM job WHERE kind = 'VERIFY'`);
    const { rows: ends } = await catalog.query(`SELECT subject_id, count(*)::int AS n FROM audit_event WHERE action = 'job.completed' AND subject_id = ANY($1) GROUP BY subject_id`, [ids]);
    await catalog.end();

    const starts = jobs.map((j) => (typeof j.log === 'string' ? JSON.parse(j.log) : j.log).filter((l) => l.message.startsWith('started by ')).map((l) => l.message.split(' ')[2]));
    const ranTwice = starts.filter((s) => s.length !== 1).length;
    const byInstance = {};
    for (const s of starts) if (s[0]) byInstance[s[0]] = (byInstance[s[0]] ?? 0) + 1;
    const endedTwice = ends.filter((e) => e.n !== 1).length;
    const lost = ids.length - jobs.length + ids.filter((id) => !ends.some((e) => e.subject_id === id)).length;
    const seconds = (finished - started) / 1000;

    console.log('');
    console.log(`| jobs enqueued | ${ids.length} |`);
    console.log(`| statuses | ${statuses.map((s) => `${s.status} ${s.n}`).join(', ')} |`);
    console.log(`| started more than once (log) | ${ranTwice} |`);
    console.log(`| completion recorded more than once (audit) | ${endedTwice} |`);
    console.log(`| lost (enqueued but not completed) | ${lost} |`);
    console.log(`| run by instance | ${Object.entries(byInstance).map(([owner, n]) => `${owner.split(':')[1]}: ${n}`).join(', ')} |`);
    console.log(`| wall time, first enqueue to last end | ${seconds.toFixed(1)} s |`);
    console.log(`| throughput | ${(ids.length / seconds).toFixed(0)} jobs/s |`);
    if (ranTwice || endedTwice || lost || statuses.some((s) => s.status !== 'COMPLETED')) process.exitCode = 1;
  } finally {
    for (const instance of instances) instance.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1500));
    for (const instance of instances) instance.child.kill('SIGKILL');
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    rmSync(work, { recursive: true, force: true });
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
