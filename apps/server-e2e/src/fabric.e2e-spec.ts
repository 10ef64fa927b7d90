/**
 * The Fabric plugin through GraphQL (issue 14, seed 004): resources backed up with what they own
 * and their parents, on a schedule with a retention count, restored to a chosen version, recreated
 * when deleted; the real ledgers of ../shared/fixtures/fabric proven block by block; a whole
 * network backed up at once and restored in order onto other machines, and again from a stored
 * template with other host names and ports; bad input refused before anything is stopped.
 * Real parts: the server, sshd machines on loopback, rsync, the fixtures' ledgers, MSP and
 * genesis block, and a CouchDB-compatible server (pouchdb-server). Peers, orderers and CAs are
 * fabric-standin.js (Fabric's Go binaries do not install here).
 */
import { SchedulerService } from '@chainvault/core';
import { freePort, startCouchDb, startSshd, unzip, type RunningCouchDb, type RunningSshd } from '@chainvault/testing';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FABRIC_FIXTURES, FIXTURE_MSP, copyWritable, fixtureLedger, layCa, layGenesis, layMsp, layOrderer, layPeer, writeConnectionProfile, type ResourceLayout } from '../test-support/fabric/network';
import type { GraphqlClient } from './support/graphql-client';
import { expectStatus, logOf, waitUntil } from './support/job-checks';
import { sshMachine } from './support/lab-nodes';
import { CREATE_DESTINATION, CREATE_NETWORK, CREATE_POLICY, REGISTER_NODE, RESTORE, RUN_BACKUP, VERIFY } from './support/scenario';
import { spawnServer, type ServerProcess } from './support/server-process';
import { startTestServer, type TestServer } from './support/test-server';

jest.setTimeout(300_000);

const run = promisify(execFile);
const JOB = `query ($id: ID!) { job(id: $id) { id kind status error attempts result backupId restoreId log { level message } } }`;
const BACKUPS_OF = `query ($id: ID!) { backups(filter: { policyId: $id, status: [COMPLETED, DELETED] }, first: 50) { nodes { id status createdAt metadata } } }`;
const BACKUP_META = `query ($id: ID!) { backup(id: $id) { id status metadata } }`;

/** The whole records (uvarint length + block) of a block file: the first `count` of them make a shorter, sound ledger. */
function firstBlocks(file: Buffer, count: number): Buffer {
  let offset = 0;
  for (let n = 0; n < count; n++) {
    let length = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = file[offset++];
      length += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    offset += length;
  }
  return file.subarray(0, offset);
}

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** Every file under `dir` with its content's hash, by relative path. */
async function treeHashes(dir: string, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) Object.assign(out, await treeHashes(dir, rel));
    else if (entry.isFile()) out[rel] = sha(await readFile(join(dir, rel)));
  }
  return out;
}

async function health(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200;
  } catch {
    return false;
  }
}

async function standinState(port: number): Promise<{ channels: Record<string, number>; home: string }> {
  return (await fetch(`http://127.0.0.1:${port}/state`)).json() as never;
}

const startResource = (r: ResourceLayout) => run((r.config.startCommand as string[])[0], (r.config.startCommand as string[]).slice(1));
const stopResource = (r: ResourceLayout) => run((r.config.stopCommand as string[])[0], (r.config.stopCommand as string[]).slice(1));

describe('the fabric plugin', () => {
  let work: string;
  let clockFile: string;
  let server: TestServer;
  let client: GraphqlClient;
  let repo: string;
  let sshds: RunningSshd[] = [];
  const couches: RunningCouchDb[] = [];
  const started: ResourceLayout[] = [];

  const setClock = async (iso: string) => {
    await writeFile(`${clockFile}.next`, iso);
    await rename(`${clockFile}.next`, clockFile);
  };
  const finished = async (jobId: string) => {
    await client.waitForJob(jobId, 240_000);
    return (await client.ok(JOB, { id: jobId })).job as Record<string, any>;
  };
  const network = async (name: string) => (await client.ok(CREATE_NETWORK, { input: { name, protocol: 'fabric' } })).createNetwork.id as string;
  const register = async (networkId: string, name: string, role: string, config: Record<string, unknown>) =>
    (await client.ok(REGISTER_NODE, { input: { networkId, name, plugin: 'fabric', role, config } })).registerNode.id as string;
  const policy = async (name: string, target: { nodeId?: string; networkId?: string }, method: string, options: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
    (await client.ok(CREATE_POLICY, { input: { name, ...target, method, options, destinationIds: [repo], retention: { keepLast: 10 }, schedule: { cron: '0 0 1 1 *', timeZone: 'UTC' }, ...extra } })).createPolicy.id as string;
  const backupNow = async (policyId: string) => finished((await client.ok(RUN_BACKUP, { policyId })).runBackup.id);
  const start = async (r: ResourceLayout) => {
    await startResource(r);
    started.push(r);
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-fabric-'));
    clockFile = join(work, 'clock');
    await setClock('2026-06-01T00:30:00.000Z');
    sshds = await Promise.all(Array.from({ length: 4 }, () => startSshd()));
    server = await startTestServer({ config: { clockFile, schedulerTickMs: 3_600_000, retryBackoffMs: 100, cleanupGraceMs: 60_000 } });
    client = server.client;
    repo = (await client.ok(CREATE_DESTINATION, { input: { name: 'repo', kind: 'LOCAL', config: { path: join(work, 'repository') } } })).createDestination.id;
  });

  afterAll(async () => {
    await server?.close();
    for (const r of started) await stopResource(r).catch(() => undefined);
    for (const c of couches) await c.stop();
    await Promise.all(sshds.map((s) => s.stop()));
    await rm(work, { recursive: true, force: true });
  });

  it('backs up a peer with CouchDB and its organisation MSP on a schedule, keeps 3 versions, and restores the second over the running peer', async () => {
    const couch = await startCouchDb();
    couches.push(couch);
    const root = join(work, 'sched');
    const orgMsp = (await layMsp(root, 'org1-msp')).path;
    const peer = await layPeer(root, 'peer0', { org: 'org1', couch: { url: couch.url, username: couch.username, password: couch.password, host: 'couchdb.org1.example.com', port: 5984 } });
    const blockfile = join(peer.path, 'ledgersData', 'chains', 'chains', 'mychannel', 'blockfile_000000');
    const fullLedger = readFileSync(join(fixtureLedger('sample_prod'), 'chains', 'chains', 'mychannel', 'blockfile_000000'));
    const networkId = await network('org1');
    const nodeId = await register(networkId, 'peer0', 'peer', { ...peer.config, machine: sshMachine(sshds[0]), organizationMsp: orgMsp });
    const registered = (await client.ok(`{ nodes { id config secretFields } }`)).nodes.find((n: { id: string }) => n.id === nodeId);
    expect(registered.secretFields).toEqual(expect.arrayContaining(['stateDatabase.password']));
    expect(JSON.stringify(registered.config)).not.toContain(couch.password);
    await couch.request('PUT', '/mychannel_basic');
    await couch.request('PUT', '/mychannel_');
    await couch.request('PUT', '/mychannel_/statedb_savepoint', { BlockNum: 0 });
    await start(peer);
    const hourly = await policy('peer0-hourly', { nodeId }, 'resource', {}, { schedule: { cron: '0 * * * *', timeZone: 'UTC' }, retention: { keepLast: 3 } });

    // Four hourly versions: the ledger grows by a block each time, the MSP gains a CA, CouchDB changes.
    const versions: { blocks: number; asset: string }[] = [];
    for (let v = 1; v <= 4; v++) {
      await writeFile(blockfile, firstBlocks(fullLedger, 4 + v));
      await writeFile(join(orgMsp, 'cacerts', `ca-v${v}.pem`), await readFile(join(FIXTURE_MSP, 'cacerts', 'cacert.pem')));
      const current = (await couch.request('GET', '/mychannel_basic/asset1')).json;
      await couch.request('PUT', '/mychannel_basic/asset1', { ...(current?._rev ? { _rev: current._rev } : {}), value: `v${v}`, '~version': `${v}:0` });
      await couch.request('PUT', `/mychannel_basic/asset-v${v}`, { value: v });
      await couch.request('PUT', '/mychannel_/statedb_savepoint', { ...(await couch.request('GET', '/mychannel_/statedb_savepoint')).json, BlockNum: 3 + v });
      await setClock(`2026-06-01T0${v}:00:00.000Z`);
      await server.app.get(SchedulerService).tick();
      const { jobs } = await client.ok(`{ jobs(status: [QUEUED, RUNNING]) { id policyId } }`);
      const job = await finished(jobs.find((j: { policyId: string }) => j.policyId === hourly).id);
      expectStatus(job, 'COMPLETED');
      expect(logOf(job)).toMatch(/read 2 CouchDB database\(s\), \d+ documents, before its ledger/);
      versions.push({ blocks: 4 + v, asset: `v${v}` });
    }
    const { backups } = await client.ok(BACKUPS_OF, { id: hourly });
    const byTime = [...backups.nodes].sort((a: { createdAt: string }, b: { createdAt: string }) => a.createdAt.localeCompare(b.createdAt));
    // The fourth backup removed the first (retention count 3).
    expect(byTime.map((b: { status: string }) => b.status)).toEqual(['DELETED', 'COMPLETED', 'COMPLETED', 'COMPLETED']);
    const second = byTime[1];
    const resource = second.metadata.resources[0];
    expect(resource).toMatchObject({ name: 'peer0', role: 'peer', stateDatabase: 'couchdb', ledger: [{ channel: 'mychannel', blocks: 6, ok: true, lastBlock: 5 }] });
    expect(resource.couchdb.map((d: { name: string; docs: number }) => [d.name, d.docs])).toEqual([['mychannel_', 1], ['mychannel_basic', 3]]);
    expect(resource.parts.map((p: { key: string }) => p.key)).toEqual(['path', 'mspDir', 'organizationMsp', 'configFiles[0]']);

    // Restore the second version over the running peer.
    const { restoreBackup } = await client.ok(RESTORE, { input: { backupId: second.id, targetNodeId: nodeId } });
    const restored = await finished(restoreBackup.id);
    expectStatus(restored, 'COMPLETED');
    const log = logOf(restored);
    expect(log).toContain('stopped peer peer0');
    expect(log).toMatch(/kept the current copy aside: .*production\.before-restore-\d{4}-\d\d-\d\dT/);
    expect(log).toContain('peer peer0 passes its check');
    // The ledger, the organisation MSP and the CouchDB documents are those of version 2.
    expect(sha(await readFile(blockfile))).toBe(sha(firstBlocks(fullLedger, 6)));
    expect((await readdir(join(orgMsp, 'cacerts'))).sort()).toEqual(['ca-v1.pem', 'ca-v2.pem', 'cacert.pem']);
    expect((await couch.request('GET', '/mychannel_basic/asset1')).json.value).toBe('v2');
    expect((await couch.request('GET', '/mychannel_basic/asset-v3')).status).toBe(404);
    expect((await couch.request('GET', '/mychannel_/statedb_savepoint')).json.BlockNum).toBe(5);
    // The running peer was replaced: it runs again on the restored ledger; the old folder is aside, whole.
    expect(await health(peer.ports[1])).toBe(true);
    expect((await standinState(peer.ports[1])).channels).toEqual({ mychannel: 6 });
    const aside = (await readdir(join(root, 'peer0'))).filter((n) => n.startsWith('production.before-restore-')).sort();
    expect(aside).toEqual([expect.stringMatching(/^production\.before-restore-[\dTZ-]+$/), `${aside[0]}.couchdb`]);
    expect(sha(await readFile(join(root, 'peer0', aside[0], 'ledgersData', 'chains', 'chains', 'mychannel', 'blockfile_000000')))).toBe(sha(fullLedger));
    // The CouchDB documents the peer had are kept aside too, as they were (version 4).
    const keptDocs = (await readFile(join(root, 'peer0', aside[1], 'mychannel_basic.ndjson'), 'utf8')).trim().split('\n').slice(1).map((l) => JSON.parse(l));
    expect(keptDocs.find((d: { _id: string }) => d._id === 'asset1').value).toBe('v4');
    expect(restored.result).toMatchObject({ resource: 'peer0', from: 'peer0', recreated: false, version: second.createdAt, keptAside: [join(root, 'peer0', aside[0]), expect.stringContaining('.before-restore-'), expect.stringContaining('.before-restore-'), expect.stringContaining('.before-restore-')] });
  });

  it('recreates a deleted orderer from its backup, with its WAL, snapshots and MSP', async () => {
    const root = join(work, 'deleted');
    const genesis = await layGenesis(root, 'genesis');
    const orderer = await layOrderer(root, 'orderer0', genesis.path);
    const networkId = await network('orderers');
    const nodeId = await register(networkId, 'orderer0', 'orderer', { ...orderer.config, machine: sshMachine(sshds[1]) });
    await start(orderer);
    const before = { ledger: await treeHashes(orderer.path), wal: await treeHashes(orderer.walDir!), snap: await treeHashes(orderer.snapDir!), msp: await treeHashes(orderer.mspDir!) };
    // Its MSP's TLS certificates end in May 2027: inside a 200-day warning window, not a 30-day one.
    const backup = await backupNow(await policy('orderer0', { nodeId }, 'resource', { expiryWarningDays: 200 }));
    expectStatus(backup, 'COMPLETED');
    const { backup: stored } = await client.ok(BACKUP_META, { id: backup.backupId });
    expect(stored.metadata.resources[0].certificates.expiring.map((c: { file: string; daysLeft: number }) => c.file).sort()).toEqual(['tlscacerts/tlsroot.pem', 'tlsintermediatecerts/tlsintermediate.pem']);
    expect(logOf(backup)).toMatch(/orderer orderer0: certificate tlscacerts\/tlsroot\.pem \(.*\) expires 2027-05-06T09:30:34Z \(\d+ days\)/);
    const verified = await finished((await client.ok(VERIFY, { id: backup.backupId, readData: true })).verifyBackup.id);
    expectStatus(verified, 'COMPLETED');
    expect(verified.result).toMatchObject({ channels: 1, blocks: 8, certificates: 5, expiringCertificates: 2 });
    // The orderer is lost: stopped, and its folders and configuration gone.
    await stopResource(orderer);
    await rm(join(root, 'orderer0'), { recursive: true, force: true });
    const restored = await finished((await client.ok(RESTORE, { input: { backupId: backup.backupId, targetNodeId: nodeId } })).restoreBackup.id);
    expectStatus(restored, 'COMPLETED');
    expect(logOf(restored)).toContain(`orderer orderer0 did not exist: recreated at ${orderer.path}`);
    expect({ ledger: await treeHashes(orderer.path), wal: await treeHashes(orderer.walDir!), snap: await treeHashes(orderer.snapDir!), msp: await treeHashes(orderer.mspDir!) }).toEqual(before);
    expect(await health(orderer.ports[1])).toBe(true);
    expect((await standinState(orderer.ports[1])).channels).toEqual({ mychannel: 8 });
  });

  it('proves every fixture ledger from its blocks: the sound ones verify with their counts, the corrupted and glued ones fail naming the first bad block', async () => {
    const root = join(work, 'fixtures');
    const networkId = await network('fixture-ledgers');
    const ledgers: Record<string, string> = {};
    for (const name of ['sample_prod', 'sample_ledger_from_snapshot', 'glued_together', 'sample_bad_ledger']) {
      ledgers[name] = join(root, name);
      await copyWritable(fixtureLedger(name), join(root, name, 'ledgersData'));
    }
    for (const version of ['v13_statecouchdb', 'v20']) {
      await unzip(join(FABRIC_FIXTURES, 'kvledger-sample-ledgers', version, 'ledgersData.zip'), join(root, version));
      ledgers[version] = join(root, version);
    }
    const expected: Record<string, { channels: [string, number][]; transactions: number }> = {
      sample_prod: { channels: [['mychannel', 8]], transactions: 8 },
      sample_ledger_from_snapshot: { channels: [['mychannel', 4]], transactions: 4 },
      v13_statecouchdb: { channels: [['ledger1', 9], ['ledger2', 9]], transactions: 30 },
      v20: { channels: [['testchannel', 20]], transactions: 20 },
    };
    for (const [name, path] of Object.entries(ledgers)) {
      const nodeId = await register(networkId, name, 'peer', { path });
      const policyId = await policy(`fixture-${name}`, { nodeId }, 'resource');
      const job = await backupNow(policyId);
      if (name in expected) {
        expectStatus(job, 'COMPLETED');
        const { backup } = await client.ok(BACKUP_META, { id: job.backupId });
        const ledger = backup.metadata.resources[0].ledger as { channel: string; blocks: number; transactions: number; ok: boolean }[];
        expect(ledger.map((c) => [c.channel, c.blocks])).toEqual(expected[name].channels);
        expect(ledger.every((c) => c.ok)).toBe(true);
        const verified = await finished((await client.ok(VERIFY, { id: job.backupId, readData: true })).verifyBackup.id);
        expectStatus(verified, 'COMPLETED');
        expect(verified.result).toMatchObject({ blocks: expected[name].channels.reduce((n, [, b]) => n + b, 0), channels: expected[name].channels.length });
        expect(verified.result.transactions).toBeGreaterThan(0);
      } else {
        // ledgerutil: glued_together fails at block 8 (trailing bytes, DataHash), sample_bad_ledger at block 0 (DataHash).
        const first = name === 'glued_together' ? /mychannel: blockfile_000000 block 8: transaction 0 has 3183 trailing bytes/ : /mychannel: blockfile_000000 block 0: DataHash mismatch/;
        expectStatus(job, 'FAILED');
        expect(job.error).toMatch(first);
        expect(job.error).toContain('nothing was stored');
        // Kept anyway when the policy says so: its verify fails with the same first fault.
        const kept = await backupNow(await policy(`fixture-${name}-kept`, { nodeId }, 'resource', { keepDamagedLedger: true }));
        expectStatus(kept, 'COMPLETED');
        const verified = await finished((await client.ok(VERIFY, { id: kept.backupId, readData: true })).verifyBackup.id);
        expectStatus(verified, 'FAILED');
        expect(verified.error).toMatch(first);
      }
    }
  });

  /** A node config moved to another root: every path in it (folders, config files, pid files) under `to` instead of `from`. */
  const moved = (config: Record<string, unknown>, from: string, to: string, extra: Record<string, unknown> = {}) => ({ ...JSON.parse(JSON.stringify(config).split(from).join(to)), ...extra });
  /** Replaces literal tokens in one pass (so a new value is never replaced again). */
  const replaceTokens = (text: string, map: Record<string, string>, numeric = false) => {
    const keys = Object.keys(map).sort((a, b) => b.length - a.length);
    const pattern = `(${keys.map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})${numeric ? '(?!\\d)' : ''}`;
    return keys.length ? text.replace(new RegExp(pattern, 'g'), (k) => map[k]) : text;
  };

  it('backs up a whole network at one point, restores it in order onto other machines, and again from a stored template with other host names and ports', async () => {
    const cli = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        const { CHAINVAULT_TOKEN: _t, CHAINVAULT_DATA_DIR: _d, ...rest } = process.env;
        execFile(process.execPath, [join(__dirname, '..', '..', 'cli', 'bin', 'chainvault.js'), ...args], { env: { ...rest, CHAINVAULT_URL: server.url, CHAINVAULT_TOKEN: server.token } }, (error, stdout, stderr) =>
          resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const [couchSource, couchDr, couchTemplate] = [await startCouchDb(), await startCouchDb(), await startCouchDb()];
    couches.push(couchSource, couchDr, couchTemplate);
    const src = join(work, 'net');
    const ca = await layCa(src, 'ca0');
    const msp = await layMsp(src, 'org1-msp');
    const genesis = await layGenesis(src, 'genesis');
    const o0 = await layOrderer(src, 'orderer0', genesis.path);
    const o1 = await layOrderer(src, 'orderer1', genesis.path);
    const p0 = await layPeer(src, 'peer0', { org: 'org1', couch: { url: couchSource.url, username: couchSource.username, password: couchSource.password, host: 'couchdb.org1.example.com', port: 5984 } });
    const p1 = await layPeer(src, 'peer1', { org: 'org1', gossipBootstrap: `${p0.host}:${p0.ports[0]}` });
    const profile = join(src, 'peer0', 'config', 'connection-org1.yaml');
    await writeConnectionProfile(profile, [ca, o0, o1, p0, p1]);
    p0.configFiles.push(profile);
    p0.config.configFiles = [...p0.configFiles];
    const resources = [ca, msp, genesis, o0, o1, p0, p1];
    const machineOf = (r: ResourceLayout, base: number) => sshMachine(sshds[base + (['orderer0', 'orderer1', 'peer1'].includes(r.name) ? 1 : 0)]);
    await couchSource.request('PUT', '/mychannel_basic');
    for (let i = 0; i < 30; i++) await couchSource.request('PUT', `/mychannel_basic/asset${i}`, { value: i, '~version': `5:${i}` });
    for (const r of [ca, o0, o1, p0, p1]) await start(r);

    const prodId = await network('prod');
    for (const r of resources) await register(prodId, r.name, r.role, { ...r.config, machine: machineOf(r, 0) });
    const networkPolicy = await policy('prod-network', { networkId: prodId }, 'network');
    const backup = await backupNow(networkPolicy);
    expectStatus(backup, 'COMPLETED');
    const { backup: stored } = await client.ok(BACKUP_META, { id: backup.backupId });
    expect(stored.metadata.restoreOrder).toEqual([
      { phase: 'CAs and MSPs', resources: ['ca0', 'org1-msp'] },
      { phase: 'genesis blocks and orderers', resources: ['genesis', 'orderer0', 'orderer1'] },
      { phase: 'peers', resources: ['peer0', 'peer1'] },
    ]);
    // Peers are copied before orderers: an orderer's chain is never behind a peer's.
    const log = logOf(backup);
    expect(log.indexOf('peer peer1: stored')).toBeLessThan(log.indexOf('orderer orderer0: stored'));
    const verified = await finished((await client.ok(VERIFY, { id: backup.backupId, readData: true })).verifyBackup.id);
    expectStatus(verified, 'COMPLETED');
    expect(verified.result).toMatchObject({ resources: 7, channels: 4, blocks: 32, configBlocks: 1, couchDocuments: 30 });

    const dataOf = async (r: ResourceLayout, root: string, to: string) => {
      const at = (p: string) => p.split(root).join(to);
      // A config file inside a resource's folder (the CA's) is compared on its own, as a config file.
      const data = r.role === 'genesis' ? sha(await readFile(at(r.path))) : await treeHashes(at(r.path));
      if (typeof data !== 'string') for (const file of r.configFiles) delete data[file.slice(r.path.length + 1)];
      return {
        data,
        ...(r.mspDir ? { msp: await treeHashes(at(r.mspDir)) } : {}),
        ...(r.walDir ? { wal: await treeHashes(at(r.walDir)), snap: await treeHashes(at(r.snapDir!)) } : {}),
      };
    };
    const sourceData: Record<string, unknown> = {};
    for (const r of resources) sourceData[r.name] = await dataOf(r, src, src);
    // The site is lost.
    for (const r of [ca, o0, o1, p0, p1]) await stopResource(r);

    // 1. In order onto two other machines, other folders.
    const dr = join(work, 'dr');
    const drId = await network('dr');
    const drNodes: string[] = [];
    for (const r of [p1, p0, o1, o0, genesis, msp, ca]) {
      const couch = r === p0 ? { stateDatabase: { kind: 'couchdb', url: couchDr.url, username: couchDr.username, password: couchDr.password } } : {};
      drNodes.push(await register(drId, `dr-${r.name}`, r.role, moved({ ...r.config, machine: machineOf(r, 2) }, src, dr, couch)));
    }
    const drRestore = await finished((await client.ok(RESTORE, { input: { backupId: backup.backupId, targetNodeIds: drNodes } })).restoreBackup.id);
    expectStatus(drRestore, 'COMPLETED');
    expect(drRestore.result.phases).toEqual([
      { name: 'CAs and MSPs', nodes: ['dr-org1-msp', 'dr-ca0'] },
      { name: 'genesis blocks and orderers', nodes: ['dr-genesis', 'dr-orderer0', 'dr-orderer1'] },
      { name: 'peers', nodes: ['dr-peer0', 'dr-peer1'] },
    ].map((p) => ({ ...p, nodes: expect.arrayContaining(p.nodes) })));
    // Each phase began only once the one before had passed its checks.
    const drLog = logOf(drRestore);
    expect(drLog.indexOf('ca dr-ca0 passes its check')).toBeLessThan(drLog.indexOf('phase 2 of 3 (genesis blocks and orderers) begins'));
    expect(drLog.indexOf('orderer dr-orderer1 passes its check')).toBeLessThan(drLog.indexOf('phase 3 of 3 (peers) begins'));
    for (const r of resources) expect({ [r.name]: await dataOf(r, src, dr) }).toEqual({ [r.name]: sourceData[r.name] });
    // The configuration files follow the resources to their new folders, and nothing else changes in them.
    for (const r of resources) {
      for (const file of r.configFiles) expect({ file, text: await readFile(file.split(src).join(dr), 'utf8') }).toEqual({ file, text: (await readFile(file, 'utf8')).split(src).join(dr) });
    }
    expect((await couchDr.request('GET', '/mychannel_basic/_all_docs')).json.total_rows).toBe(30);
    for (const r of [ca, o0, o1, p0, p1]) {
      expect(await health(r.ports[1])).toBe(true);
      expect((await standinState(r.ports[1])).home.startsWith(dr)).toBe(true);
    }

    // 2. From a template: other host names and ports, on the same two machines, while the first copy runs.
    const tpl = join(work, 'tpl');
    const hosts: Record<string, string> = { 'couchdb.org1.example.com': 'couchdb.tpl.example.com' };
    const ports: Record<string, number> = { '5984': Number(new URL(couchTemplate.url).port) };
    for (const r of [ca, o0, o1, p0, p1]) {
      hosts[r.host] = r.host.replace('example.com', 'tpl.example.com');
      for (const port of r.ports) ports[String(port)] = await freePort();
    }
    const tplId = await network('tpl');
    const tplNodes: string[] = [];
    for (const r of resources) {
      const couch = r === p0 ? { stateDatabase: { kind: 'couchdb', url: couchTemplate.url, username: couchTemplate.username, password: couchTemplate.password } } : {};
      const config = moved({ ...r.config, machine: machineOf(r, 2) }, src, tpl, couch);
      if (config.checkCommand) config.checkCommand = [...config.checkCommand.slice(0, -1), `http://127.0.0.1:${ports[String(r.ports[1])]}/healthz`];
      tplNodes.push(await register(tplId, `tpl-${r.name}`, r.role, config));
    }
    const resourcesMap = Object.fromEntries(resources.map((r) => [r.name, `tpl-${r.name}`]));
    // A template that leaves a host unmapped is refused before anything is stopped or written.
    const incomplete: Record<string, string> = { ...hosts };
    delete incomplete['orderer1.example.com'];
    await client.ok(`mutation ($input: CreateRestoreTemplateInput!) { createRestoreTemplate(input: $input) { id } }`, {
      input: { name: 'incomplete', targetNodeIds: tplNodes, options: { template: { resources: resourcesMap, hosts: incomplete, ports } } },
    });
    const refused = await client.fails(RESTORE, { input: { backupId: backup.backupId, templateId: 'incomplete' } });
    expect(refused.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.message).toMatch(/the template leaves a host unmapped: orderer1\.example\.com \(in orderer1's orderer\.yaml, peer0's connection-org1\.yaml\)/);
    expect(existsSync(tpl)).toBe(false);

    // Stored with the CLI, listed, and launched with one command.
    const optionsFile = join(work, 'tpl.json');
    await writeFile(optionsFile, JSON.stringify({ template: { resources: resourcesMap, hosts, ports } }));
    const created = await cli('templates', 'create', 'launch-tpl', '--target-nodes', resources.map((r) => `tpl-${r.name}`).join(','), '--options-file', optionsFile, '--description', 'the prod network as tpl');
    expect(created).toMatchObject({ code: 0, stdout: expect.stringContaining('template launch-tpl stored') });
    const listed = await cli('templates', 'list');
    expect(listed.stdout).toMatch(/launch-tpl\s+fabric\s+7 node\(s\)\s+the prod network as tpl/);
    const launched = await cli('restore', backup.backupId, '--template', 'launch-tpl', '--wait');
    expect(launched).toMatchObject({ code: 0 });
    // Every rewritten config file holds the new host names, ports and folders, and nothing else changed.
    const portTokens: Record<string, string> = {};
    for (const [from, to] of Object.entries(ports)) {
      portTokens[`:${from}`] = `:${to}`;
      portTokens[`ListenPort: ${from}`] = `ListenPort: ${to}`;
      portTokens[`port: ${from}`] = `port: ${to}`;
    }
    for (const r of resources) {
      for (const file of r.configFiles) {
        const expected = replaceTokens(replaceTokens((await readFile(file, 'utf8')).split(src).join(tpl), hosts), portTokens, true);
        const actual = await readFile(file.split(src).join(tpl), 'utf8');
        expect({ file, text: actual }).toEqual({ file, text: expected });
        expect(actual).not.toEqual(await readFile(file, 'utf8'));
      }
      expect({ [r.name]: await dataOf(r, src, tpl) }).toEqual({ [r.name]: sourceData[r.name] });
    }
    for (const r of [ca, o0, o1, p0, p1]) {
      const operations = ports[String(r.ports[1])];
      expect(await health(operations)).toBe(true);
      expect((await standinState(operations)).home.startsWith(tpl)).toBe(true);
    }
    for (const r of [ca, o0, o1, p0, p1]) {
      for (const root of [dr, tpl]) {
        const config = moved(r.config, src, root);
        started.push({ ...r, config });
      }
    }
  });

  it('refuses bad input with a clear error before anything is stopped', async () => {
    const root = join(work, 'bad');
    const networkId = await network('bad-input');
    const couch = await startCouchDb();
    couches.push(couch);
    const peer = await layPeer(root, 'peer9', { org: 'org9', couch: { url: couch.url, username: couch.username, password: couch.password, host: 'couchdb.org9.example.com', port: 5984 } });
    await start(peer);
    const pid = readFileSync(peer.pidFile!, 'utf8');
    const stopMode = { consistency: 'stop' };

    // A peer path that holds no ledger.
    const empty = join(root, 'empty-production');
    await mkdir(empty, { recursive: true });
    const noLedger = await backupNow(await policy('no-ledger', { nodeId: await register(networkId, 'no-ledger', 'peer', { ...peer.config, path: empty, machine: sshMachine(sshds[0]) }) }, 'resource', stopMode));
    expectStatus(noLedger, 'FAILED');
    expect(noLedger.error).toContain(`peer no-ledger: ${empty} holds no ledger (${empty}/ledgersData/chains/chains does not exist)`);

    // An MSP folder without signcerts.
    const badMsp = join(root, 'msp-without-signcerts');
    await copyWritable(FIXTURE_MSP, badMsp);
    await rm(join(badMsp, 'signcerts'), { recursive: true });
    const noSigncerts = await backupNow(await policy('no-signcerts', { nodeId: await register(networkId, 'msp-without-signcerts', 'msp', { path: badMsp }) }, 'resource'));
    expectStatus(noSigncerts, 'FAILED');
    expect(noSigncerts.error).toContain(`msp msp-without-signcerts: the MSP folder ${badMsp} has no signing certificate (signcerts is missing)`);

    // A CouchDB that refuses the credentials.
    const wrong = await register(networkId, 'wrong-password', 'peer', { ...peer.config, machine: sshMachine(sshds[0]), stateDatabase: { kind: 'couchdb', url: couch.url, username: couch.username, password: 'not-the-password' } });
    const refused = await backupNow(await policy('wrong-password', { nodeId: wrong }, 'resource', stopMode));
    expectStatus(refused, 'FAILED');
    expect(refused.error).toContain(`the CouchDB of peer wrong-password at ${couch.url} refused the credentials of "admin" (401)`);
    expect(refused.error).not.toContain('not-the-password');
    expect(refused.attempts).toBe(1);

    // Nothing was stopped: the peer runs as the same process all along.
    for (const job of [noLedger, refused]) expect(logOf(job)).not.toContain('stopped peer');
    expect(readFileSync(peer.pidFile!, 'utf8')).toBe(pid);
    expect(await health(peer.ports[1])).toBe(true);

    // A damaged ledger fails the backup after the copy, and the stopped peer is started again.
    const damaged = await layPeer(root, 'peer8', { org: 'org8', ledger: fixtureLedger('glued_together') });
    await start(damaged);
    const damagedJob = await backupNow(await policy('damaged', { nodeId: await register(networkId, 'damaged', 'peer', { ...damaged.config, machine: sshMachine(sshds[1]) }) }, 'resource', stopMode));
    expectStatus(damagedJob, 'FAILED');
    expect(damagedJob.error).toContain('block 8: transaction 0 has 3183 trailing bytes');
    expect(logOf(damagedJob)).toContain('stopped peer damaged');
    expect(logOf(damagedJob)).toContain('started peer damaged');
    expect(await health(damaged.ports[1])).toBe(true);
  });

  it('restores a peer whose backup left the state database out by rebuilding it, and refuses a running resource it cannot stop', async () => {
    const root = join(work, 'rebuild');
    const peer = await layPeer(root, 'peer5', { org: 'org5' });
    const state = join(peer.path, 'ledgersData', 'stateLeveldb');
    await mkdir(state, { recursive: true });
    await writeFile(join(state, 'CURRENT'), 'MANIFEST-000001\n');
    await writeFile(join(state, '000001.log'), 'state of peer5\n');
    const marker = join(root, 'rebuilt');
    const rebuildCommand = [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'rebuild-dbs ran while ' + (require('fs').existsSync(${JSON.stringify(peer.pidFile)}) ? 'running' : 'stopped'))`];
    const networkId = await network('rebuild');
    const nodeId = await register(networkId, 'peer5', 'peer', { ...peer.config, machine: sshMachine(sshds[1]), rebuildCommand });
    await start(peer);
    const backup = await backupNow(await policy('peer5-without-state', { nodeId }, 'resource', { includeStateDatabase: false }));
    expectStatus(backup, 'COMPLETED');
    const { backup: stored } = await client.ok(`query ($id: ID!) { backup(id: $id) { metadata files { path } } }`, { id: backup.backupId });
    expect(stored.metadata.resources[0].stateDatabase).toBe('none');
    expect(stored.files.filter((f: { path: string }) => f.path.includes('stateLeveldb'))).toEqual([]);

    const restored = await finished((await client.ok(RESTORE, { input: { backupId: backup.backupId, targetNodeId: nodeId } })).restoreBackup.id);
    expectStatus(restored, 'COMPLETED');
    expect(logOf(restored)).toContain('the backup holds no state database: ran its rebuildCommand; the peer rebuilds its state database from its ledger');
    expect(readFileSync(marker, 'utf8')).toBe('rebuild-dbs ran while stopped');
    expect(existsSync(state)).toBe(false);
    expect(await health(peer.ports[1])).toBe(true);

    // The same peer registered without a stop command: it may be running, so nothing is touched.
    const { stopCommand: _stop, startCommand: _start, ...unstoppable } = peer.config;
    const blind = await register(networkId, 'peer5-unstoppable', 'peer', { ...unstoppable, machine: sshMachine(sshds[1]) });
    const pid = readFileSync(peer.pidFile!, 'utf8');
    const folder = async () => treeHashes(join(root, 'peer5'));
    const before = await folder();
    const refused = await finished((await client.ok(RESTORE, { input: { backupId: backup.backupId, targetNodeId: blind } })).restoreBackup.id);
    expectStatus(refused, 'FAILED');
    expect(refused.error).toContain(`peer peer5-unstoppable exists at ${peer.path} and has no stopCommand: it may be running, so nothing was changed`);
    expect(readFileSync(peer.pidFile!, 'utf8')).toBe(pid);
    const after = await folder();
    // The stand-in's own log grows; everything else is as it was.
    delete before['peer.pid.log'];
    delete after['peer.pid.log'];
    expect(after).toEqual(before);
  });

  it('puts the old copy back and the resource running when a restore is cancelled', async () => {
    const root = join(work, 'cancel');
    const peer = await layPeer(root, 'peer6', { org: 'org6' });
    // A stop that takes its time before it stops anything: the cancel lands inside it.
    const slowStop = ['sh', '-c', `sleep 30; exec "$0" "$@"`, ...(peer.config.stopCommand as string[])];
    const networkId = await network('cancel');
    const nodeId = await register(networkId, 'peer6', 'peer', { ...peer.config, machine: sshMachine(sshds[0]), stopCommand: slowStop });
    await start(peer);
    const backup = await backupNow(await policy('peer6', { nodeId }, 'resource'));
    expectStatus(backup, 'COMPLETED');
    const blockfile = join(peer.path, 'ledgersData', 'chains', 'chains', 'mychannel', 'blockfile_000000');
    await writeFile(blockfile, firstBlocks(await readFile(blockfile), 7));
    const before = await treeHashes(join(root, 'peer6'));
    const pid = readFileSync(peer.pidFile!, 'utf8');
    const job = (await client.ok(RESTORE, { input: { backupId: backup.backupId, targetNodeId: nodeId } })).restoreBackup;
    await waitUntil('the restore staged its copy', async () => logOf((await client.ok(JOB, { id: job.id })).job).includes('peer peer6: staged'));
    await client.ok(`mutation ($id: ID!) { cancelJob(id: $id) { id } }`, { id: job.id });
    const ended = await finished(job.id);
    expectStatus(ended, 'CANCELLED');
    expect(logOf(ended)).toMatch(/the restore was cancelled/);
    // Everything as it was: the 7-block ledger, no staged or set-aside copy, the same process serving it.
    const after = await treeHashes(join(root, 'peer6'));
    for (const own of ['peer.pid', 'peer.pid.log']) {
      delete after[own];
      delete before[own];
    }
    expect(after).toEqual(before);
    expect((await readdir(join(root, 'peer6'))).filter((n) => n.includes('.before-restore-') || n.includes('.chainvault-incoming'))).toEqual([]);
    expect(readFileSync(peer.pidFile!, 'utf8')).toBe(pid);
    expect(await health(peer.ports[1])).toBe(true);
  });
});

describe('a Fabric restore the server does not live to finish', () => {
  let work: string;
  let server: ServerProcess | undefined;
  let peer: ResourceLayout | undefined;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-fabric-kill-'));
  });
  afterAll(async () => {
    if (peer) await stopResource(peer).catch(() => undefined);
    server?.child.kill('SIGKILL');
    await rm(work, { recursive: true, force: true });
  });

  it('is carried through when the server starts again: the backup in place, the old copy aside, the peer running', async () => {
    peer = await layPeer(join(work, 'net'), 'peer7', { org: 'org7' });
    const marker = join(work, 'stopped');
    const stop = ['sh', '-c', `"$0" "$@" && { [ -e '${marker}' ] || { touch '${marker}' && sleep 30; }; }`, ...(peer.config.stopCommand as string[])];
    const env = { dataDir: join(work, 'server') };
    server = await spawnServer(env);
    const client = server.client;
    const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name: 'killed', protocol: 'fabric' } });
    const { registerNode } = await client.ok(REGISTER_NODE, { input: { networkId: createNetwork.id, name: 'peer7', plugin: 'fabric', role: 'peer', config: { ...peer.config, stopCommand: stop } } });
    const repo = (await client.ok(CREATE_DESTINATION, { input: { name: 'repo', kind: 'LOCAL', config: { path: join(work, 'repository') } } })).createDestination.id;
    const { createPolicy } = await client.ok(CREATE_POLICY, { input: { name: 'p', nodeId: registerNode.id, method: 'resource', destinationIds: [repo], retention: { keepLast: 5 } } });
    await startResource(peer);
    const backup = await client.waitForJob((await client.ok(RUN_BACKUP, { policyId: createPolicy.id })).runBackup.id);
    expect(backup.status).toBe('COMPLETED');
    const backupId = (await client.ok(JOB, { id: backup.id })).job.backupId;
    const blockfile = join(peer.path, 'ledgersData', 'chains', 'chains', 'mychannel', 'blockfile_000000');
    const full = await readFile(blockfile);
    await writeFile(blockfile, firstBlocks(full, 3));

    const restore = (await client.ok(RESTORE, { input: { backupId, targetNodeId: registerNode.id } })).restoreBackup;
    await waitUntil('the peer was stopped', () => existsSync(marker));
    expect(await health(peer.ports[1])).toBe(false);
    server.child.kill('SIGKILL');
    await server.exited;

    server = await spawnServer(env);
    await server.client.waitForJob(restore.id);
    const ended = (await server.client.ok(JOB, { id: restore.id })).job;
    expectStatus(ended, 'FAILED');
    expect(ended.error).toMatch(/interrupted/);
    expect(logOf(ended)).toContain("peer peer7: the server stopped during the restore: the backup's copy is in place; the old one is aside");
    expect(await health(peer.ports[1])).toBe(true);
    expect(sha(await readFile(blockfile))).toBe(sha(full));
    const aside = (await readdir(join(work, 'net', 'peer7'))).filter((n) => n.startsWith('production.before-restore-'));
    expect(aside).toHaveLength(1);
    expect(sha(await readFile(join(work, 'net', 'peer7', aside[0], 'ledgersData', 'chains', 'chains', 'mychannel', 'blockfile_000000')))).toBe(sha(firstBlocks(full, 3)));
  });
});
