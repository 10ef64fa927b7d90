/**
 * Changing and removing what was created (issue 15, first part): networks renamed, relabelled
 * and removed when empty, nodes renamed and reconfigured with their secrets kept, every refusal
 * changing nothing and every accepted change an audit event; networks only for protocols a
 * loaded plugin serves; restores listed. Through GraphQL and the CLI.
 */
import { writeSampleTree } from '@chainvault/testing';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import type { GraphqlClient } from './support/graphql-client';
import { CREATE_NETWORK, REGISTER_NODE, RESTORE, backupNow, createDirectoryPolicy } from './support/scenario';
import { startTestServer, type TestServer } from './support/test-server';

const BIN = join(__dirname, '..', '..', 'cli', 'bin', 'chainvault.js');
const UPDATE_NETWORK = `mutation ($id: ID!, $input: UpdateNetworkInput!) { updateNetwork(id: $id, input: $input) { id name protocol labels } }`;
const DELETE_NETWORK = `mutation ($id: ID!) { deleteNetwork(id: $id) { id name } }`;
const UPDATE_NODE = `mutation ($id: ID!, $input: UpdateNodeInput!) { updateNode(id: $id, input: $input) { id name role config secretFields } }`;
const NETWORKS = `{ networks { id name protocol labels } }`;
const NODES = `{ nodes { id name role config secretFields } }`;
const AUDIT = `query ($f: AuditEventFilter) { auditEvents(filter: $f, first: 100) { nodes { actor action subjectId outcome details } } }`;

describe('the catalog lifecycle', () => {
  let server: TestServer;
  let client: GraphqlClient;
  let work: string;

  const cli = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const { CHAINVAULT_TOKEN: _t, CHAINVAULT_DATA_DIR: _d, ...rest } = process.env;
      execFile(process.execPath, [BIN, ...args], { cwd: work, env: { ...rest, CHAINVAULT_URL: server.url, CHAINVAULT_TOKEN: server.token } }, (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const audit = async (action: string) => (await client.ok(AUDIT, { f: { action } })).auditEvents.nodes as Record<string, any>[];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-lifecycle-'));
    server = await startTestServer();
    client = server.client;
  });

  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('refuses a network for a protocol no loaded plugin serves, listing those that are', async () => {
    const refused = await client.fails(CREATE_NETWORK, { input: { name: 'typo', protocol: 'etherium' } });
    expect(refused.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.message).toMatch(/^no loaded plugin serves protocol "etherium"; the loaded plugins serve: .*\bdirectory\b.*\bethereum\b.*\bfabric\b.*\bgeth\b/);
    expect((await client.ok(NETWORKS)).networks.map((n: { name: string }) => n.name)).not.toContain('typo');
    const typed = await cli('networks', 'create', '--name', 'typo', '--protocol', 'etherium');
    expect(typed.code).not.toBe(0);
    expect(typed.stderr).toContain('no loaded plugin serves protocol "etherium"');
  });

  it('renames and relabels a network, refuses what would clash, and removes it only when empty', async () => {
    const { createNetwork: a } = await client.ok(CREATE_NETWORK, { input: { name: 'alpha', protocol: 'directory', labels: { env: 'test' } } });
    await client.ok(CREATE_NETWORK, { input: { name: 'beta', protocol: 'directory' } });

    const renamed = (await client.ok(UPDATE_NETWORK, { id: a.id, input: { name: 'alpha-2', labels: { env: 'prod', team: 'ops' } } })).updateNetwork;
    expect(renamed).toEqual({ id: a.id, name: 'alpha-2', protocol: 'directory', labels: { env: 'prod', team: 'ops' } });
    const before = (await client.ok(NETWORKS)).networks;
    for (const [input, code, message] of [
      [{ name: 'beta' }, 'CONFLICT', 'a network named "beta" already exists'],
      [{ labels: { env: 3 } }, 'BAD_USER_INPUT', 'labels: every value must be a string'],
      [{}, 'BAD_USER_INPUT', 'give name or labels to change'],
      [{ name: '   ' }, 'BAD_USER_INPUT', 'name'],
    ] as const) {
      const refused = await client.fails(UPDATE_NETWORK, { id: a.id, input });
      expect({ code: refused.extensions?.code, message: refused.message }).toMatchObject({ code, message: expect.stringContaining(message) });
    }
    expect((await client.fails(UPDATE_NETWORK, { id: '00000000-0000-4000-8000-000000000000', input: { name: 'x' } })).extensions?.code).toBe('NOT_FOUND');
    expect((await client.ok(NETWORKS)).networks).toEqual(before);

    // A network with nodes is not removed; the refusal names them.
    const source = join(work, 'alpha-files');
    await writeSampleTree(source, { bigFileBytes: 1024 });
    await client.ok(REGISTER_NODE, { input: { networkId: a.id, name: 'files', plugin: 'directory', role: 'node', config: { path: source } } });
    const busy = await client.fails(DELETE_NETWORK, { id: a.id });
    expect(busy.extensions?.code).toBe('CONFLICT');
    expect(busy.message).toBe('network "alpha-2" has 1 node(s) (files): delete them first');
    expect((await client.ok(NETWORKS)).networks).toEqual(before);

    // With the CLI: renamed back, the empty one removed by name.
    expect(await cli('networks', 'update', 'alpha-2', '--name', 'alpha')).toMatchObject({ code: 0, stdout: expect.stringContaining('network alpha') });
    expect(await cli('networks', 'delete', 'beta')).toMatchObject({ code: 0, stdout: 'network beta deleted\n' });
    expect((await client.ok(NETWORKS)).networks.map((n: { name: string }) => n.name)).toEqual(['alpha']);

    const updates = await audit('network.update');
    expect(updates.map((e) => [e.subjectId, e.details.name, e.details.previousName, e.outcome ?? 'ok'])).toEqual(
      expect.arrayContaining([
        [a.id, 'alpha-2', 'alpha', 'ok'],
        [a.id, 'alpha', 'alpha-2', 'ok'],
      ]),
    );
    expect((await audit('network.delete')).map((e) => e.details.name)).toEqual(['beta']);
  });

  it('reconfigures a node with its config checked again and its secret fields kept unless given again', async () => {
    const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name: 'chain', protocol: 'geth' } });
    const { registerNode } = await client.ok(REGISTER_NODE, {
      input: { networkId: createNetwork.id, name: 'monitor', plugin: 'ethereum', role: 'monitor', config: { rpcUrl: 'http://127.0.0.1:8545', client: 'geth', consensus: 'clique', headers: { Authorization: 'Bearer first-secret' } } },
    });
    const id = registerNode.id;
    // A config without the headers: they are kept.
    const changed = (await client.ok(UPDATE_NODE, { id, input: { name: 'monitor-1', config: { rpcUrl: 'http://127.0.0.1:9545', client: 'geth', consensus: 'clique' } } })).updateNode;
    expect(changed).toEqual({ id, name: 'monitor-1', role: 'monitor', config: { rpcUrl: 'http://127.0.0.1:9545', client: 'geth', consensus: 'clique' }, secretFields: ['headers.Authorization'] });
    const sealed = async () => (await server.app.get(DataSource).query(`SELECT secrets FROM node WHERE id = '${id}'`))[0].secrets as string;
    const first = await sealed();

    // Refused: a bad config, an unknown role, a clashing name; nothing changed, no secret quoted.
    const before = (await client.ok(NODES)).nodes.find((n: { id: string }) => n.id === id);
    await client.ok(REGISTER_NODE, { input: { networkId: createNetwork.id, name: 'validator', plugin: 'ethereum', role: 'validator', config: { rpcUrl: 'http://127.0.0.1:8546', client: 'geth', consensus: 'clique' } } });
    for (const [input, message] of [
      [{ config: { rpcUrl: 'not a url', client: 'geth', consensus: 'clique', headers: { Authorization: 'Bearer second-secret' } } }, 'rpcUrl'],
      [{ role: 'miner' }, 'not "miner"'],
      [{ name: 'validator' }, 'already has a node named "validator"'],
    ] as const) {
      const refused = await client.fails(UPDATE_NODE, { id, input });
      expect(refused.message).toContain(message);
      expect(refused.message).not.toContain('second-secret');
    }
    expect((await client.ok(NODES)).nodes.find((n: { id: string }) => n.id === id)).toEqual(before);
    expect(await sealed()).toBe(first);

    // Given again, the secret is replaced.
    await client.ok(UPDATE_NODE, { id, input: { config: { rpcUrl: 'http://127.0.0.1:9545', client: 'geth', consensus: 'clique', headers: { Authorization: 'Bearer second-secret' } } } });
    expect(await sealed()).not.toBe(first);
    const events = await audit('node.update');
    expect(events.map((e) => e.details.secretFieldsGiven)).toEqual(expect.arrayContaining([[], ['headers.Authorization']]));
    expect(JSON.stringify(events)).not.toMatch(/first-secret|second-secret/);

    // A node of a machine that was SSH and is now local: the private key goes with the machine.
    const { createNetwork: fabric } = await client.ok(CREATE_NETWORK, { input: { name: 'org', protocol: 'fabric' } });
    const ssh = { kind: 'ssh', host: '127.0.0.1', port: 2222, user: 'root', privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nxyz\n-----END OPENSSH PRIVATE KEY-----', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` };
    const msp = (await client.ok(REGISTER_NODE, { input: { networkId: fabric.id, name: 'msp', plugin: 'fabric', role: 'msp', config: { machine: ssh, path: '/etc/msp' } } })).registerNode;
    expect(msp.secretFields).toEqual(['machine.privateKey']);
    const local = (await client.ok(UPDATE_NODE, { id: msp.id, input: { config: { machine: { kind: 'local' }, path: '/etc/msp' } } })).updateNode;
    expect(local).toMatchObject({ config: { machine: { kind: 'local' }, path: '/etc/msp' }, secretFields: [] });
    // ...and an SSH config given without its key keeps the stored one.
    await client.ok(UPDATE_NODE, { id: msp.id, input: { config: { machine: ssh, path: '/etc/msp' } } });
    const { privateKey: _key, ...sshWithoutKey } = ssh;
    expect((await client.ok(UPDATE_NODE, { id: msp.id, input: { config: { machine: sshWithoutKey, path: '/etc/msp-2' } } })).updateNode).toMatchObject({ config: { path: '/etc/msp-2' }, secretFields: ['machine.privateKey'] });

    // With the CLI.
    const renamed = await cli('nodes', 'update', 'monitor-1', '--name', 'monitor');
    expect(renamed).toMatchObject({ code: 0, stdout: expect.stringContaining('node monitor') });
  });

  it('lists restores, newest first, and shows one with what the plugin reported', async () => {
    const source = join(work, 'restore-source');
    await writeSampleTree(source, { bigFileBytes: 4096 });
    const { policyId } = await createDirectoryPolicy(client, 'restored', source, join(work, 'repository'));
    const backup = await backupNow(client, policyId);
    const target = join(work, 'restored-here');
    const job = await client.waitForJob((await client.ok(RESTORE, { input: { backupId: backup.backupId, targetConfig: { path: target } } })).restoreBackup.id);
    expect(job.status).toBe('COMPLETED');
    const { restores } = await client.ok(`query ($b: ID) { restores(backupId: $b) { id backupId status targetConfig details error finishedAt } }`, { b: backup.backupId });
    expect(restores).toEqual([{ id: job.restoreId, backupId: backup.backupId, status: 'COMPLETED', targetConfig: { path: target }, details: expect.any(Object), error: null, finishedAt: expect.any(String) }]);
    expect((await client.ok(`query ($id: ID!) { restore(id: $id) { id status } }`, { id: job.restoreId })).restore).toEqual({ id: job.restoreId, status: 'COMPLETED' });
    expect((await client.ok(`{ restore(id: "00000000-0000-4000-8000-000000000000") { id } }`)).restore).toBeNull();
    const listed = await cli('restores', 'list', '--backup', backup.backupId);
    expect(listed).toMatchObject({ code: 0, stdout: expect.stringContaining(`${job.restoreId}`) });
    expect((await cli('restores', 'show', job.restoreId)).stdout).toContain('COMPLETED');
  });
});
