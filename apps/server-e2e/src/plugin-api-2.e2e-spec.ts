/**
 * Plugin API 2 through GraphQL, with the lab and mirror test plugins (../test-plugins): nodes
 * that are real processes, on this host and on sshd "machines"; a disruptive network method
 * cancelled mid-run and killed with its server; exclusion across plugins; network and node runs
 * that wait for each other; a restore set in phases; a PARTIAL run; secrets in arrays; 1.x plugins.
 */
import { startSshd, type RunningSshd } from '@chainvault/testing';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GraphqlClient } from './support/graphql-client';
import { TEST_PLUGINS, labNodeConfig, labNodePid, sshMachine, startLabNode, stopLabNode, type LabNodeConfig } from './support/lab-nodes';
import { CREATE_DESTINATION, CREATE_NETWORK, CREATE_POLICY, REGISTER_NODE, RESTORE, RUN_BACKUP } from './support/scenario';
import { spawnServer, type ServerProcess } from './support/server-process';
import { startTestServer, type TestServer } from './support/test-server';

jest.setTimeout(180_000);

const JOB = `query ($id: ID!) { job(id: $id) { id kind status attempts error startedAt finishedAt log { level message } progress { unit done total message } } }`;
const CANCEL = `mutation ($id: ID!) { cancelJob(id: $id) { id status } }`;
const BACKUP = `query ($id: ID!) { backup(id: $id) { id status dependsOn report metadata } }`;
const API_KEY = 'lab-api-key-7f3a9c';
const PEER_TOKEN = 'peer-token-41d8e2';
const CANARY = 'canary-value-5b2e77';

/** Every line of a job's log, as one text. */
const logOf = (job: Record<string, any>) => (job.log as { message: string }[]).map((l) => l.message).join('\n');

async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface LabNetwork {
  networkId: string;
  nodes: { id: string; name: string; role: string; config: LabNodeConfig }[];
}

/** A lab network of nodes (started unless `start` is false) under `root`, on `machine` (this host by default). */
async function labNetwork(client: GraphqlClient, name: string, root: string, roles: string[], options: { start?: boolean; machine?: (i: number) => ReturnType<typeof sshMachine> | undefined; started?: LabNodeConfig[] } = {}): Promise<LabNetwork> {
  const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name, protocol: 'lab' } });
  const nodes: LabNetwork['nodes'] = [];
  for (const [i, role] of roles.entries()) {
    const nodeName = `${name}-${role}-${i}`;
    const config = await labNodeConfig(root, nodeName, options.machine?.(i));
    await writeFile(join(config.dataDir, 'ledger.bin'), randomBytes(64 * 1024));
    if (options.start !== false) {
      await startLabNode(config);
      options.started?.push(config);
    }
    const { registerNode } = await client.ok(REGISTER_NODE, {
      input: { networkId: createNetwork.id, name: nodeName, plugin: 'lab', role, config: { ...config, apiKey: API_KEY, peers: [{ name: 'a' }, { name: 'b', token: PEER_TOKEN }] } },
    });
    nodes.push({ id: registerNode.id, name: nodeName, role, config });
  }
  return { networkId: createNetwork.id, nodes };
}

/** The backup jobs of a policy (id and status), oldest first. */
async function jobsOf(client: GraphqlClient, policyId: string): Promise<{ id: string; status: string }[]> {
  const { jobs } = await client.ok(`{ jobs { id kind status policyId createdAt } }`);
  return (jobs as any[])
    .filter((j) => j.policyId === policyId && j.kind === 'BACKUP')
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
    .map(({ id, status }) => ({ id, status }));
}

async function destination(client: GraphqlClient, name: string, path: string): Promise<string> {
  const { createDestination } = await client.ok(CREATE_DESTINATION, { input: { name, kind: 'LOCAL', config: { path } } });
  return createDestination.id;
}

async function policy(client: GraphqlClient, input: Record<string, unknown>): Promise<string> {
  const { createPolicy } = await client.ok(CREATE_POLICY, { input: { retention: { keepLast: 10 }, ...input } });
  return createPolicy.id;
}

describe('plugin API 2 through GraphQL', () => {
  let work: string;
  let server: TestServer;
  let repo: string;
  const started: LabNodeConfig[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-api2-'));
    process.env.CHAINVAULT_CANARY_TOKEN = CANARY;
    server = await startTestServer({ config: { pluginPaths: [TEST_PLUGINS], cleanupGraceMs: 30_000, retryBackoffMs: 200, jobConcurrency: 4, maxJobsPerNode: 2 } });
    repo = await destination(server.client, 'repo', join(work, 'repository'));
  });
  afterAll(async () => {
    delete process.env.CHAINVAULT_CANARY_TOKEN;
    await server?.close();
    for (const config of started) await stopLabNode(config);
    await rm(work, { recursive: true, force: true });
  });

  it("shows each plugin's roles and each method's scope, traits and schemas", async () => {
    const { plugins } = await server.client.ok(`{ plugins { id status roles nodeConfigSchema methods { name scope disruptive exclusive phasedRestore history optionsSchema restoreOptionsSchema restoreTargetSchema } } }`);
    const lab = plugins.find((p: any) => p.id === 'lab');
    expect(lab).toMatchObject({ status: 'LOADED', roles: ['ca', 'orderer', 'peer', 'node'] });
    expect(lab.nodeConfigSchema.properties.apiKey).toEqual({ type: 'string', writeOnly: true });
    const offline = lab.methods.find((m: any) => m.name === 'offline');
    expect(offline).toMatchObject({ scope: 'network', disruptive: true, exclusive: true, phasedRestore: true, history: false });
    expect(offline.optionsSchema.properties.pauseMs.type).toBe('integer');
    expect(lab.methods.find((m: any) => m.name === 'copy')).toMatchObject({ scope: 'node', disruptive: false, exclusive: true, phasedRestore: false });
    const ethereum = plugins.find((p: any) => p.id === 'ethereum');
    expect(ethereum.methods.find((m: any) => m.name === 'chain-export')).toMatchObject({ history: true, disruptive: false });
  });

  it('cancels a disruptive run mid-way: CANCELLING while its cleanup starts the nodes again, then CANCELLED, not retried', async () => {
    const net = await labNetwork(server.client, 'cancel', join(work, 'cancel'), ['ca', 'peer', 'peer'], { started });
    const before = net.nodes.map((n) => labNodePid(n.config));
    const policyId = await policy(server.client, { name: 'cancel-offline', networkId: net.networkId, method: 'offline', destinationIds: [repo], options: { pauseMs: 2_000 } });
    const { runBackup } = await server.client.ok(RUN_BACKUP, { policyId });
    // Every node stopped: the run is in its copy phase.
    await waitUntil('the run stopped all three nodes', () => net.nodes.every((n) => labNodePid(n.config) === undefined));
    const { cancelJob } = await server.client.ok(CANCEL, { id: runBackup.id });
    expect(['CANCELLING', 'CANCELLED']).toContain(cancelJob.status);
    const job = await server.client.waitForJob(runBackup.id);
    expect(job.status).toBe('CANCELLED');
    expect(job.attempts).toBe(1);
    const log = logOf((await server.client.ok(JOB, { id: runBackup.id })).job);
    expect(log).toMatch(/cleanup \(cancelled\)/);
    expect(log).toMatch(/cleanup finished/);
    for (const node of net.nodes) {
      expect(log).toContain(`started node ${node.name}`);
      const pid = labNodePid(node.config);
      expect(pid).toBeDefined();
      expect(before).not.toContain(pid);
      // Started by the server: nothing of its environment but the basics, no secret of the node's config.
      const environ = await readFile(`/proc/${pid}/environ`, 'latin1');
      expect(environ).not.toContain(CANARY);
      expect(environ).not.toContain(API_KEY);
      expect(environ).not.toContain(PEER_TOKEN);
      expect(environ).not.toMatch(/CHAINVAULT_/);
    }
    // The plugin passed the API key to a command; the log shows the command, the key masked.
    expect(log).toContain('health-check ***');
    expect(log).not.toContain(API_KEY);
    expect(log).not.toContain(PEER_TOKEN);
    // Nothing runs it again.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await jobsOf(server.client, policyId)).toEqual([{ id: runBackup.id, status: 'CANCELLED' }]);
  });

  it('never returns a secret of a nested or array field, nor stores one in clear in the catalog', async () => {
    const net = await labNetwork(server.client, 'secrets', join(work, 'secrets'), ['node'], { start: false });
    const { nodes } = await server.client.ok(`{ nodes { id config secretFields } }`);
    const node = nodes.find((n: any) => n.id === net.nodes[0].id);
    expect(node.secretFields).toEqual(expect.arrayContaining(['apiKey', 'peers[1].token']));
    expect(node.config.peers).toEqual([{ name: 'a' }, { name: 'b' }]);
    expect(JSON.stringify(nodes)).not.toContain(API_KEY);
    expect(JSON.stringify(nodes)).not.toContain(PEER_TOKEN);
    const catalog = await readFile(join(server.config.dataDir, 'catalog.sqlite'));
    expect(catalog.includes(API_KEY)).toBe(false);
    expect(catalog.includes(PEER_TOKEN)).toBe(false);
  });

  it('refuses two exclusive methods of different plugins on the same machine and data directory, at creation and at resume', async () => {
    const net = await labNetwork(server.client, 'excl', join(work, 'excl'), ['node'], { start: false });
    const dataDir = net.nodes[0].config.dataDir;
    const copyPolicy = await policy(server.client, { name: 'excl-copy', nodeId: net.nodes[0].id, method: 'copy', destinationIds: [repo] });
    const { createNetwork } = await server.client.ok(CREATE_NETWORK, { input: { name: 'excl-mirror', protocol: 'mirror' } });
    const mirrorNode = async (name: string, directory: string) =>
      (await server.client.ok(REGISTER_NODE, { input: { networkId: createNetwork.id, name, plugin: 'mirror', role: 'node', config: { directory } } })).registerNode.id as string;
    for (const [name, directory] of [
      ['same', dataDir],
      ['inside', join(dataDir, 'sub')],
      ['spelt-differently', `${dataDir}/./`],
    ] as const) {
      await mkdir(directory, { recursive: true });
      const nodeId = await mirrorNode(`mirror-${name}`, directory);
      const error = await server.client.fails(CREATE_POLICY, { input: { name: `mirror-${name}`, nodeId, method: 'mirror', destinationIds: [repo] } });
      expect(error.extensions?.code).toBe('CONFLICT');
      expect(error.message).toContain('excl-copy');
    }
    // Another folder is fine; a paused policy does not block, but its resume does.
    const elsewhere = await mirrorNode('mirror-elsewhere', join(work, 'excl', 'elsewhere'));
    await mkdir(join(work, 'excl', 'elsewhere'), { recursive: true });
    await policy(server.client, { name: 'mirror-elsewhere', nodeId: elsewhere, method: 'mirror', destinationIds: [repo] });
    await server.client.ok(`mutation ($id: ID!) { pausePolicy(id: $id) { id } }`, { id: copyPolicy });
    const sameNode = await mirrorNode('mirror-later', dataDir);
    await policy(server.client, { name: 'mirror-later', nodeId: sameNode, method: 'mirror', destinationIds: [repo] });
    const resume = await server.client.fails(`mutation ($id: ID!) { resumePolicy(id: $id) { id enabled } }`, { id: copyPolicy });
    expect(resume.extensions?.code).toBe('CONFLICT');
    expect(resume.message).toContain('mirror-later');
  });

  it('runs a network-scope run and a node-scope run on one of its nodes one after the other, whichever came first', async () => {
    const net = await labNetwork(server.client, 'order', join(work, 'order'), ['peer', 'peer'], { start: false });
    const survey = await policy(server.client, { name: 'order-survey', networkId: net.networkId, method: 'survey', destinationIds: [repo], options: { pauseMs: 1_500 } });
    const copy = await policy(server.client, { name: 'order-copy', nodeId: net.nodes[0].id, method: 'copy', destinationIds: [repo], options: { pauseMs: 1_500 } });
    for (const [first, second] of [
      [copy, survey],
      [survey, copy],
    ]) {
      const a = (await server.client.ok(RUN_BACKUP, { policyId: first })).runBackup.id;
      await waitUntil('the first run started', async () => (await server.client.ok(JOB, { id: a })).job.status === 'RUNNING');
      const b = (await server.client.ok(RUN_BACKUP, { policyId: second })).runBackup.id;
      const [jobA, jobB] = [await server.client.waitForJob(a), await server.client.waitForJob(b)];
      expect([jobA.status, jobB.status]).toEqual(['COMPLETED', 'COMPLETED']);
      const full = (await server.client.ok(JOB, { id: b })).job;
      expect(new Date(full.startedAt).getTime()).toBeGreaterThanOrEqual(new Date((await server.client.ok(JOB, { id: a })).job.finishedAt).getTime());
    }
  });

  it('ends a run PARTIAL with a report of which nodes failed and why, keeps what it depends on, and restores a set in phases', async () => {
    const net = await labNetwork(server.client, 'set', join(work, 'set'), ['ca', 'peer', 'peer'], { start: false });
    const surveyPolicy = await policy(server.client, { name: 'set-survey', networkId: net.networkId, method: 'survey', destinationIds: [repo], retention: { keepLast: 1 } });
    const backupOf = async () => {
      const { runBackup } = await server.client.ok(RUN_BACKUP, { policyId: surveyPolicy });
      const job = await server.client.waitForJob(runBackup.id);
      expect(job.status).toBe('COMPLETED');
      return (await server.client.ok(BACKUP, { id: job.backupId })).backup;
    };
    const first = await backupOf();
    expect(first).toMatchObject({ status: 'COMPLETED', dependsOn: [] });

    // One node's folder gone: the run is PARTIAL and says which and why.
    const missing = net.nodes[2];
    await rm(missing.config.dataDir, { recursive: true });
    const partial = await backupOf();
    expect(partial.status).toBe('PARTIAL');
    expect(partial.dependsOn).toEqual([first.id]);
    const failed = (partial.report.nodes as any[]).filter((n) => n.status === 'failed');
    expect(failed).toEqual([expect.objectContaining({ nodeId: missing.id, reason: expect.stringContaining('does not exist') })]);

    // keepLast 1 keeps the PARTIAL backup and what it depends on.
    const { applyRetention } = await server.client.ok(`mutation ($id: ID!) { applyRetention(policyId: $id) { kept { backupId reasons } deleted { backupId } } }`, { id: surveyPolicy });
    expect(applyRetention.kept.map((k: any) => k.backupId).sort()).toEqual([first.id, partial.id].sort());
    expect(applyRetention.deleted).toEqual([]);
    expect((await server.client.ok(BACKUP, { id: first.id })).backup.status).toBe('COMPLETED');

    // A restore set: three fresh nodes, CAs first, then the peers.
    const targets = await labNetwork(server.client, 'set-restored', join(work, 'set-restored'), ['peer', 'ca', 'peer'], { start: false });
    for (const t of targets.nodes) await rm(join(t.config.dataDir, 'ledger.bin'));
    const { restoreBackup } = await server.client.ok(RESTORE, { input: { backupId: first.id, targetNodeIds: targets.nodes.map((t) => t.id) } });
    const job = await server.client.waitForJob(restoreBackup.id);
    expect(job.status).toBe('COMPLETED');
    const log = logOf((await server.client.ok(JOB, { id: restoreBackup.id })).job);
    expect(log).toMatch(/phase 1 of 2 \(cas\)/);
    expect(log).toMatch(/phase 2 of 2 \(peers\)/);
    expect(log.indexOf(`into ${targets.nodes[1].name}`)).toBeLessThan(log.indexOf(`into ${targets.nodes[0].name}`));
    for (const [i, t] of targets.nodes.entries()) {
      const source = net.nodes.find((n) => n.role === t.role)!;
      expect(existsSync(join(t.config.dataDir, 'ledger.bin'))).toBe(true);
      if (i === 1) expect(await readFile(join(t.config.dataDir, 'ledger.bin'))).toEqual(await readFile(join(join(work, 'set'), source.name, 'data', 'ledger.bin')));
    }
  });
});

describe('plugin API 2: nodes on sshd machines', () => {
  let alpha: RunningSshd;
  let beta: RunningSshd;
  let server: TestServer;
  let work: string;

  beforeAll(async () => {
    [alpha, beta] = await Promise.all([startSshd(), startSshd()]);
    work = await mkdtemp(join(tmpdir(), 'chainvault-api2-ssh-'));
    server = await startTestServer({ config: { pluginPaths: [TEST_PLUGINS], retryBackoffMs: 200 } });
  });
  afterAll(async () => {
    await server?.close();
    await Promise.all([alpha?.stop(), beta?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  it('backs up a node over SSH and restores it onto another machine; a changed host key fails the job naming both keys', async () => {
    const repo = await destination(server.client, 'ssh-repo', join(work, 'repository'));
    const net = await labNetwork(server.client, 'remote', alpha.root, ['node'], { start: false, machine: () => sshMachine(alpha) });
    const policyId = await policy(server.client, { name: 'remote-copy', nodeId: net.nodes[0].id, method: 'copy', destinationIds: [repo] });
    const { runBackup } = await server.client.ok(RUN_BACKUP, { policyId });
    const job = await server.client.waitForJob(runBackup.id);
    expect(job.status).toBe('COMPLETED');
    expect(logOf((await server.client.ok(JOB, { id: runBackup.id })).job)).toContain(`rsync ${alpha.username}@127.0.0.1:${alpha.port}:`);

    const target = await labNetwork(server.client, 'remote-target', beta.root, ['node'], { start: false, machine: () => sshMachine(beta) });
    await rm(join(target.nodes[0].config.dataDir, 'ledger.bin'));
    const { restoreBackup } = await server.client.ok(RESTORE, { input: { backupId: job.backupId, targetNodeId: target.nodes[0].id } });
    expect((await server.client.waitForJob(restoreBackup.id)).status).toBe('COMPLETED');
    expect(await readFile(join(target.nodes[0].config.dataDir, 'ledger.bin'))).toEqual(await readFile(join(net.nodes[0].config.dataDir, 'ledger.bin')));

    // The private key is a secret: never in an answer, never in clear in the catalog.
    const { nodes } = await server.client.ok(`{ nodes { config secretFields } }`);
    expect(JSON.stringify(nodes)).not.toContain(alpha.privateKey.split('\n')[1]);
    expect(nodes[0].secretFields).toContain('machine.privateKey');
    expect((await readFile(join(server.config.dataDir, 'catalog.sqlite'))).includes(alpha.privateKey.split('\n')[1])).toBe(false);

    // beta's key pinned for alpha: the machine's key "changed".
    const wrong = await labNetwork(server.client, 'remote-wrong', alpha.root, ['node'], { start: false, machine: () => ({ ...sshMachine(alpha), hostKeyFingerprint: beta.hostKeySha256 }) as ReturnType<typeof sshMachine> });
    const wrongPolicy = await policy(server.client, { name: 'remote-wrong', nodeId: wrong.nodes[0].id, method: 'copy', destinationIds: [repo] });
    const failed = await server.client.waitForJob((await server.client.ok(RUN_BACKUP, { policyId: wrongPolicy })).runBackup.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toContain(alpha.hostKeySha256);
    expect(failed.error).toContain(beta.hostKeySha256);
  });
});

describe('plugin API 2: a disruptive run whose server is killed', () => {
  let work: string;
  let server: ServerProcess | undefined;
  const nodes: LabNodeConfig[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-api2-kill-'));
  });
  afterAll(async () => {
    server?.child.kill('SIGKILL');
    for (const config of nodes) await stopLabNode(config);
    await rm(work, { recursive: true, force: true });
  });

  it('starts the stopped nodes again on the next start of the server, and fails the job without running it again', async () => {
    const dataDir = join(work, 'data');
    const extra = { CHAINVAULT_PLUGIN_PATHS: TEST_PLUGINS, CHAINVAULT_CLEANUP_GRACE_MS: '30000', CHAINVAULT_SECRET_KEY: randomBytes(32).toString('base64') };
    server = await spawnServer({ dataDir, extra });
    const net = await labNetwork(server.client, 'killed', join(work, 'nodes'), ['orderer', 'peer', 'peer'], { started: nodes });
    const repo = await destination(server.client, 'repo', join(work, 'repository'));
    const policyId = await policy(server.client, { name: 'killed-offline', networkId: net.networkId, method: 'offline', destinationIds: [repo], options: { pauseMs: 5_000 } });
    const { runBackup } = await server.client.ok(RUN_BACKUP, { policyId });
    await waitUntil('the run stopped all three nodes', () => net.nodes.every((n) => labNodePid(n.config) === undefined));
    server.child.kill('SIGKILL');
    await server.exited;
    await new Promise((r) => setTimeout(r, 500));
    expect(net.nodes.map((n) => labNodePid(n.config))).toEqual([undefined, undefined, undefined]);

    server = await spawnServer({ dataDir, extra });
    const job = await server.client.waitForJob(runBackup.id);
    expect(job.status).toBe('FAILED');
    expect(job.attempts).toBe(1);
    expect(job.error).toMatch(/interrupted/);
    expect(job.error).toMatch(/cleanup ran/);
    for (const node of net.nodes) expect(labNodePid(node.config)).toBeDefined();
    const log = logOf((await server.client.ok(JOB, { id: runBackup.id })).job);
    expect(log).toMatch(/cleanup \(crashed\)/);
    for (const node of net.nodes) expect(log).toContain(`started node ${node.name}`);
    expect(await jobsOf(server.client, policyId)).toEqual([{ id: runBackup.id, status: 'FAILED' }]);
  });
});

describe('plugin API 1.x and 3.x packages', () => {
  let work: string;
  let server: TestServer;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-api1-'));
    const plugins = join(work, 'plugins');
    const write = async (name: string, apiRange: string, apiVersion: string) => {
      await mkdir(join(plugins, name), { recursive: true });
      await writeFile(join(plugins, name, 'package.json'), JSON.stringify({ name, version: '1.0.0', main: 'index.js', chainvault: { plugin: { id: name, apiVersion: apiRange, entry: './index.js' } } }));
      // Written as a 1.x plugin was: a plain object, a boolean dependsOnPrevious, files through artifacts.
      await writeFile(
        join(plugins, name, 'index.js'),
        `'use strict';
const { join } = require('node:path');
module.exports = {
  id: ${JSON.stringify(name)}, apiVersion: ${JSON.stringify(apiVersion)}, protocols: [${JSON.stringify(name)}],
  nodeConfigSchema: { type: 'object', required: ['path'], properties: { path: { type: 'string' } } },
  methods: { files: { scope: 'node', description: 'a folder',
    async backup(ctx) { await ctx.artifacts.addTree(ctx.node.config.path); return { metadata: { v1: true }, dependsOnPrevious: false }; },
    async restore(ctx) { await ctx.artifacts.extractTree(ctx.target.config.path); } } },
};
`,
      );
    };
    await write('old-style', '^1.0.0', '1.1.0');
    await write('future-style', '^3.0.0', '3.0.0');
    server = await startTestServer({ config: { pluginPaths: [plugins] } });
  });
  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('loads and runs a 1.x plugin, and refuses a 3.x one naming the ranges', async () => {
    const { plugins } = await server.client.ok(`{ plugins { id status error apiVersion } }`);
    expect(plugins.find((p: any) => p.id === 'old-style')).toMatchObject({ status: 'LOADED', apiVersion: '^1.0.0' });
    const future = plugins.find((p: any) => p.id === 'future-style');
    expect(future.status).toBe('FAILED');
    expect(future.error).toContain('^3.0.0');
    expect(future.error).toContain('^1.0.0 || ^2.0.0');

    const source = join(work, 'source');
    await mkdir(source, { recursive: true });
    await writeFile(join(source, 'a.txt'), 'one');
    const { createNetwork } = await server.client.ok(CREATE_NETWORK, { input: { name: 'old', protocol: 'old-style' } });
    const { registerNode } = await server.client.ok(REGISTER_NODE, { input: { networkId: createNetwork.id, name: 'old-node', plugin: 'old-style', role: 'node', config: { path: source } } });
    const repo = await destination(server.client, 'old-repo', join(work, 'repository'));
    const policyId = await policy(server.client, { name: 'old-files', nodeId: registerNode.id, method: 'files', destinationIds: [repo] });
    const job = await server.client.waitForJob((await server.client.ok(RUN_BACKUP, { policyId })).runBackup.id);
    expect(job.status).toBe('COMPLETED');
    const target = join(work, 'restored');
    const { restoreBackup } = await server.client.ok(RESTORE, { input: { backupId: job.backupId, targetConfig: { path: target } } });
    expect((await server.client.waitForJob(restoreBackup.id)).status).toBe('COMPLETED');
    expect(await readdir(target)).toEqual(['a.txt']);
  });
});
