/**
 * Installing plugins from an npm registry by name@version (issue 17), against a real local
 * registry (verdaccio, started here): the registry's sha512 is the one recorded and shown, an
 * upgrade by name@version migrates the nodes, and an unknown version is refused with nothing
 * installed.
 */
import { compareTrees, writeSampleTree } from '@chainvault/testing';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ledgerSource, writeLedger } from './support/ledger-plugin';
import { CREATE_NETWORK, CREATE_POLICY, REGISTER_NODE, backupNow, restoreTo } from './support/scenario';
import { spawnServer, type ServerProcess } from './support/server-process';
import { startVerdaccio, type RunningRegistry } from './support/verdaccio';

jest.setTimeout(300_000);

const PLUGINS = `{ plugins { id version status integrity } }`;

describe('plugins from an npm registry', () => {
  let work: string;
  let registry: RunningRegistry;
  let server: ServerProcess;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-registry-'));
    registry = await startVerdaccio(join(work, 'registry'));
    const packages = join(work, 'packages');
    await registry.publish(await writeLedger(packages, 'v1', '1.0.0', ledgerSource('dir')));
    await registry.publish(
      await writeLedger(packages, 'v2', '2.0.0', ledgerSource('folder', { migrate: `(config, from) => { const { dir, ...rest } = config; return from.version === '1.0.0' ? { ...rest, folder: dir } : config; }` })),
    );
    // The server's npm asks this registry, as an operator's .npmrc or environment would say.
    server = await spawnServer({ dataDir: join(work, 'data'), extra: { npm_config_registry: registry.url } });
  });

  afterAll(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("installs name@version with the registry's sha512 recorded, upgrades by name@version, and refuses a version the registry does not have", async () => {
    const { client } = server;
    const published = async (version: string) =>
      JSON.parse((await promisify(execFile)('npm', ['view', `chainvault-plugin-ledger@${version}`, 'dist.integrity', '--json', `--registry=${registry.url}`])).stdout) as string;

    const installed = (await client.ok(`mutation { installPlugin(spec: "chainvault-plugin-ledger@1.0.0") { id version status source integrity } }`)).installPlugin;
    expect(installed).toEqual({ id: 'ledger', version: '1.0.0', status: 'LOADED', source: 'installed', integrity: await published('1.0.0') });

    const source = join(work, 'ledger-data');
    await writeSampleTree(source, { bigFileBytes: 4096 });
    const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name: 'ledgers', protocol: 'ledger' } });
    const { registerNode } = await client.ok(REGISTER_NODE, { input: { networkId: createNetwork.id, name: 'book', plugin: 'ledger', role: 'node', config: { dir: source, token: 'registry-token' } } });
    const destinationId = (await client.ok('{ destinations { id } }')).destinations[0].id;
    const { createPolicy } = await client.ok(CREATE_POLICY, { input: { name: 'ledger', nodeId: registerNode.id, method: 'snapshot', destinationIds: [destinationId] } });
    const first = await backupNow(client, createPolicy.id);
    expect(first.status).toBe('COMPLETED');

    const before = await client.ok(PLUGINS);
    const missing = await client.fails(`mutation { upgradePlugin(id: "ledger", spec: "chainvault-plugin-ledger@9.9.9") { id } }`);
    expect(missing.extensions?.code).toBe('BAD_USER_INPUT');
    expect(missing.message).toContain('chainvault-plugin-ledger@9.9.9');
    const unknown = await client.fails(`mutation { installPlugin(spec: "chainvault-plugin-nothing-like-it@1.0.0") { id } }`);
    expect(unknown.message).toContain('chainvault-plugin-nothing-like-it@1.0.0');
    expect(await client.ok(PLUGINS)).toEqual(before);

    const upgraded = (await client.ok(`mutation { upgradePlugin(id: "ledger", spec: "chainvault-plugin-ledger@2.0.0") { id version status integrity } }`)).upgradePlugin;
    expect(upgraded).toEqual({ id: 'ledger', version: '2.0.0', status: 'LOADED', integrity: await published('2.0.0') });
    expect((await client.ok(`{ nodes { id config } }`)).nodes.find((n: { id: string }) => n.id === registerNode.id).config).toEqual({ folder: source });
    expect((await backupNow(client, createPolicy.id)).status).toBe('COMPLETED');
    const target = join(work, 'restored');
    expect(await restoreTo(client, first.backupId, target)).toMatchObject({ status: 'COMPLETED' });
    expect(await compareTrees(source, target)).toEqual([]);
  });
});
