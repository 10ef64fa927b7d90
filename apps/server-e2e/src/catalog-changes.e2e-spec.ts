/**
 * Changing and removing policies, nodes, destinations and plugins (issue 15): every refusal
 * leaves the catalog as it was and says why; every accepted change is an audit event; what was
 * backed up stays listed and restorable after its node and policy are gone.
 */
import { compareTrees, writeSampleTree } from '@chainvault/testing';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GraphqlClient } from './support/graphql-client';
import { CREATE_DESTINATION, CREATE_NETWORK, CREATE_POLICY, REGISTER_NODE, RUN_BACKUP, backupNow, createDirectoryPolicy, restoreTo } from './support/scenario';
import { startTestServer, type TestServer } from './support/test-server';

const POLICY_FIELDS = 'id name enabled options destinationIds schedule { preset cron timeZone } maintenanceWindows { days start end } retention { keepLast keepDaily keepWithin } webhook { url on }';
const POLICIES = `{ policies { ${POLICY_FIELDS} } }`;
const UPDATE_POLICY = `mutation ($id: ID!, $input: UpdatePolicyInput!) { updatePolicy(id: $id, input: $input) { ${POLICY_FIELDS} nextFireTimes(count: 2) } }`;
const DELETE_POLICY = `mutation ($id: ID!, $all: Boolean) { deletePolicy(id: $id, deleteBackups: $all) { id name } }`;
const DELETE_NODE = `mutation ($id: ID!) { deleteNode(id: $id) { id name } }`;
const NODES = `{ nodes { id name config } }`;
const DESTINATIONS = `{ destinations { id name kind config secretFields } }`;
const UPDATE_DESTINATION = `mutation ($id: ID!, $input: UpdateDestinationInput!) { updateDestination(id: $id, input: $input) { id name config secretFields } }`;
const DELETE_DESTINATION = `mutation ($id: ID!) { deleteDestination(id: $id) { id name } }`;
const BACKUPS = `query ($f: BackupFilter) { backups(filter: $f) { nodes { id status policyId nodeId } } }`;
const AUDIT = `query ($f: AuditEventFilter) { auditEvents(filter: $f, first: 100) { nodes { action subjectId details } } }`;
const PLUGINS = `{ plugins { id status source } }`;

describe('changing and deleting what was created', () => {
  let server: TestServer;
  let client: GraphqlClient;
  let work: string;

  const audit = async (action: string) => (await client.ok(AUDIT, { f: { action } })).auditEvents.nodes as Record<string, any>[];
  /** Each call is refused with this code and a message containing `message`, and the listing `query` reads the same afterwards. */
  const refusesUnchanged = async (query: string, cases: [string, Record<string, unknown>, string, string][]) => {
    const before = await client.ok(query);
    for (const [what, variables, code, message] of cases) {
      const refused = await client.fails(what, variables);
      expect({ code: refused.extensions?.code, message: refused.message }).toEqual({ code, message: expect.stringContaining(message) });
    }
    expect(await client.ok(query)).toEqual(before);
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-changes-'));
    server = await startTestServer();
    client = server.client;
  });

  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('refuses to register or move a directory node onto a folder that is not there, saying so', async () => {
    const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name: 'door', protocol: 'directory' } });
    const missing = join(work, 'no-such-folder');
    const refused = await client.fails(REGISTER_NODE, { input: { networkId: createNetwork.id, name: 'files', plugin: 'directory', role: 'node', config: { path: missing } } });
    expect(refused.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.message).toContain(`the node's directory ${missing} does not exist`);
    expect((await client.ok(NODES)).nodes.map((n: { name: string }) => n.name)).not.toContain('files');

    const there = join(work, 'door-files');
    await mkdir(there);
    const { registerNode } = await client.ok(REGISTER_NODE, { input: { networkId: createNetwork.id, name: 'files', plugin: 'directory', role: 'node', config: { path: there } } });
    const moved = await client.fails(`mutation ($id: ID!, $c: JSON) { updateNode(id: $id, input: { config: $c }) { id } }`, { id: registerNode.id, c: { path: missing } });
    expect(moved.message).toContain('does not exist');
    expect((await client.ok(NODES)).nodes.find((n: { id: string }) => n.id === registerNode.id).config).toEqual({ path: there });
  });

  it('updates a policy field by field, checking each as at creation, and refuses bad changes leaving it as it was', async () => {
    const source = join(work, 'policy-source');
    await writeSampleTree(source, { bigFileBytes: 1024 });
    const first = await createDirectoryPolicy(client, 'upd', source, join(work, 'upd-repository'));
    const { createDestination: second } = await client.ok(CREATE_DESTINATION, { input: { name: 'upd-second', kind: 'LOCAL', config: { path: join(work, 'upd-second') } } });
    const backup = await backupNow(client, first.policyId);
    expect(backup.status).toBe('COMPLETED');

    const updated = (
      await client.ok(UPDATE_POLICY, {
        id: first.policyId,
        input: {
          name: 'upd-nightly',
          schedule: { cron: '30 2 * * *', timeZone: 'Europe/Berlin' },
          maintenanceWindows: [{ days: ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'], start: '01:00', end: '05:00' }],
          retention: { keepDaily: 14, keepWithin: '2d' },
          destinationIds: [first.destinationId, second.id],
          enabled: false,
          webhook: { url: 'http://127.0.0.1:9/hook', on: ['FAILURE'] },
        },
      })
    ).updatePolicy;
    expect(updated).toMatchObject({
      name: 'upd-nightly',
      enabled: false,
      schedule: { preset: null, cron: '30 2 * * *', timeZone: 'Europe/Berlin' },
      maintenanceWindows: [{ start: '01:00', end: '05:00' }],
      retention: { keepLast: null, keepDaily: 14, keepWithin: '2d' },
      destinationIds: [first.destinationId, second.id],
      webhook: { url: 'http://127.0.0.1:9/hook', on: ['FAILURE'] },
    });
    // 02:30 in Berlin is 00:30 or 01:30 UTC, by the season.
    expect(updated.nextFireTimes.map((t: string) => new Date(t).getUTCMinutes())).toEqual([30, 30]);
    // The destination added receives a copy of the earlier backup.
    const replicated = async () => (await client.ok(`query ($id: ID!) { backup(id: $id) { replicas { destinationId state } } }`, { id: backup.backupId })).backup.replicas;
    for (let i = 0; i < 100 && (await replicated())[0]?.state !== 'COMPLETED'; i++) await new Promise((r) => setTimeout(r, 200));
    expect(await replicated()).toEqual([{ destinationId: second.id, state: 'COMPLETED' }]);

    await client.ok(CREATE_POLICY, { input: { name: 'upd-other', nodeId: first.nodeId, method: 'snapshot', destinationIds: [first.destinationId], enabled: false } });
    const id = first.policyId;
    await refusesUnchanged(POLICIES, [
      [UPDATE_POLICY, { id, input: { schedule: { cron: '61 * * * *' } } }, 'BAD_USER_INPUT', 'minute "61" is not in 0-59'],
      [UPDATE_POLICY, { id, input: { schedule: { preset: 'DAILY', timeZone: 'Mars/Olympus' } } }, 'BAD_USER_INPUT', 'is not an IANA time zone'],
      [UPDATE_POLICY, { id, input: { schedule: null } }, 'BAD_USER_INPUT', 'maintenanceWindows need a schedule'],
      [UPDATE_POLICY, { id, input: { retention: { keepWithin: 'forever' } } }, 'BAD_USER_INPUT', 'retention.keepWithin'],
      [UPDATE_POLICY, { id, input: { destinationIds: [] } }, 'BAD_USER_INPUT', 'give at least one destination'],
      [UPDATE_POLICY, { id, input: { destinationIds: ['00000000-0000-4000-8000-000000000000'] } }, 'NOT_FOUND', 'destination'],
      [UPDATE_POLICY, { id, input: { options: { compress: true } } }, 'BAD_USER_INPUT', 'options do not fit method "snapshot"'],
      [UPDATE_POLICY, { id, input: { name: 'upd-other' } }, 'CONFLICT', 'a policy named "upd-other" already exists'],
      [UPDATE_POLICY, { id, input: {} }, 'BAD_USER_INPUT', 'give at least one of'],
      [UPDATE_POLICY, { id: '00000000-0000-4000-8000-000000000000', input: { name: 'x' } }, 'NOT_FOUND', 'policy'],
    ]);

    // The schedule and its windows removed together; enabled again.
    const plain = (await client.ok(UPDATE_POLICY, { id, input: { schedule: null, maintenanceWindows: [], enabled: true } })).updatePolicy;
    expect(plain).toMatchObject({ schedule: null, maintenanceWindows: [], enabled: true, nextFireTimes: [] });
    const events = await audit('policy.update');
    expect(events.filter((e) => e.subjectId === id).map((e) => e.details.changed.sort())).toEqual(
      expect.arrayContaining([['destinationIds', 'enabled', 'maintenanceWindows', 'name', 'retention', 'schedule', 'webhook'], ['enabled', 'maintenanceWindows', 'schedule']]),
    );
  });

  it('deletes a node only once no policy backs it up; its backups stay listed and restorable, and its name is free again', async () => {
    const source = join(work, 'node-source');
    await writeSampleTree(source, { bigFileBytes: 64 * 1024 });
    const made = await createDirectoryPolicy(client, 'gone', source, join(work, 'gone-repository'));
    const backup = await backupNow(client, made.policyId);
    expect(backup.status).toBe('COMPLETED');

    await refusesUnchanged(NODES, [
      [DELETE_NODE, { id: made.nodeId }, 'CONFLICT', 'node "gone-files" is backed up by 1 policy(ies) (gone-policy)'],
      [DELETE_NODE, { id: '00000000-0000-4000-8000-000000000000' }, 'NOT_FOUND', 'node'],
    ]);
    // The policy goes, keeping its backups; then the node.
    expect((await client.ok(DELETE_POLICY, { id: made.policyId })).deletePolicy).toEqual({ id: made.policyId, name: 'gone-policy' });
    expect((await client.ok(DELETE_NODE, { id: made.nodeId })).deleteNode).toEqual({ id: made.nodeId, name: 'gone-files' });
    expect((await client.ok(NODES)).nodes.map((n: { id: string }) => n.id)).not.toContain(made.nodeId);
    expect((await client.ok(POLICIES)).policies.map((p: { id: string }) => p.id)).not.toContain(made.policyId);
    expect((await client.ok(BACKUPS, { f: { nodeId: made.nodeId } })).backups.nodes).toEqual([{ id: backup.backupId, status: 'COMPLETED', policyId: made.policyId, nodeId: made.nodeId }]);
    expect((await client.fails(RUN_BACKUP, { policyId: made.policyId })).extensions?.code).toBe('NOT_FOUND');

    const target = join(work, 'gone-restored');
    const restored = await restoreTo(client, backup.backupId, target);
    expect(restored).toMatchObject({ status: 'COMPLETED', error: null });
    expect(await compareTrees(source, target)).toEqual([]);

    // Both names can be used again.
    const again = await client.ok(REGISTER_NODE, { input: { networkId: made.networkId, name: 'gone-files', plugin: 'directory', role: 'node', config: { path: source } } });
    await client.ok(CREATE_POLICY, { input: { name: 'gone-policy', nodeId: again.registerNode.id, method: 'snapshot', destinationIds: [made.destinationId] } });
    expect((await audit('node.delete')).map((e) => [e.subjectId, e.details.name])).toEqual([[made.nodeId, 'gone-files']]);
    expect((await audit('policy.delete')).find((e) => e.subjectId === made.policyId)?.details).toMatchObject({ name: 'gone-policy', backupsDeleted: 0 });
  });

  it('deletes a policy with its backups only when none is pinned and no job of it waits', async () => {
    const source = join(work, 'purge-source');
    await writeSampleTree(source, { bigFileBytes: 1024 });
    const made = await createDirectoryPolicy(client, 'purge', source, join(work, 'purge-repository'));
    const older = await backupNow(client, made.policyId);
    const newer = await backupNow(client, made.policyId);
    await client.ok(`mutation ($id: ID!) { pinBackup(id: $id, pinned: true) { id } }`, { id: older.backupId });

    // A job that waits for a maintenance window that is closed now.
    const hour = (new Date().getUTCHours() + 3) % 24;
    const at = (h: number) => `${String(h % 24).padStart(2, '0')}:00`;
    await client.ok(UPDATE_POLICY, { id: made.policyId, input: { schedule: { preset: 'DAILY', timeZone: 'UTC' }, maintenanceWindows: [{ days: ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'], start: at(hour), end: at(hour + 1) }] } });
    const { runBackup: waiting } = await client.ok(RUN_BACKUP, { policyId: made.policyId });
    const listed = async () => (await client.ok(BACKUPS, { f: { policyId: made.policyId } })).backups.nodes.map((b: { id: string }) => b.id).sort();
    const before = await listed();
    await refusesUnchanged(POLICIES, [[DELETE_POLICY, { id: made.policyId, all: true }, 'CONFLICT', `job(s) queued or running (BACKUP ${waiting.id})`]]);
    await client.ok(`mutation ($id: ID!) { cancelJob(id: $id) { id } }`, { id: waiting.id });
    await refusesUnchanged(POLICIES, [[DELETE_POLICY, { id: made.policyId, all: true }, 'CONFLICT', `has 1 pinned backup(s) (${older.backupId})`]]);
    expect(await listed()).toEqual(before);

    await client.ok(`mutation ($id: ID!) { pinBackup(id: $id, pinned: false) { id } }`, { id: older.backupId });
    await client.ok(DELETE_POLICY, { id: made.policyId, all: true });
    expect(await listed()).toEqual([]);
    const deleted = (await client.ok(BACKUPS, { f: { policyId: made.policyId, status: ['DELETED'] } })).backups.nodes.map((b: { id: string }) => b.id).sort();
    expect(deleted).toEqual([older.backupId, newer.backupId].sort());
    const event = (await audit('policy.delete')).find((e) => e.subjectId === made.policyId);
    expect(event?.details).toMatchObject({ name: 'purge-policy', backupsDeleted: 2, pruneJobIds: [expect.any(String)] });
  });

  it('rotates a destination config only to one that opens the same repository, and deletes it only once nothing needs it', async () => {
    const source = join(work, 'dest-source');
    await writeSampleTree(source, { bigFileBytes: 1024 });
    const repository = join(work, 'dest-repository');
    const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name: 'dest', protocol: 'directory' } });
    const { registerNode } = await client.ok(REGISTER_NODE, { input: { networkId: createNetwork.id, name: 'files', plugin: 'directory', role: 'node', config: { path: source } } });
    const { createDestination } = await client.ok(CREATE_DESTINATION, { input: { name: 'vault', kind: 'LOCAL', config: { path: repository, passphrase: 'first passphrase' } } });
    const id = createDestination.id;
    const { createPolicy } = await client.ok(CREATE_POLICY, { input: { name: 'dest-policy', nodeId: registerNode.id, method: 'snapshot', destinationIds: [id] } });
    const backup = await backupNow(client, createPolicy.id);
    expect(backup.status).toBe('COMPLETED');

    const elsewhere = join(work, 'empty-folder');
    await mkdir(elsewhere);
    await refusesUnchanged(DESTINATIONS, [
      [UPDATE_DESTINATION, { id, input: { config: { path: elsewhere } } }, 'BAD_USER_INPUT', 'the new config was not saved'],
      [UPDATE_DESTINATION, { id, input: { config: { path: repository, passphrase: 'a wrong passphrase' } } }, 'BAD_USER_INPUT', 'the new config was not saved'],
      [UPDATE_DESTINATION, { id, input: { config: { path: repository, colour: 'blue' } } }, 'BAD_USER_INPUT', 'config does not fit'],
      [UPDATE_DESTINATION, { id, input: { name: 'local' } }, 'CONFLICT', 'a destination named "local" already exists'],
      [UPDATE_DESTINATION, { id, input: {} }, 'BAD_USER_INPUT', 'give name or config to change'],
    ]);
    // Renamed, the passphrase kept though not given again; backups still work.
    const renamed = (await client.ok(UPDATE_DESTINATION, { id, input: { name: 'vault-2', config: { path: repository } } })).updateDestination;
    expect(renamed).toEqual({ id, name: 'vault-2', config: { path: repository }, secretFields: ['passphrase'] });
    expect((await backupNow(client, createPolicy.id)).status).toBe('COMPLETED');
    expect(JSON.stringify(await audit('destination.update'))).not.toContain('passphrase"');

    await refusesUnchanged(DESTINATIONS, [[DELETE_DESTINATION, { id }, 'CONFLICT', 'is written to by policy(ies) "dest-policy"']]);
    await client.ok(DELETE_POLICY, { id: createPolicy.id });
    await refusesUnchanged(DESTINATIONS, [[DELETE_DESTINATION, { id }, 'CONFLICT', 'holds 2 backup(s)']]);
    const kept = (await client.ok(BACKUPS, { f: { policyId: createPolicy.id } })).backups.nodes.map((b: { id: string }) => b.id);
    for (const backupId of kept) await client.ok(`mutation ($id: ID!) { deleteBackup(id: $id) }`, { id: backupId });
    expect((await client.ok(DELETE_DESTINATION, { id })).deleteDestination).toEqual({ id, name: 'vault-2' });
    expect((await client.ok(DESTINATIONS)).destinations.map((d: { id: string }) => d.id)).not.toContain(id);
    expect((await audit('destination.delete')).map((e) => e.details.name)).toEqual(['vault-2']);
  });

  it('uninstalls an installed plugin once no node uses it, and never a built-in one', async () => {
    const dir = join(work, 'plugin-tally');
    await mkdir(dir);
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'chainvault-plugin-tally', version: '1.0.0', main: 'index.js', chainvault: { plugin: { id: 'tally', apiVersion: '^1.0.0', entry: './index.js' } }, peerDependencies: { '@chainvault/plugin-sdk': '^1.0.0' } }));
    await writeFile(
      join(dir, 'index.js'),
      `module.exports = require('@chainvault/plugin-sdk').definePlugin({ id: 'tally', protocols: ['tally'], nodeConfigSchema: { type: 'object' }, methods: { copy: { scope: 'node', description: 'nothing', backup: async () => ({}), restore: async () => ({}) } } });\n`,
    );
    expect((await client.ok(`mutation ($s: String!) { installPlugin(spec: $s) { id status } }`, { s: dir })).installPlugin).toEqual({ id: 'tally', status: 'LOADED' });
    const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name: 'tallies', protocol: 'tally' } });
    const { registerNode } = await client.ok(REGISTER_NODE, { input: { networkId: createNetwork.id, name: 'counter', plugin: 'tally', role: 'node', config: {} } });

    const UNINSTALL = `mutation ($id: ID!) { uninstallPlugin(id: $id) { id source } }`;
    await refusesUnchanged(PLUGINS, [
      [UNINSTALL, { id: 'tally' }, 'CONFLICT', 'plugin "tally" is used by 1 node(s) (counter)'],
      [UNINSTALL, { id: 'directory' }, 'CONFLICT', 'plugin "directory" is built into this server'],
      [UNINSTALL, { id: 'nothing-like-it' }, 'NOT_FOUND', 'plugin'],
    ]);
    await client.ok(DELETE_NODE, { id: registerNode.id });
    expect((await client.ok(UNINSTALL, { id: 'tally' })).uninstallPlugin).toEqual({ id: 'tally', source: 'installed' });
    expect((await client.ok(PLUGINS)).plugins.map((p: { id: string }) => p.id)).not.toContain('tally');
    const refused = await client.fails(REGISTER_NODE, { input: { networkId: createNetwork.id, name: 'again', plugin: 'tally', role: 'node', config: {} } });
    expect(refused.message).toContain('unknown plugin "tally"');
    expect((await audit('plugin.uninstall')).map((e) => e.subjectId)).toEqual(['tally']);
  });

  it('disables a plugin, keeping its nodes and policies, refusing its runs with the reason, and enables it again', async () => {
    const source = join(work, 'disabled-source');
    await writeSampleTree(source, { bigFileBytes: 1024 });
    const made = await createDirectoryPolicy(client, 'paused-plugin', source, join(work, 'paused-plugin-repository'));
    const DISABLE = `mutation ($id: ID!) { disablePlugin(id: $id) { id status } }`;
    const ENABLE = `mutation ($id: ID!) { enablePlugin(id: $id) { id status } }`;
    expect((await client.ok(DISABLE, { id: 'directory' })).disablePlugin).toEqual({ id: 'directory', status: 'DISABLED' });
    expect((await client.ok(PLUGINS)).plugins.find((p: { id: string }) => p.id === 'directory').status).toBe('DISABLED');
    expect((await client.fails(DISABLE, { id: 'directory' })).extensions?.code).toBe('CONFLICT');
    expect((await client.fails(DISABLE, { id: 'no-such-plugin' })).extensions?.code).toBe('NOT_FOUND');

    // Its node and policy stay; a run is refused saying why; nothing new can use it.
    expect((await client.ok(NODES)).nodes.map((n: { id: string }) => n.id)).toContain(made.nodeId);
    const run = await client.fails(RUN_BACKUP, { policyId: made.policyId });
    expect({ code: run.extensions?.code, message: run.message }).toEqual({ code: 'BAD_USER_INPUT', message: expect.stringContaining('plugin "directory" is disabled') });
    const refused = await client.fails(REGISTER_NODE, { input: { networkId: made.networkId, name: 'more', plugin: 'directory', role: 'node', config: { path: source } } });
    expect(refused.message).toContain('plugin "directory" is disabled');
    // Kept across restarts: the data directory says so.
    const { readFile } = await import('node:fs/promises');
    expect(JSON.parse(await readFile(join(server.config.dataDir, 'plugins', 'disabled.json'), 'utf8'))).toEqual(['directory']);

    expect((await client.ok(ENABLE, { id: 'directory' })).enablePlugin).toEqual({ id: 'directory', status: 'LOADED' });
    expect((await client.fails(ENABLE, { id: 'directory' })).extensions?.code).toBe('CONFLICT');
    expect((await backupNow(client, made.policyId)).status).toBe('COMPLETED');
    expect((await audit('plugin.disable')).map((e) => e.subjectId)).toEqual(['directory']);
    expect((await audit('plugin.enable')).map((e) => e.subjectId)).toEqual(['directory']);
  });
});
