/**
 * Upgrading an installed plugin in place (issue 17), on a server process of its own (the new
 * version's code must be loaded as Node loads it, not from Jest's module registry): the new version takes over its nodes and
 * policies, migrating their configs as it declares; a version that does not fit them, or needs
 * another plugin API, is refused with nothing changed; a version seen before with other content
 * is refused.
 */
import { compareTrees, writeSampleTree } from '@chainvault/testing';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GraphqlClient } from './support/graphql-client';
import { CREATE_NETWORK, CREATE_POLICY, REGISTER_NODE, backupNow, restoreTo } from './support/scenario';
import { ledgerSource, writeLedger } from './support/ledger-plugin';
import { spawnServer, type ServerProcess } from './support/server-process';

const PLUGINS = `{ plugins { id version status integrity } }`;
const NODES = `{ nodes { id name config secretFields } }`;
const UPGRADE = `mutation ($id: ID!, $spec: String!) { upgradePlugin(id: $id, spec: $spec) { id version status integrity } }`;
const INSTALL = `mutation ($spec: String!) { installPlugin(spec: $spec) { id version status integrity } }`;

describe('upgrading an installed plugin in place', () => {
  let server: ServerProcess;
  let client: GraphqlClient;
  let work: string;
  let source: string;
  const dirs: Record<string, string> = {};

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-upgrade-'));
    source = join(work, 'ledger-data');
    await writeSampleTree(source, { bigFileBytes: 8192 });
    const packages = join(work, 'packages');
    dirs.v1 = await writeLedger(packages, 'v1', '1.0.0', ledgerSource('dir'));
    dirs.v2 = await writeLedger(packages, 'v2', '2.0.0', ledgerSource('folder', { migrate: `(config, from) => { const { dir, ...rest } = config; return from.version === '1.0.0' ? { ...rest, folder: dir } : config; }` }));
    dirs.v3 = await writeLedger(packages, 'v3', '3.0.0', ledgerSource('folder', { required: ['region'] }));
    dirs.v4 = await writeLedger(packages, 'v4', '4.0.0', ledgerSource('folder'), '^9.0.0');
    dirs.v1tampered = await writeLedger(packages, 'v1-tampered', '1.0.0', `${ledgerSource('dir')}\n// and something else\n`);
    server = await spawnServer({ dataDir: join(work, 'data') });
    client = server.client;
  });

  afterAll(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    await rm(work, { recursive: true, force: true });
  });

  it('keeps nodes and policies across an upgrade that migrates configs, and refuses versions that do not fit, changing nothing', async () => {
    const installed = (await client.ok(INSTALL, { spec: dirs.v1 })).installPlugin;
    expect(installed).toMatchObject({ id: 'ledger', version: '1.0.0', status: 'LOADED', integrity: expect.stringMatching(/^sha512-/) });
    const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name: 'ledgers', protocol: 'ledger' } });
    const { registerNode } = await client.ok(REGISTER_NODE, { input: { networkId: createNetwork.id, name: 'book', plugin: 'ledger', role: 'node', config: { dir: source, token: 'token-that-stays-secret' } } });
    const { createPolicy } = await client.ok(CREATE_POLICY, { input: { name: 'ledger-policy', nodeId: registerNode.id, method: 'snapshot', destinationIds: [(await client.ok('{ destinations { id } }')).destinations[0].id] } });
    const first = await backupNow(client, createPolicy.id);
    expect(first.status).toBe('COMPLETED');

    // Installing another version over it is not how to change it.
    expect((await client.fails(INSTALL, { spec: dirs.v2 })).message).toContain('change its version with upgradePlugin');

    const upgraded = (await client.ok(UPGRADE, { id: 'ledger', spec: dirs.v2 })).upgradePlugin;
    expect(upgraded).toMatchObject({ id: 'ledger', version: '2.0.0', status: 'LOADED' });
    expect(upgraded.integrity).not.toBe(installed.integrity);
    const node = (await client.ok(NODES)).nodes.find((n: { id: string }) => n.id === registerNode.id);
    expect(node).toMatchObject({ config: { folder: source }, secretFields: ['token'] });
    // The migrated node backs up with the new version, and the old backup restores through it.
    expect((await backupNow(client, createPolicy.id)).status).toBe('COMPLETED');
    const target = join(work, 'restored-v1-backup');
    expect(await restoreTo(client, first.backupId, target)).toMatchObject({ status: 'COMPLETED' });
    expect(await compareTrees(source, target)).toEqual([]);

    const before = { plugins: await client.ok(PLUGINS), nodes: await client.ok(NODES) };
    const refusals: [string, string, string][] = [
      [dirs.v3, 'BAD_USER_INPUT', 'node "book": config: missing required field "region"'],
      [dirs.v4, 'BAD_USER_INPUT', 'needs plugin API ^9.0.0'],
      [dirs.v2, 'CONFLICT', 'already at version 2.0.0'],
      [dirs.v1tampered, 'CONFLICT', 'is not the package installed before under that version'],
      [join(work, 'nowhere'), 'BAD_USER_INPUT', 'nowhere'],
    ];
    for (const [spec, code, message] of refusals) {
      const refused = await client.fails(UPGRADE, { id: 'ledger', spec });
      expect({ code: refused.extensions?.code, message: refused.message }).toEqual({ code, message: expect.stringContaining(message) });
      expect(refused.message).not.toContain('token-that-stays-secret');
    }
    expect((await client.fails(UPGRADE, { id: 'directory', spec: dirs.v2 })).message).toContain('built into this server');
    expect({ plugins: await client.ok(PLUGINS), nodes: await client.ok(NODES) }).toEqual(before);
    // Still working on 2.0.0 after the refusals.
    expect((await backupNow(client, createPolicy.id)).status).toBe('COMPLETED');

    const events = (await client.ok(`{ auditEvents(filter: { action: "plugin.upgrade" }) { nodes { subjectId details } } }`)).auditEvents.nodes;
    expect(events).toEqual([{ subjectId: 'ledger', details: expect.objectContaining({ from: '1.0.0', to: '2.0.0', nodes: ['book'] }) }]);
  });

  it('keeps a disabled plugin disabled across a restart, without running its code', async () => {
    await client.ok(`mutation { disablePlugin(id: "ledger") { id } }`);
    server.child.kill('SIGTERM');
    await server.exited;
    server = await spawnServer({ dataDir: join(work, 'data') });
    client = server.client;
    const { plugins } = await client.ok(`{ plugins { id version status methods { name } } }`);
    // Only its manifest was read: no methods known, no code run.
    expect(plugins.find((p: { id: string }) => p.id === 'ledger')).toEqual({ id: 'ledger', version: '2.0.0', status: 'DISABLED', methods: [] });
    expect((await client.ok(`mutation { enablePlugin(id: "ledger") { id status methods { name } } }`)).enablePlugin).toEqual({ id: 'ledger', status: 'LOADED', methods: [{ name: 'snapshot' }] });
  });
});
