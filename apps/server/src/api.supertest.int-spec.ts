/**
 * Every query, mutation and subscription of the GraphQL API, called over HTTP with supertest on
 * the real application in this process: a temporary SQLite catalog and data directory, the
 * admin token the server wrote, the built-in plugins on temporary folders, jobs run by the
 * in-process worker. Each field is asked as a user would and its answer checked; each mutation
 * also gets a bad input, answered with a coded error, after which nothing has changed. The last
 * test reads the served schema and names every field this suite never called.
 */
import type { INestApplication } from '@nestjs/common';
import { JobWorker } from '@chainvault/core';
import { createClient } from 'graphql-ws';
import { Kind, parse } from 'graphql';
import { createHash, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import request from 'supertest';
import WebSocket from 'ws';
import { DEFAULTS } from './config/config.loader';
import { createServer } from './server';

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
const ENDED = ['COMPLETED', 'FAILED', 'CANCELLED', 'SKIPPED'];

/** Top-level fields each operation asked for, as `Query.x`, `Mutation.y`, `Subscription.z`. */
const called = new Set<string>();

function track(query: string): void {
  for (const definition of parse(query).definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    const root = { query: 'Query', mutation: 'Mutation', subscription: 'Subscription' }[definition.operation];
    for (const selection of definition.selectionSet.selections) {
      if (selection.kind === Kind.FIELD && !selection.name.value.startsWith('__')) called.add(`${root}.${selection.name.value}`);
    }
  }
}

interface GraphqlError {
  message: string;
  extensions?: { code?: string; [key: string]: unknown };
}

/** A small tree with a nested folder, a binary file and a symlink, as a node's data. */
async function writeTree(root: string): Promise<void> {
  await mkdir(join(root, 'sub', 'deeper'), { recursive: true });
  await writeFile(join(root, 'a.txt'), 'alpha\n');
  await writeFile(join(root, 'sub', 'b.bin'), randomBytes(64 * 1024));
  await writeFile(join(root, 'sub', 'deeper', 'c.txt'), 'gamma\n');
  await symlink('a.txt', join(root, 'link'));
}

/** Every entry under `root`: a file's sha256, a symlink's target, `dir` for a folder. */
async function readTree(root: string): Promise<Record<string, string>> {
  const entries: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const name = relative(root, path);
      if (entry.isSymbolicLink()) entries[name] = `-> ${await readlink(path)}`;
      else if (entry.isDirectory()) {
        entries[name] = 'dir';
        await walk(path);
      } else entries[name] = createHash('sha256').update(await readFile(path)).digest('hex');
    }
  };
  await walk(root);
  return entries;
}

/** A weekday three days from now: a maintenance window on it is not open while this suite runs. */
function farWeekday(): string {
  return ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'][(new Date().getUTCDay() + 3) % 7];
}

const PLUGIN_INDEX = `'use strict';
const { cp } = require('node:fs/promises');
const { definePlugin } = require('@chainvault/plugin-sdk');
const dir = { type: 'object', properties: { dir: { type: 'string', minLength: 1 } }, required: ['dir'], additionalProperties: false };
module.exports = definePlugin({
  id: 'memo',
  protocols: ['memo'],
  description: 'A folder of memos.',
  nodeConfigSchema: dir,
  methods: {
    copy: {
      scope: 'node',
      description: 'Copies the folder.',
      restoreTargetSchema: dir,
      async backup(ctx) { await ctx.artifacts.addTree(ctx.node.config.dir); return { metadata: {} }; },
      async restore(ctx) { await ctx.artifacts.extractTree(ctx.target.config.dir); return { details: {} }; },
    },
  },
});
`;

/** A third-party plugin package in a folder, as `installPlugin` takes it. */
async function writePluginPackage(root: string): Promise<string> {
  const dir = join(root, 'chainvault-plugin-memo');
  await mkdir(dir, { recursive: true });
  const pkg = {
    name: 'chainvault-plugin-memo',
    version: '0.3.0',
    main: 'index.js',
    license: 'MIT',
    chainvault: { plugin: { id: 'memo', apiVersion: '^1.0.0', entry: './index.js' } },
    peerDependencies: { '@chainvault/plugin-sdk': '^1.0.0' },
  };
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  await writeFile(join(dir, 'index.js'), PLUGIN_INDEX);
  return dir;
}

const NETWORKS = `{ networks { id name protocol labels } }`;
const NODES = `query ($networkId: ID) { nodes(networkId: $networkId) { id name networkId plugin role config secretFields } }`;
const DESTINATIONS = `{ destinations { id name kind config secretFields } }`;
const POLICY_FIELDS = `id name plugin method nodeId networkId destinationIds enabled options
  schedule { preset cron timeZone jitterSeconds outsideWindow } maintenanceWindows { days start end }
  retention { keepLast keepHourly keepDaily keepWeekly keepMonthly keepYearly keepWithin } webhook { url on }`;
const POLICIES = `{ policies { ${POLICY_FIELDS} nextFireTimes(count: 2) } }`;
const CREATE_POLICY = `mutation ($input: CreatePolicyInput!) { createPolicy(input: $input) { ${POLICY_FIELDS} nextFireTimes(count: 2) } }`;
const UPDATE_POLICY = `mutation ($id: ID!, $input: UpdatePolicyInput!) { updatePolicy(id: $id, input: $input) { ${POLICY_FIELDS} nextFireTimes(count: 2) } }`;
const REGISTER_NODE = `mutation ($input: RegisterNodeInput!) { registerNode(input: $input) { id name networkId plugin role config secretFields } }`;
const CREATE_DESTINATION = `mutation ($input: CreateDestinationInput!) { createDestination(input: $input) { id name kind config secretFields } }`;
const RUN_BACKUP = `mutation ($policyId: ID!) { runBackup(policyId: $policyId) { id kind status policyId } }`;
const RESTORE = `mutation ($input: RestoreInput!) { restoreBackup(input: $input) { id kind status backupId restoreId } }`;
const BACKUP = `query ($id: ID!) { backup(id: $id) { id status pinned policyId nodeId destinationId fileCount verification replicas { destinationId state } files { path type size } } }`;
const BACKUP_IDS = `query ($filter: BackupFilter) { backups(filter: $filter, first: 100) { totalCount nodes { id status pinned } } }`;
const JOB_COUNT = `{ jobPage(first: 1) { totalCount } }`;
const TOKENS = `{ tokens { id name role revokedAt } }`;
const PLUGINS = `{ plugins { id packageName version status source protocols error } }`;
const TEMPLATES = `{ restoreTemplates { id name pluginId targetNodeIds options } }`;

describe('the GraphQL API over HTTP, in-process (supertest)', () => {
  let work: string;
  let app: INestApplication;
  let server: Server;
  let adminToken: string;

  /** Posts an operation with a token (the admin's unless given) and returns the raw response. */
  const post = (query: string, variables: Record<string, unknown> = {}, token: string | null = adminToken) => {
    track(query);
    const call = request(server).post('/graphql').set('content-type', 'application/json');
    if (token) call.set('authorization', `Bearer ${token}`);
    return call.send({ query, variables });
  };

  /** The operation's data; fails the test with the server's messages if it answered errors. */
  async function ok(query: string, variables: Record<string, unknown> = {}, token?: string): Promise<Record<string, any>> {
    const response = await post(query, variables, token);
    const errors = response.body.errors as GraphqlError[] | undefined;
    if (errors?.length) throw new Error(`GraphQL error: ${errors.map((e) => `${e.extensions?.code}: ${e.message}`).join('; ')}`);
    expect(response.status).toBe(200);
    return response.body.data;
  }

  /** The first error of an operation that must fail. */
  async function fails(query: string, variables: Record<string, unknown> = {}, token?: string): Promise<GraphqlError> {
    const response = await post(query, variables, token);
    const errors = response.body.errors as GraphqlError[] | undefined;
    if (!errors?.length) throw new Error(`expected an error, got ${JSON.stringify(response.body.data)}`);
    return errors[0];
  }

  /** Polls `job(id)` until the job has ended. */
  async function waitForJob(id: string, timeoutMs = 60_000): Promise<Record<string, any>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { job } = await ok(`query ($id: ID!) { job(id: $id) { id kind status error result backupId restoreId policyId notBefore progress { unit done total } log { level message } } }`, { id });
      if (ENDED.includes(job.status)) return job;
      if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Polls a backup until its copy in each further destination has been made. */
  async function waitForReplicas(id: string, count: number): Promise<Record<string, any>[]> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { replicas } = (await ok(BACKUP, { id })).backup;
      if ((replicas.length === count && replicas.every((r: { state: string }) => r.state !== 'PENDING')) || Date.now() > deadline) return replicas;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  const jobCount = async () => (await ok(JOB_COUNT)).jobPage.totalCount as number;
  const backupNow = async (policyId: string) => waitForJob((await ok(RUN_BACKUP, { policyId })).runBackup.id);

  // What the scenario builds, test after test.
  let source: string;
  let ledger: { id: string };
  let files: { id: string };
  let spare: { id: string; config: { path: string } };
  let primary: { id: string; config: { path: string } };
  let copy: { id: string };
  let nightly: Record<string, any>;
  let windowed: Record<string, any>;
  let firstBackupId: string;
  let secondBackupId: string;
  let cancelledJobId: string;
  let checkpointJobId: string;
  let replicaNodeId: string;
  let checkpointPolicyId: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-supertest-'));
    const dataDir = join(work, 'data');
    app = await createServer({ ...DEFAULTS, dataDir, restoreRoots: [work], port: 0 }, { logLevels: ['error'] });
    // Listening (on loopback, a free port) so graphql-ws can connect too; supertest calls the same server.
    await app.listen(0, '127.0.0.1');
    server = app.getHttpServer();
    adminToken = (await readFile(join(dataDir, 'admin.token'), 'utf8')).trim();
    source = join(work, 'source');
    await writeTree(source);
  });

  afterAll(async () => {
    if (app) {
      await app.get(JobWorker).idle();
      server.closeAllConnections();
      await app.close();
    }
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('lists the plugins this server loaded, with their methods', async () => {
    const { plugins } = await ok(`{ plugins { id packageName source status error protocols roles apiVersion integrity nodeConfigSchema methods { name scope description exclusive } } }`);
    const directory = plugins.find((p: { id: string }) => p.id === 'directory');
    expect(directory).toMatchObject({ source: 'builtin', status: 'LOADED', error: null, protocols: ['directory'], integrity: null, methods: [{ name: 'snapshot', scope: 'node' }] });
    expect(directory.nodeConfigSchema.required).toEqual(['path']);
    expect(plugins.find((p: { id: string }) => p.id === 'rocksdb')).toMatchObject({ status: 'LOADED', methods: [expect.objectContaining({ name: 'checkpoint', exclusive: true })] });
  });

  it('creates, renames and removes networks; refuses an unknown protocol, a clashing name and an unknown id, changing nothing', async () => {
    ledger = (await ok(`mutation ($input: CreateNetworkInput!) { createNetwork(input: $input) { id name protocol labels createdAt } }`, { input: { name: 'ledger', protocol: 'directory', labels: { env: 'test' } } })).createNetwork;
    expect(ledger).toMatchObject({ name: 'ledger', protocol: 'directory', labels: { env: 'test' } });
    const before = (await ok(NETWORKS)).networks;

    const unknown = await fails(`mutation ($input: CreateNetworkInput!) { createNetwork(input: $input) { id } }`, { input: { name: 'typo', protocol: 'etherium' } });
    expect(unknown.extensions?.code).toBe('BAD_USER_INPUT');
    expect(unknown.message).toContain('no loaded plugin serves protocol "etherium"');
    expect((await ok(NETWORKS)).networks).toEqual(before);

    const { createNetwork: scratch } = await ok(`mutation ($input: CreateNetworkInput!) { createNetwork(input: $input) { id } }`, { input: { name: 'scratch', protocol: 'directory' } });
    const UPDATE = `mutation ($id: ID!, $input: UpdateNetworkInput!) { updateNetwork(id: $id, input: $input) { id name protocol labels } }`;
    expect((await ok(UPDATE, { id: scratch.id, input: { name: 'scratch-2', labels: { team: 'ops' } } })).updateNetwork).toEqual({ id: scratch.id, name: 'scratch-2', protocol: 'directory', labels: { team: 'ops' } });
    const renamed = (await ok(NETWORKS)).networks;
    const clash = await fails(UPDATE, { id: scratch.id, input: { name: 'ledger' } });
    expect(clash).toMatchObject({ message: 'a network named "ledger" already exists', extensions: { code: 'CONFLICT' } });
    expect((await ok(NETWORKS)).networks).toEqual(renamed);

    expect((await ok(`mutation ($id: ID!) { deleteNetwork(id: $id) { id name } }`, { id: scratch.id })).deleteNetwork).toEqual({ id: scratch.id, name: 'scratch-2' });
    expect((await ok(NETWORKS)).networks).toEqual(before);
    expect((await fails(`mutation ($id: ID!) { deleteNetwork(id: $id) { id } }`, { id: UNKNOWN_ID })).extensions?.code).toBe('NOT_FOUND');
    expect((await ok(NETWORKS)).networks).toEqual(before);
  });

  it('registers, lists and changes nodes; refuses a missing directory, a bad new config and removing a network with nodes', async () => {
    files = (await ok(REGISTER_NODE, { input: { networkId: ledger.id, name: 'files', plugin: 'directory', role: 'node', config: { path: source } } })).registerNode;
    expect(files).toMatchObject({ name: 'files', networkId: ledger.id, plugin: 'directory', role: 'node', config: { path: source }, secretFields: [] });
    const spareDir = join(work, 'spare');
    await mkdir(spareDir);
    spare = (await ok(REGISTER_NODE, { input: { networkId: ledger.id, name: 'spare', plugin: 'directory', role: 'node', config: { path: spareDir } } })).registerNode;
    const before = (await ok(NODES, { networkId: ledger.id })).nodes;
    expect(before.map((n: { name: string }) => n.name).sort()).toEqual(['files', 'spare']);

    const missing = await fails(REGISTER_NODE, { input: { networkId: ledger.id, name: 'ghost', plugin: 'directory', role: 'node', config: { path: join(work, 'missing') } } });
    expect(missing.extensions?.code).toBe('BAD_USER_INPUT');
    expect(missing.message).toContain(`${join(work, 'missing')} does not exist`);
    expect((await ok(NODES, {})).nodes).toEqual(before);

    const UPDATE = `mutation ($id: ID!, $input: UpdateNodeInput!) { updateNode(id: $id, input: $input) { id name role config } }`;
    expect((await ok(UPDATE, { id: spare.id, input: { name: 'spare-1' } })).updateNode).toEqual({ id: spare.id, name: 'spare-1', role: 'node', config: { path: spareDir } });
    const renamed = (await ok(NODES, {})).nodes;
    const badConfig = await fails(UPDATE, { id: spare.id, input: { config: { path: join(work, 'missing') } } });
    expect(badConfig.extensions?.code).toBe('BAD_USER_INPUT');
    expect(badConfig.message).toContain('does not exist');
    expect((await ok(NODES, {})).nodes).toEqual(renamed);

    const busy = await fails(`mutation ($id: ID!) { deleteNetwork(id: $id) { id } }`, { id: ledger.id });
    expect(busy.extensions?.code).toBe('CONFLICT');
    expect(busy.message).toContain('network "ledger" has 2 node(s)');
    expect((await ok(NETWORKS)).networks.map((n: { name: string }) => n.name)).toEqual(['ledger']);
  });

  it('creates, renames and removes destinations; refuses a bad config and a config that opens another repository', async () => {
    primary = (await ok(CREATE_DESTINATION, { input: { name: 'primary', kind: 'LOCAL', config: { path: join(work, 'repo-a') } } })).createDestination;
    expect(primary).toMatchObject({ name: 'primary', kind: 'LOCAL', config: { path: join(work, 'repo-a') }, secretFields: [] });
    copy = (await ok(CREATE_DESTINATION, { input: { name: 'copy', kind: 'LOCAL', config: { path: join(work, 'repo-b') } } })).createDestination;
    // An encrypted one: its passphrase is a secret field, never shown.
    const { createDestination: extra } = await ok(CREATE_DESTINATION, { input: { name: 'extra', kind: 'LOCAL', config: { path: join(work, 'repo-c'), passphrase: 'first-passphrase' } } });
    expect(extra).toMatchObject({ config: { path: join(work, 'repo-c') }, secretFields: ['passphrase'] });
    const before = (await ok(DESTINATIONS)).destinations;
    expect(before.map((d: { name: string }) => d.name)).toEqual(expect.arrayContaining(['copy', 'extra', 'primary']));

    const bad = await fails(CREATE_DESTINATION, { input: { name: 'broken', kind: 'LOCAL', config: { path: 3 } } });
    expect(bad.extensions?.code).toBe('BAD_USER_INPUT');
    expect(bad.message).toContain('config does not fit a LOCAL destination');
    expect((await ok(DESTINATIONS)).destinations).toEqual(before);

    // A config given without the passphrase keeps it: the repository still opens with it, or the change would be refused.
    const UPDATE = `mutation ($id: ID!, $input: UpdateDestinationInput!) { updateDestination(id: $id, input: $input) { id name kind config secretFields } }`;
    expect((await ok(UPDATE, { id: extra.id, input: { name: 'extra-2', config: { path: join(work, 'repo-c') } } })).updateDestination).toEqual({
      id: extra.id, name: 'extra-2', kind: 'LOCAL', config: { path: join(work, 'repo-c') }, secretFields: ['passphrase'],
    });
    const renamed = (await ok(DESTINATIONS)).destinations;
    const wrongSecret = await fails(UPDATE, { id: extra.id, input: { config: { path: join(work, 'repo-c'), passphrase: 'wrong-passphrase' } } });
    expect(wrongSecret.extensions?.code).toBe('BAD_USER_INPUT');
    expect(wrongSecret.message).toBe(`destination "extra-2": the new config was not saved: the passphrase does not open the repository at ${join(work, 'repo-c')}`);
    expect(JSON.stringify(wrongSecret)).not.toMatch(/wrong-passphrase|first-passphrase/);
    const elsewhere = await fails(UPDATE, { id: primary.id, input: { config: { path: join(work, 'repo-c') } } });
    expect(elsewhere.extensions?.code).toBe('BAD_USER_INPUT');
    expect(elsewhere.message).toContain('destination "primary": the new config was not saved');
    expect((await ok(DESTINATIONS)).destinations).toEqual(renamed);

    expect((await ok(`mutation ($id: ID!) { deleteDestination(id: $id) { id name } }`, { id: extra.id })).deleteDestination).toEqual({ id: extra.id, name: 'extra-2' });
    expect((await ok(DESTINATIONS)).destinations).toEqual(before.filter((d: { id: string }) => d.id !== extra.id));
  });

  it('creates policies with a schedule, windows and retention, pauses, resumes and changes them; refuses bad input, changing nothing', async () => {
    // 04:00 in Berlin on 29 February: far enough off that the scheduler never fires while this suite runs.
    nightly = (
      await ok(CREATE_POLICY, {
        input: {
          name: 'nightly', nodeId: files.id, method: 'snapshot', destinationIds: [primary.id],
          schedule: { cron: '0 4 29 2 *', timeZone: 'Europe/Berlin' }, retention: { keepLast: 2 }, webhook: { url: 'http://127.0.0.1:9/hook', on: ['FAILURE'] },
        },
      })
    ).createPolicy;
    expect(nightly).toMatchObject({
      name: 'nightly', plugin: 'directory', method: 'snapshot', nodeId: files.id, networkId: ledger.id, destinationIds: [primary.id], enabled: true,
      schedule: { cron: '0 4 29 2 *', timeZone: 'Europe/Berlin', preset: null }, retention: { keepLast: 2, keepDaily: null }, webhook: { url: 'http://127.0.0.1:9/hook', on: ['FAILURE'] },
      nextFireTimes: ['2028-02-29T03:00:00.000Z', '2032-02-29T03:00:00.000Z'],
    });
    windowed = (
      await ok(CREATE_POLICY, {
        input: {
          name: 'windowed', nodeId: files.id, method: 'snapshot', destinationIds: [primary.id],
          schedule: { cron: '0 4 29 2 *', timeZone: 'UTC' }, maintenanceWindows: [{ days: [farWeekday()], start: '03:00', end: '03:05' }],
        },
      })
    ).createPolicy;
    expect(windowed).toMatchObject({ maintenanceWindows: [{ days: [farWeekday()], start: '03:00', end: '03:05' }], schedule: { cron: '0 4 29 2 *', timeZone: 'UTC' } });
    const before = (await ok(POLICIES)).policies;
    expect(before.map((p: { name: string }) => p.name).sort()).toEqual(['nightly', 'windowed']);

    const badMethod = await fails(CREATE_POLICY, { input: { name: 'typo', nodeId: files.id, method: 'snapshots', destinationIds: [primary.id] } });
    expect(badMethod.extensions?.code).toBe('BAD_USER_INPUT');
    expect(badMethod.message).toContain('snapshots');
    const windowsAlone = await fails(CREATE_POLICY, { input: { name: 'typo', nodeId: files.id, method: 'snapshot', destinationIds: [primary.id], maintenanceWindows: [{ days: ['MON'], start: '01:00', end: '02:00' }] } });
    expect(windowsAlone).toMatchObject({ message: 'maintenanceWindows need a schedule: its time zone says when the windows are', extensions: { code: 'BAD_USER_INPUT' } });
    expect((await ok(POLICIES)).policies).toEqual(before);

    const PAUSE = `mutation ($id: ID!) { pausePolicy(id: $id) { id enabled nextFireTimes } }`;
    const RESUME = `mutation ($id: ID!) { resumePolicy(id: $id) { id enabled } }`;
    expect((await ok(PAUSE, { id: nightly.id })).pausePolicy).toMatchObject({ id: nightly.id, enabled: false });
    expect((await ok(POLICIES)).policies.find((p: { id: string }) => p.id === nightly.id).enabled).toBe(false);
    expect((await ok(RESUME, { id: nightly.id })).resumePolicy).toEqual({ id: nightly.id, enabled: true });
    expect((await fails(PAUSE, { id: UNKNOWN_ID })).extensions?.code).toBe('NOT_FOUND');
    expect((await fails(RESUME, { id: UNKNOWN_ID })).extensions?.code).toBe('NOT_FOUND');
    expect((await ok(POLICIES)).policies).toEqual(before);

    // Renamed, a new retention, then the schedule removed: the policy no longer fires.
    const changed = (await ok(UPDATE_POLICY, { id: nightly.id, input: { name: 'nightly-2', retention: { keepLast: 3, keepDaily: 7 }, schedule: { cron: '0 5 29 2 *', timeZone: 'UTC' } } })).updatePolicy;
    expect(changed).toMatchObject({ id: nightly.id, name: 'nightly-2', retention: { keepLast: 3, keepDaily: 7, keepHourly: null }, schedule: { cron: '0 5 29 2 *', timeZone: 'UTC' }, nextFireTimes: ['2028-02-29T05:00:00.000Z', '2032-02-29T05:00:00.000Z'], webhook: { url: 'http://127.0.0.1:9/hook' } });
    expect((await ok(UPDATE_POLICY, { id: nightly.id, input: { enabled: false } })).updatePolicy).toMatchObject({ enabled: false, name: 'nightly-2' });
    expect((await ok(UPDATE_POLICY, { id: nightly.id, input: { enabled: true } })).updatePolicy).toMatchObject({ enabled: true, name: 'nightly-2' });
    const unscheduled = (await ok(UPDATE_POLICY, { id: nightly.id, input: { schedule: null, webhook: null } })).updatePolicy;
    expect(unscheduled).toMatchObject({ name: 'nightly-2', schedule: null, webhook: null, nextFireTimes: [], retention: { keepLast: 3, keepDaily: 7 } });
    const current = (await ok(POLICIES)).policies;
    for (const [input, code, message] of [
      [{ schedule: { cron: 'every night' } }, 'BAD_USER_INPUT', 'every night'],
      [{ name: 'windowed' }, 'CONFLICT', '"windowed"'],
      [{ retention: { keepLast: -1 } }, 'BAD_USER_INPUT', 'keepLast'],
      [{ destinationIds: [UNKNOWN_ID] }, 'NOT_FOUND', UNKNOWN_ID],
    ] as const) {
      const refused = await fails(UPDATE_POLICY, { id: nightly.id, input });
      expect({ code: refused.extensions?.code, message: refused.message }).toEqual({ code, message: expect.stringContaining(message) });
    }
    expect((await ok(POLICIES)).policies).toEqual(current);
    nightly = current.find((p: { id: string }) => p.id === nightly.id);

    // What the policies use cannot go from under them.
    const writes = await fails(`mutation ($id: ID!) { deleteDestination(id: $id) { id } }`, { id: primary.id });
    expect(writes.extensions?.code).toBe('CONFLICT');
    expect(writes.message).toContain('nightly-2');
    const backsUp = await fails(`mutation ($id: ID!) { deleteNode(id: $id) { id } }`, { id: files.id });
    expect(backsUp.extensions?.code).toBe('CONFLICT');
    expect(backsUp.message).toContain('node "files" is backed up by 2 policy(ies)');
    expect((await ok(DESTINATIONS)).destinations.map((d: { id: string }) => d.id)).toContain(primary.id);
    expect((await ok(NODES, {})).nodes.map((n: { id: string }) => n.id)).toContain(files.id);
  });

  it('backs up a node and lists the backup with its files and its job; refuses an unknown policy, queuing nothing', async () => {
    const { runBackup } = await ok(RUN_BACKUP, { policyId: nightly.id });
    expect(runBackup).toMatchObject({ kind: 'BACKUP', policyId: nightly.id });
    const job = await waitForJob(runBackup.id);
    expect(job).toMatchObject({ status: 'COMPLETED', error: null, backupId: expect.any(String) });
    firstBackupId = job.backupId;

    const jobs = await jobCount();
    expect((await fails(RUN_BACKUP, { policyId: UNKNOWN_ID })).extensions?.code).toBe('NOT_FOUND');
    expect(await jobCount()).toBe(jobs);

    const { backups } = await ok(`query ($filter: BackupFilter) { backups(filter: $filter, first: 10) { totalCount nodes { id status plugin method } edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`, { filter: { policyId: nightly.id } });
    expect(backups).toMatchObject({ totalCount: 1, nodes: [{ id: firstBackupId, status: 'COMPLETED', plugin: 'directory', method: 'snapshot' }], edges: [{ cursor: expect.any(String), node: { id: firstBackupId } }], pageInfo: { hasNextPage: false } });
    const { backup } = await ok(BACKUP, { id: firstBackupId });
    expect(backup).toMatchObject({ status: 'COMPLETED', pinned: false, policyId: nightly.id, nodeId: files.id, destinationId: primary.id, fileCount: 3, verification: 'UNVERIFIED' });
    expect(backup.files.map((f: { path: string; type: string }) => `${f.type} ${f.path}`).sort()).toEqual(['directory .', 'directory sub', 'directory sub/deeper', 'file a.txt', 'file sub/b.bin', 'file sub/deeper/c.txt', 'symlink link']);
    // A page at a time, in path order: the pages add up to every entry.
    const FILES = `query ($id: ID!, $first: Int, $after: String) { backup(id: $id) { files(first: $first, after: $after) { path } } }`;
    const paths: string[] = backup.files.map((f: { path: string }) => f.path).sort();
    const paged: string[] = [];
    for (let after: string | null = null; ; ) {
      const page = (await ok(FILES, { id: firstBackupId, first: 3, after })).backup.files.map((f: { path: string }) => f.path);
      paged.push(...page);
      if (page.length < 3) break;
      after = page[2];
    }
    expect(paged).toEqual(paths);
    const badPage = await fails(FILES, { id: firstBackupId, first: 0 });
    expect(badPage).toMatchObject({ message: 'first must be between 1 and 1000, got 0', extensions: { code: 'BAD_USER_INPUT' } });
    expect((await ok(BACKUP, { id: UNKNOWN_ID })).backup).toBeNull();

    const { jobs: listed } = await ok(`query ($policyId: ID) { jobs(kind: [BACKUP], policyId: $policyId) { id status backupId } }`, { policyId: nightly.id });
    expect(listed).toEqual([{ id: runBackup.id, status: 'COMPLETED', backupId: firstBackupId }]);
    expect((await ok(`query ($id: ID!) { job(id: $id) { id } }`, { id: UNKNOWN_ID })).job).toBeNull();
    const { jobPage } = await ok(`query ($filter: JobFilter) { jobPage(filter: $filter, first: 1) { totalCount pageInfo { hasNextPage endCursor } nodes { id backup { id status } } } }`, { filter: { kind: ['BACKUP'], policyId: nightly.id } });
    expect(jobPage).toMatchObject({ totalCount: 1, pageInfo: { hasNextPage: false }, nodes: [{ id: runBackup.id, backup: { id: firstBackupId, status: 'COMPLETED' } }] });
  });

  it("tells each policy's last success and last failure, and previews a schedule before it is saved; refuses a bad time zone or count", async () => {
    const OUTCOMES = `{ policies { id lastSuccess { at backupId jobId error } lastFailure { at jobId error } } }`;
    const { policies } = await ok(OUTCOMES);
    const { backup } = await ok(`query ($id: ID!) { backup(id: $id) { createdAt jobId } }`, { id: firstBackupId });
    expect(policies.find((p: { id: string }) => p.id === nightly.id)).toEqual({
      id: nightly.id, lastSuccess: { at: backup.createdAt, backupId: firstBackupId, jobId: backup.jobId, error: null }, lastFailure: null,
    });
    expect(policies.find((p: { id: string }) => p.id === windowed.id)).toEqual({ id: windowed.id, lastSuccess: null, lastFailure: null });
    const { destinations } = await ok(`{ destinations { id usage { backups storedBytes lastCheck { status } } } }`);
    const { backup: stored } = await ok(`query ($id: ID!) { backup(id: $id) { storedSize } }`, { id: firstBackupId });
    expect(destinations.find((d: { id: string }) => d.id === primary.id).usage).toEqual({ backups: 1, storedBytes: stored.storedSize, lastCheck: null });

    const PREVIEW = `query ($schedule: ScheduleInput!, $count: Int) { schedulePreview(schedule: $schedule, count: $count) }`;
    // 04:00 in Berlin on 29 February is 03:00 UTC (winter time), in leap years only.
    expect((await ok(PREVIEW, { schedule: { cron: '0 4 29 2 *', timeZone: 'Europe/Berlin' }, count: 2 })).schedulePreview).toEqual(['2028-02-29T03:00:00.000Z', '2032-02-29T03:00:00.000Z']);
    expect((await ok(PREVIEW, { schedule: { preset: 'HOURLY' } })).schedulePreview).toHaveLength(5);
    expect(await fails(PREVIEW, { schedule: { cron: '0 4 * * *', timeZone: 'Mars/Olympus' } })).toMatchObject({
      message: 'schedule.timeZone: "Mars/Olympus" is not an IANA time zone (for example Europe/Berlin)', extensions: { code: 'BAD_USER_INPUT' },
    });
    expect((await fails(PREVIEW, { schedule: { cron: '0 4 * *' } })).extensions?.code).toBe('BAD_USER_INPUT');
    expect(await fails(PREVIEW, { schedule: { preset: 'DAILY' }, count: 51 })).toMatchObject({ message: 'count must be between 1 and 50, got 51', extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('follows a backup over graphql-ws (jobProgress) to its end; an unknown job is NOT_FOUND', async () => {
    await writeFile(join(source, 'a.txt'), 'alpha, changed\n');
    const { runBackup } = await ok(RUN_BACKUP, { policyId: nightly.id });
    const SUBSCRIPTION = `subscription ($id: ID!) { jobProgress(jobId: $id) { id status backupId error } }`;
    track(SUBSCRIPTION);
    const address = server.address() as { port: number };
    const client = createClient({ url: `ws://127.0.0.1:${address.port}/graphql`, webSocketImpl: WebSocket, lazy: true, retryAttempts: 0, connectionParams: { authorization: `Bearer ${adminToken}` } });
    const follow = (id: string) =>
      new Promise<{ updates: Record<string, any>[]; error?: unknown }>((resolve) => {
        const updates: Record<string, any>[] = [];
        client.subscribe(
          { query: SUBSCRIPTION, variables: { id } },
          {
            next: (message) => {
              if (message.data) updates.push((message.data as Record<string, any>).jobProgress);
              if (message.errors) resolve({ updates, error: message.errors });
            },
            error: (error) => resolve({ updates, error }),
            complete: () => resolve({ updates }),
          },
        );
      });
    try {
      const { updates, error } = await follow(runBackup.id);
      expect(error).toBeUndefined();
      expect(updates.every((u) => u.id === runBackup.id)).toBe(true);
      expect(updates.at(-1)).toMatchObject({ status: 'COMPLETED', error: null, backupId: expect.any(String) });
      secondBackupId = updates.at(-1)!.backupId;
      const unknown = await follow(UNKNOWN_ID);
      expect(unknown.updates).toEqual([]);
      expect(JSON.stringify(unknown.error)).toContain('NOT_FOUND');
    } finally {
      await client.dispose();
    }
  });

  it('verifies, exports and restores a backup and lists the restore; refuses an unknown backup, an occupied folder and a relative path, queuing nothing', async () => {
    const verify = await waitForJob((await ok(`mutation ($id: ID!) { verifyBackup(backupId: $id, readData: true) { id kind } }`, { id: firstBackupId })).verifyBackup.id);
    expect(verify).toMatchObject({ kind: 'VERIFY', status: 'COMPLETED' });
    expect((await ok(BACKUP, { id: firstBackupId })).backup.verification).toBe('VERIFIED');

    const exported = join(work, 'exported');
    const exportJob = await waitForJob((await ok(`mutation ($id: ID!, $path: String!) { exportBackup(backupId: $id, path: $path) { id kind } }`, { id: firstBackupId, path: exported })).exportBackup.id);
    expect(exportJob).toMatchObject({ kind: 'EXPORT', status: 'COMPLETED' });
    expect(await readFile(join(exported, 'sub', 'deeper', 'c.txt'), 'utf8')).toBe('gamma\n');

    const restored = join(work, 'restored');
    const restoreJob = await waitForJob((await ok(RESTORE, { input: { backupId: secondBackupId, targetConfig: { path: restored } } })).restoreBackup.id);
    expect(restoreJob).toMatchObject({ kind: 'RESTORE', status: 'COMPLETED', restoreId: expect.any(String) });
    expect(await readTree(restored)).toEqual(await readTree(source));

    const jobs = await jobCount();
    const restores = (await ok(`query ($b: ID) { restores(backupId: $b) { id } }`, { b: secondBackupId })).restores;
    expect((await fails(`mutation ($id: ID!) { verifyBackup(backupId: $id) { id } }`, { id: UNKNOWN_ID })).extensions?.code).toBe('NOT_FOUND');
    const relativePath = await fails(`mutation ($id: ID!, $path: String!) { exportBackup(backupId: $id, path: $path) { id } }`, { id: firstBackupId, path: 'exports/here' });
    expect(relativePath.extensions?.code).toBe('BAD_USER_INPUT');
    expect(relativePath.message).toContain('exports/here');
    const occupied = await fails(RESTORE, { input: { backupId: secondBackupId, targetConfig: { path: restored } } });
    expect(occupied.extensions?.code).toBe('BAD_USER_INPUT');
    expect(occupied.message).toContain('is not empty');
    expect(await jobCount()).toBe(jobs);
    expect((await ok(`query ($b: ID) { restores(backupId: $b) { id } }`, { b: secondBackupId })).restores).toEqual(restores);

    const { restores: listed } = await ok(`query ($b: ID) { restores(backupId: $b, first: 10) { id backupId status targetConfig error finishedAt } }`, { b: secondBackupId });
    expect(listed).toEqual([{ id: restoreJob.restoreId, backupId: secondBackupId, status: 'COMPLETED', targetConfig: { path: restored }, error: null, finishedAt: expect.any(String) }]);
    expect((await ok(`query ($id: ID!) { restore(id: $id) { id status details } }`, { id: restoreJob.restoreId })).restore).toMatchObject({ id: restoreJob.restoreId, status: 'COMPLETED', details: { files: 3 } });
    expect((await ok(`query ($id: ID!) { restore(id: $id) { id } }`, { id: UNKNOWN_ID })).restore).toBeNull();

    // A restore set's phases, before anything starts: a plugin that orders none restores the set in one phase.
    const PHASES = `query ($b: ID!, $n: [ID!]!) { restorePhases(backupId: $b, targetNodeIds: $n) { name nodeIds } }`;
    expect((await ok(PHASES, { b: secondBackupId, n: [spare.id, files.id] })).restorePhases).toEqual([{ name: 'all nodes', nodeIds: [spare.id, files.id] }]);
    expect((await fails(PHASES, { b: secondBackupId, n: [spare.id, spare.id] })).message).toBe('targetNodeIds lists a node twice');
    expect((await fails(PHASES, { b: secondBackupId, n: [] })).message).toBe('targetNodeIds lists no node');
    expect((await fails(PHASES, { b: secondBackupId, n: [UNKNOWN_ID] })).extensions?.code).toBe('NOT_FOUND');
    expect(await jobCount()).toBe(jobs);
  });

  it('stores a restore template, restores through it and removes it; refuses an unknown target node, storing nothing', async () => {
    const CREATE = `mutation ($input: CreateRestoreTemplateInput!) { createRestoreTemplate(input: $input) { id name pluginId targetNodeIds description options } }`;
    const { createRestoreTemplate: template } = await ok(CREATE, { input: { name: 'onto-spare', description: 'the spare folder', targetNodeIds: [spare.id] } });
    expect(template).toMatchObject({ name: 'onto-spare', pluginId: 'directory', targetNodeIds: [spare.id], description: 'the spare folder' });
    const before = (await ok(TEMPLATES)).restoreTemplates;
    expect(before).toEqual([expect.objectContaining({ id: template.id, name: 'onto-spare' })]);
    expect((await fails(CREATE, { input: { name: 'nowhere', targetNodeIds: [UNKNOWN_ID] } })).extensions?.code).toBe('NOT_FOUND');
    expect((await ok(TEMPLATES)).restoreTemplates).toEqual(before);
    expect((await ok(`query ($id: String!) { restoreTemplate(id: $id) { id name } }`, { id: 'onto-spare' })).restoreTemplate).toEqual({ id: template.id, name: 'onto-spare' });

    const job = await waitForJob((await ok(RESTORE, { input: { backupId: secondBackupId, templateId: 'onto-spare' } })).restoreBackup.id);
    expect(job).toMatchObject({ status: 'COMPLETED', error: null });
    expect(await readTree(spare.config.path)).toEqual(await readTree(source));

    const DELETE = `mutation ($id: String!) { deleteRestoreTemplate(id: $id) { id name } }`;
    expect((await ok(DELETE, { id: 'onto-spare' })).deleteRestoreTemplate).toEqual({ id: template.id, name: 'onto-spare' });
    expect((await fails(DELETE, { id: 'onto-spare' })).extensions?.code).toBe('NOT_FOUND');
    expect((await ok(TEMPLATES)).restoreTemplates).toEqual([]);
  });

  it('copies earlier backups to a further destination; refuses a destination the policy already writes to', async () => {
    const ADD = `mutation ($p: ID!, $d: ID!) { addPolicyDestination(policyId: $p, destinationId: $d) { id destinationIds } }`;
    expect((await ok(ADD, { p: nightly.id, d: copy.id })).addPolicyDestination).toEqual({ id: nightly.id, destinationIds: [primary.id, copy.id] });
    for (const id of [firstBackupId, secondBackupId]) expect(await waitForReplicas(id, 1)).toEqual([{ destinationId: copy.id, state: 'COMPLETED' }]);
    const again = await fails(ADD, { p: nightly.id, d: copy.id });
    expect(again.extensions?.code).toBe('CONFLICT');
    expect(again.message).toContain('already writes to destination');
    expect((await ok(POLICIES)).policies.find((p: { id: string }) => p.id === nightly.id).destinationIds).toEqual([primary.id, copy.id]);
    const held = await fails(`mutation ($id: ID!) { deleteDestination(id: $id) { id } }`, { id: copy.id });
    expect(held.extensions?.code).toBe('CONFLICT');
  });

  it('pins backups, deletes one and applies retention (dry run first); refuses deleting a pinned backup, changing nothing', async () => {
    const PIN = `mutation ($id: ID!, $pinned: Boolean!) { pinBackup(id: $id, pinned: $pinned) { id pinned } }`;
    const DELETE = `mutation ($id: ID!) { deleteBackup(id: $id) }`;
    const RETAIN = `mutation ($id: ID!, $dryRun: Boolean!) { applyRetention(policyId: $id, dryRun: $dryRun) { policyId dryRun evaluatedAt kept { backupId reasons } deleted { backupId reasons } pruneJobIds } }`;
    const listed = async () => (await ok(BACKUP_IDS, { filter: { policyId: nightly.id } })).backups;

    // A third backup, pinned: it cannot be deleted until unpinned.
    await writeFile(join(source, 'sub', 'deeper', 'c.txt'), 'gamma, changed\n');
    const third = (await backupNow(nightly.id)).backupId;
    expect(await waitForReplicas(third, 1)).toEqual([{ destinationId: copy.id, state: 'COMPLETED' }]);
    expect((await ok(PIN, { id: third, pinned: true })).pinBackup).toEqual({ id: third, pinned: true });
    const before = await listed();
    expect(before.nodes.map((b: { id: string }) => b.id)).toEqual([third, secondBackupId, firstBackupId]);
    const refused = await fails(DELETE, { id: third });
    expect(refused).toMatchObject({ message: `backup ${third} is pinned; unpin it before deleting it`, extensions: { code: 'CONFLICT' } });
    expect((await fails(PIN, { id: UNKNOWN_ID, pinned: true })).extensions?.code).toBe('NOT_FOUND');
    expect(await listed()).toEqual(before);
    expect((await ok(PIN, { id: third, pinned: false })).pinBackup).toEqual({ id: third, pinned: false });
    expect((await ok(DELETE, { id: third })).deleteBackup).toBe(true);
    expect((await ok(BACKUP, { id: third })).backup).toMatchObject({ status: 'DELETED', files: [] });
    expect((await listed()).nodes.map((b: { id: string }) => b.id)).toEqual([secondBackupId, firstBackupId]);

    // keepLast 1 keeps the newest; a pinned backup stays too.
    await ok(UPDATE_POLICY, { id: nightly.id, input: { retention: { keepLast: 1 } } });
    await ok(PIN, { id: firstBackupId, pinned: true });
    const pinnedDry = (await ok(RETAIN, { id: nightly.id, dryRun: true })).applyRetention;
    expect(pinnedDry).toMatchObject({ policyId: nightly.id, dryRun: true, deleted: [], pruneJobIds: [] });
    expect(pinnedDry.kept.map((d: { backupId: string }) => d.backupId)).toEqual([secondBackupId, firstBackupId]);
    expect((await fails(RETAIN, { id: UNKNOWN_ID, dryRun: false })).extensions?.code).toBe('NOT_FOUND');
    expect((await listed()).nodes.map((b: { id: string }) => b.id)).toEqual([secondBackupId, firstBackupId]);

    // Unpinned, the first backup is still the last one verified good; once the second is verified, it goes.
    await ok(PIN, { id: firstBackupId, pinned: false });
    const verifiedDry = (await ok(RETAIN, { id: nightly.id, dryRun: true })).applyRetention;
    expect(verifiedDry).toMatchObject({ deleted: [], kept: [{ backupId: secondBackupId, reasons: ['last 1'] }, { backupId: firstBackupId, reasons: ['last verified good'] }] });
    const verify = await waitForJob((await ok(`mutation ($id: ID!) { verifyBackup(backupId: $id, readData: false) { id } }`, { id: secondBackupId })).verifyBackup.id);
    expect(verify.status).toBe('COMPLETED');
    const dry = (await ok(RETAIN, { id: nightly.id, dryRun: true })).applyRetention;
    expect(dry.deleted).toEqual([{ backupId: firstBackupId, reasons: ['matched no rule'] }]);
    expect((await listed()).totalCount).toBe(2);
    const applied = (await ok(RETAIN, { id: nightly.id, dryRun: false })).applyRetention;
    expect(applied).toMatchObject({ dryRun: false, deleted: [{ backupId: firstBackupId }], kept: [{ backupId: secondBackupId }] });
    expect((await listed()).nodes.map((b: { id: string }) => b.id)).toEqual([secondBackupId]);
    for (const id of applied.pruneJobIds) expect((await waitForJob(id)).status).toBe('COMPLETED');
  });

  it('cancels a backup waiting for its maintenance window; refuses cancelling it again', async () => {
    const { runBackup } = await ok(RUN_BACKUP, { policyId: windowed.id });
    cancelledJobId = runBackup.id;
    const JOB = `query ($id: ID!) { job(id: $id) { id status notBefore } }`;
    const deadline = Date.now() + 10_000;
    let job = (await ok(JOB, { id: runBackup.id })).job;
    while (!job.notBefore && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      job = (await ok(JOB, { id: runBackup.id })).job;
    }
    expect(job.status).toBe('QUEUED');
    expect(new Date(job.notBefore).getTime()).toBeGreaterThan(Date.now());

    const CANCEL = `mutation ($id: ID!) { cancelJob(id: $id) { id status error } }`;
    expect((await ok(CANCEL, { id: runBackup.id })).cancelJob).toMatchObject({ id: runBackup.id, status: 'CANCELLED', error: expect.stringContaining('before it started') });
    const again = await fails(CANCEL, { id: runBackup.id });
    expect(again.extensions?.code).toBe('CONFLICT');
    expect(again.message).toContain('already ended (CANCELLED)');
    expect((await ok(JOB, { id: runBackup.id })).job.status).toBe('CANCELLED');
  });

  it('checks and prunes a destination; refuses an unknown one, queuing nothing', async () => {
    const check = await waitForJob((await ok(`mutation ($id: ID!) { checkDestination(destinationId: $id, readData: true) { id kind } }`, { id: primary.id })).checkDestination.id);
    expect(check).toMatchObject({ kind: 'CHECK', status: 'COMPLETED', error: null });
    const { destinations } = await ok(`{ destinations { id usage { lastCheck { jobId status at error } } } }`);
    expect(destinations.find((d: { id: string }) => d.id === primary.id).usage.lastCheck).toEqual({ jobId: check.id, status: 'COMPLETED', at: expect.any(String), error: null });
    const prune = await waitForJob((await ok(`mutation ($id: ID!) { pruneDestination(destinationId: $id, dryRun: true) { id kind } }`, { id: primary.id })).pruneDestination.id);
    expect(prune).toMatchObject({ kind: 'PRUNE', status: 'COMPLETED', error: null });
    const jobs = await jobCount();
    expect((await fails(`mutation ($id: ID!) { checkDestination(destinationId: $id) { id } }`, { id: UNKNOWN_ID })).extensions?.code).toBe('NOT_FOUND');
    expect((await fails(`mutation ($id: ID!) { pruneDestination(destinationId: $id) { id } }`, { id: UNKNOWN_ID })).extensions?.code).toBe('NOT_FOUND');
    expect(await jobCount()).toBe(jobs);
  });

  it("answers a network's chain history document", async () => {
    const { chainHistory } = await ok(`query ($id: ID!) { chainHistory(networkId: $id) }`, { id: ledger.id });
    expect(chainHistory).toMatchObject({ provider: 'directory', history: [] });
    expect((await fails(`query ($id: ID!) { chainHistory(networkId: $id) }`, { id: UNKNOWN_ID })).extensions?.code).toBe('NOT_FOUND');
  });

  it("lists a node's checkpoints and runs its checkpoint policy; refuses a node without one, queuing nothing", async () => {
    // A RocksDB node's layout, without a live database: a partial checkpoint (no CURRENT yet) is listed as such, and never shipped.
    const rocks = join(work, 'rocks');
    await mkdir(join(rocks, 'db'), { recursive: true });
    await writeFile(join(rocks, 'db', 'CURRENT'), 'MANIFEST-000001\n');
    await writeFile(join(rocks, 'db', 'MANIFEST-000001'), '');
    await mkdir(join(rocks, 'checkpoints', '7'), { recursive: true });
    const { createNetwork: replicas } = await ok(`mutation ($input: CreateNetworkInput!) { createNetwork(input: $input) { id } }`, { input: { name: 'replicas', protocol: 'rocksdb' } });
    const { registerNode: replica } = await ok(REGISTER_NODE, { input: { networkId: replicas.id, name: 'replica-0', plugin: 'rocksdb', role: 'replica', config: { dataDirectory: join(rocks, 'db'), checkpointPath: join(rocks, 'checkpoints') } } });
    const CHECKPOINTS = `query ($id: ID!) { checkpoints(nodeId: $id) { location id method complete path backupId } }`;
    expect((await ok(CHECKPOINTS, { id: replica.id })).checkpoints).toEqual([{ location: 'NODE', id: '7', method: 'checkpoint', complete: false, path: join(rocks, 'checkpoints', '7'), backupId: null }]);
    expect((await fails(CHECKPOINTS, { id: files.id })).message).toContain('keeps no checkpoints');

    const CREATE = `mutation ($id: ID!) { createCheckpoint(nodeId: $id) { id kind policyId } }`;
    const jobs = await jobCount();
    const none = await fails(CREATE, { id: replica.id });
    expect(none.extensions?.code).toBe('BAD_USER_INPUT');
    expect(none.message).toContain('node "replica-0" has no enabled checkpoint policy');
    expect(await jobCount()).toBe(jobs);

    const { createPolicy } = await ok(CREATE_POLICY, { input: { name: 'checkpoints', nodeId: replica.id, method: 'checkpoint', destinationIds: [primary.id], options: { source: 'node' } } });
    const { createCheckpoint } = await ok(CREATE, { id: replica.id });
    expect(createCheckpoint).toMatchObject({ kind: 'BACKUP', policyId: createPolicy.id });
    const job = await waitForJob(createCheckpoint.id);
    [checkpointJobId, replicaNodeId, checkpointPolicyId] = [createCheckpoint.id, replica.id, createPolicy.id];
    expect(job).toMatchObject({ status: 'SKIPPED', backupId: null, error: `the node has no complete checkpoint in ${join(rocks, 'checkpoints')} yet` });
    expect(job.log.map((l: { message: string }) => l.message)).toContain(`skipping partial checkpoint 7 at ${join(rocks, 'checkpoints', '7')} (no CURRENT file): still being written, or abandoned`);
    await ok(`mutation ($id: ID!) { deletePolicy(id: $id) { id } }`, { id: createPolicy.id });
  });

  it('makes, lists and revokes tokens: a viewer reads but may not change anything, and a revoked token is refused', async () => {
    const CREATE = `mutation ($input: CreateTokenInput!) { createToken(input: $input) { secret token { id name role revokedAt } } }`;
    const { createToken } = await ok(CREATE, { input: { name: 'reader', role: 'VIEWER' } });
    expect(createToken).toMatchObject({ secret: expect.any(String), token: { name: 'reader', role: 'VIEWER', revokedAt: null } });
    const before = (await ok(TOKENS)).tokens;
    expect(before.map((t: { name: string }) => t.name)).toContain('reader');
    expect(JSON.stringify(before)).not.toContain(createToken.secret);
    const taken = await fails(CREATE, { input: { name: 'reader', role: 'ADMIN' } });
    expect(taken.extensions?.code).toBe('CONFLICT');
    expect((await ok(TOKENS)).tokens).toEqual(before);

    const viewer = createToken.secret as string;
    expect((await ok(NETWORKS, {}, viewer)).networks.map((n: { name: string }) => n.name)).toContain('ledger');
    const forbidden = await fails(`mutation ($input: CreateNetworkInput!) { createNetwork(input: $input) { id } }`, { input: { name: 'by-viewer', protocol: 'directory' } }, viewer);
    expect(forbidden.extensions?.code).toBe('FORBIDDEN');
    expect((await ok(NETWORKS)).networks.map((n: { name: string }) => n.name)).not.toContain('by-viewer');

    const REVOKE = `mutation ($id: ID!) { revokeToken(id: $id) { id name revokedAt } }`;
    expect((await ok(REVOKE, { id: 'reader' })).revokeToken).toMatchObject({ id: createToken.token.id, revokedAt: expect.any(String) });
    const refused = await post(NETWORKS, {}, viewer);
    expect(refused.status).toBe(401);
    expect(refused.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const tokens = (await ok(TOKENS)).tokens;
    expect((await fails(REVOKE, { id: 'nobody' })).extensions?.code).toBe('NOT_FOUND');
    expect((await ok(TOKENS)).tokens).toEqual(tokens);
  });

  it('installs a plugin from a folder and uninstalls it once no node uses it; refuses a URL and a built-in plugin, changing nothing', async () => {
    const INSTALL = `mutation ($spec: String!) { installPlugin(spec: $spec) { id packageName version status source error protocols } }`;
    const UNINSTALL = `mutation ($id: ID!) { uninstallPlugin(id: $id) { id packageName status } }`;
    const folder = await writePluginPackage(join(work, 'plugin-sources'));
    expect((await ok(INSTALL, { spec: folder })).installPlugin).toEqual({ id: 'memo', packageName: 'chainvault-plugin-memo', version: '0.3.0', status: 'LOADED', source: 'installed', error: null, protocols: ['memo'] });
    const before = (await ok(PLUGINS)).plugins;
    const url = await fails(INSTALL, { spec: 'https://example.invalid/chainvault-plugin-memo.tgz' });
    expect(url.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await ok(PLUGINS)).plugins).toEqual(before);

    const memos = join(work, 'memos');
    await mkdir(memos);
    const { createNetwork: notebook } = await ok(`mutation ($input: CreateNetworkInput!) { createNetwork(input: $input) { id } }`, { input: { name: 'notebook', protocol: 'memo' } });
    const { registerNode: desk } = await ok(REGISTER_NODE, { input: { networkId: notebook.id, name: 'desk', plugin: 'memo', role: 'node', config: { dir: memos } } });
    const used = await fails(UNINSTALL, { id: 'memo' });
    expect(used).toMatchObject({ message: 'plugin "memo" is used by 1 node(s) (desk); delete them first', extensions: { code: 'CONFLICT' } });
    const builtin = await fails(UNINSTALL, { id: 'ethereum' });
    expect(builtin.extensions?.code).toBe('CONFLICT');
    expect(builtin.message).toContain('built into this server');
    // An upgrade to the version already installed, or of a built-in plugin, is refused. (A real
    // upgrade loads new code, which Jest's module registry would not; plugin-upgrade.e2e-spec.ts
    // does it on a server process.)
    const UPGRADE = `mutation ($id: ID!, $spec: String!) { upgradePlugin(id: $id, spec: $spec) { id version } }`;
    expect(await fails(UPGRADE, { id: 'memo', spec: folder })).toMatchObject({ message: expect.stringContaining('already at version 0.3.0'), extensions: { code: 'CONFLICT' } });
    expect((await fails(UPGRADE, { id: 'ethereum', spec: folder })).message).toContain('built into this server');
    expect((await ok(PLUGINS)).plugins).toEqual(before);

    // Turned off and on again, keeping its node.
    expect((await ok(`mutation ($id: ID!) { disablePlugin(id: $id) { id status } }`, { id: 'memo' })).disablePlugin).toEqual({ id: 'memo', status: 'DISABLED' });
    expect((await fails(`mutation ($id: ID!) { disablePlugin(id: $id) { id } }`, { id: 'memo' })).extensions?.code).toBe('CONFLICT');
    expect((await ok(`mutation ($id: ID!) { enablePlugin(id: $id) { id status } }`, { id: 'memo' })).enablePlugin).toEqual({ id: 'memo', status: 'LOADED' });
    expect((await fails(`mutation ($id: ID!) { enablePlugin(id: $id) { id } }`, { id: 'memo' })).extensions?.code).toBe('CONFLICT');
    expect((await ok(`mutation ($id: ID!) { deleteNode(id: $id) { id name } }`, { id: desk.id })).deleteNode).toEqual({ id: desk.id, name: 'desk' });
    expect((await ok(UNINSTALL, { id: 'memo' })).uninstallPlugin).toMatchObject({ id: 'memo', packageName: 'chainvault-plugin-memo' });
    expect((await ok(PLUGINS)).plugins.map((p: { id: string }) => p.id)).not.toContain('memo');
  });

  it('deletes policies (keeping their backups unless asked) and then their node; the backups stay listed and restorable', async () => {
    const DELETE = `mutation ($id: ID!, $deleteBackups: Boolean) { deletePolicy(id: $id, deleteBackups: $deleteBackups) { id name } }`;
    // A pinned backup cannot go, so neither does its policy when asked to delete its backups.
    await ok(`mutation ($id: ID!) { pinBackup(id: $id, pinned: true) { id } }`, { id: secondBackupId });
    const policies = (await ok(POLICIES)).policies;
    const pinned = await fails(DELETE, { id: nightly.id, deleteBackups: true });
    expect(pinned.extensions?.code).toBe('CONFLICT');
    expect(pinned.message).toContain(secondBackupId);
    expect((await fails(DELETE, { id: UNKNOWN_ID })).extensions?.code).toBe('NOT_FOUND');
    expect((await ok(POLICIES)).policies).toEqual(policies);
    expect((await ok(BACKUP, { id: secondBackupId })).backup).toMatchObject({ status: 'COMPLETED', pinned: true });

    expect((await ok(DELETE, { id: windowed.id, deleteBackups: true })).deletePolicy).toEqual({ id: windowed.id, name: 'windowed' });
    expect((await ok(DELETE, { id: nightly.id })).deletePolicy).toEqual({ id: nightly.id, name: 'nightly-2' });
    expect((await ok(POLICIES)).policies).toEqual([]);
    expect((await ok(`mutation ($id: ID!) { deleteNode(id: $id) { id name } }`, { id: files.id })).deleteNode).toEqual({ id: files.id, name: 'files' });
    expect((await ok(NODES, { networkId: ledger.id })).nodes.map((n: { name: string }) => n.name)).toEqual(['spare-1']);

    expect((await ok(BACKUP_IDS, { filter: {} })).backups.nodes.map((b: { id: string }) => b.id)).toContain(secondBackupId);
    const again = join(work, 'restored-after-delete');
    const job = await waitForJob((await ok(RESTORE, { input: { backupId: secondBackupId, targetConfig: { path: again } } })).restoreBackup.id);
    expect(job).toMatchObject({ status: 'COMPLETED', error: null });
    expect((await stat(join(again, 'sub', 'b.bin'))).size).toBe(64 * 1024);
  });

  it('lists jobs newest first, a page at a time, filtered by status, kind, policy, node and time; refuses a page size out of range', async () => {
    const JOBS = `query ($status: [JobStatus!], $kind: [JobKind!], $policyId: ID, $nodeId: ID, $since: DateTime, $first: Int, $after: String) {
      jobs(status: $status, kind: $kind, policyId: $policyId, nodeId: $nodeId, since: $since, first: $first, after: $after) { id kind status createdAt } }`;
    const all = (await ok(JOBS, { first: 1000 })).jobs as { id: string; kind: string; status: string; createdAt: string }[];
    expect(all.length).toBeGreaterThan(10);
    const times = all.map((j) => new Date(j.createdAt).getTime());
    expect(times).toEqual([...times].sort((a, b) => b - a));

    const paged: string[] = [];
    for (let after: string | null = null; ; ) {
      const page = (await ok(JOBS, { first: 4, after })).jobs as { id: string }[];
      paged.push(...page.map((j) => j.id));
      if (page.length < 4) break;
      after = page[3].id;
    }
    expect(paged).toEqual(all.map((j) => j.id));
    const PAGE = `query ($filter: JobFilter, $first: Int, $after: String) { jobPage(filter: $filter, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } }`;
    const first = (await ok(PAGE, { first: 4 })).jobPage;
    expect(first).toMatchObject({ totalCount: all.length, pageInfo: { hasNextPage: true } });
    const second = (await ok(PAGE, { first: 4, after: first.pageInfo.endCursor })).jobPage;
    expect(second.nodes.map((j: { id: string }) => j.id)).toEqual(all.slice(4, 8).map((j) => j.id));

    expect((await ok(JOBS, { status: ['CANCELLED'] })).jobs.map((j: { id: string }) => j.id)).toEqual([cancelledJobId]);
    expect((await ok(JOBS, { kind: ['EXPORT'] })).jobs.map((j: { kind: string }) => j.kind)).toEqual(['EXPORT']);
    expect((await ok(JOBS, { nodeId: replicaNodeId })).jobs.map((j: { id: string }) => j.id)).toEqual([checkpointJobId]);
    expect((await ok(JOBS, { policyId: windowed.id })).jobs.map((j: { id: string }) => j.id)).toEqual([cancelledJobId]);
    expect((await ok(JOBS, { policyId: windowed.id, status: ['COMPLETED'] })).jobs).toEqual([]);
    expect((await ok(JOBS, { since: new Date(Date.now() + 60_000).toISOString() })).jobs).toEqual([]);
    const tooMany = await fails(JOBS, { first: 1001 });
    expect(tooMany).toMatchObject({ message: 'first must be between 1 and 1000, got 1001', extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('keeps every change in the audit log, newest first, a page at a time', async () => {
    const AUDIT = `query ($filter: AuditEventFilter, $first: Int, $after: String) { auditEvents(filter: $filter, first: $first, after: $after) { nodes { id action actor subjectId outcome details at } pageInfo { hasNextPage endCursor } } }`;
    const { auditEvents: renames } = await ok(AUDIT, { filter: { action: 'network.update' }, first: 10 });
    expect(renames.nodes).toEqual([expect.objectContaining({ action: 'network.update', actor: 'admin', details: expect.objectContaining({ name: 'scratch-2', previousName: 'scratch' }) })]);
    // Accepted deletions only: the refused ones left no event.
    const { auditEvents: deletions } = await ok(AUDIT, { filter: { action: 'policy.delete' }, first: 10 });
    expect(deletions.nodes.map((e: { subjectId: string }) => e.subjectId).sort()).toEqual([checkpointPolicyId, nightly.id, windowed.id].sort());
    const actions = new Set<string>();
    let after: string | null = null;
    let pages = 0;
    do {
      const { auditEvents } = await ok(AUDIT, { first: 25, after });
      for (const event of auditEvents.nodes) actions.add(event.action);
      after = auditEvents.pageInfo.hasNextPage ? auditEvents.pageInfo.endCursor : null;
      pages += 1;
    } while (after);
    expect(pages).toBeGreaterThan(1);
    for (const action of ['network.delete', 'node.delete', 'policy.update', 'policy.delete', 'destination.update', 'destination.delete', 'plugin.uninstall', 'token.revoke', 'job.cancel']) {
      expect([...actions]).toContain(action);
    }
  });

  it('calls every query, mutation and subscription of the served schema', async () => {
    const { __schema } = await ok(`{ __schema { queryType { fields { name } } mutationType { fields { name } } subscriptionType { fields { name } } } }`);
    const served = [
      ...__schema.queryType.fields.map((f: { name: string }) => `Query.${f.name}`),
      ...__schema.mutationType.fields.map((f: { name: string }) => `Mutation.${f.name}`),
      ...__schema.subscriptionType.fields.map((f: { name: string }) => `Subscription.${f.name}`),
    ];
    expect(served.filter((field) => !called.has(field)).sort()).toEqual([]);
  });
});
