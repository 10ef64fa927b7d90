/**
 * Registering a node whose secrets sit deep in its config (a list of replicas, each on its own
 * SSH machine with its own key, through a `$ref` and the SDK's `oneOf` machine schema), against
 * a real SQLite catalog and a real plugin package loaded by the registry: no key is in the
 * public config, the catalog files or the audit log, and the plugin gets every key back.
 */
import { machineSchema, type JsonSchema } from '@chainvault/plugin-sdk';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { catalogOptions } from '../catalog/catalog-options';
import { AuditEventEntity, NetworkEntity, NodeEntity, PolicyEntity, RestoreEntity, RestoreTemplateEntity } from '../catalog/entities';
import type { ChainvaultConfig } from '../config/chainvault-config';
import type { DestinationService } from '../destinations/destination.service';
import { ChainvaultError } from '../errors/chainvault.errors';
import { NetworkService } from '../networks/network.service';
import { PluginRegistry } from '../plugins/plugin-registry.service';
import { RestoreRoots } from '../restores/restore-roots';
import { SecretBox } from '../secrets/secret-box';
import { NodeService } from './node.service';

jest.setTimeout(60_000);

const nodeConfigSchema: JsonSchema = {
  type: 'object',
  required: ['dataDir', 'replicas'],
  additionalProperties: false,
  properties: {
    dataDir: { type: 'string', minLength: 1 },
    refuse: { type: 'boolean' },
    machine: machineSchema,
    replicas: { type: 'array', items: { $ref: '#/$defs/replica' } as JsonSchema },
  },
  $defs: {
    replica: { type: 'object', required: ['host', 'machine'], additionalProperties: false, properties: { host: { type: 'string' }, machine: machineSchema } },
  },
} as JsonSchema;

/** A plugin package whose node check, when asked to, refuses by quoting the whole config it was given. */
async function writeFleetPlugin(root: string): Promise<void> {
  const dir = join(root, 'chainvault-plugin-fleet');
  await mkdir(dir, { recursive: true });
  const pkg = { name: 'chainvault-plugin-fleet', version: '1.0.0', main: 'index.js', chainvault: { plugin: { id: 'fleet', apiVersion: '^2.0.0', entry: './index.js' } } };
  await writeFile(join(dir, 'package.json'), JSON.stringify(pkg));
  await writeFile(
    join(dir, 'index.js'),
    `'use strict';
module.exports = {
  id: 'fleet',
  apiVersion: '2.0.0',
  protocols: ['fleet'],
  description: 'nodes with replicas on other machines',
  nodeConfigSchema: ${JSON.stringify(nodeConfigSchema)},
  checkNodeConfig(config) {
    if (config.refuse) throw new Error('cannot log in to the replicas with ' + JSON.stringify(config));
  },
  methods: {
    copy: { scope: 'node', description: 'copies nothing', async backup() { return { metadata: {} }; }, async restore() { return {}; } },
  },
};
`,
  );
}

const FINGERPRINT = `SHA256:${'A'.repeat(43)}`;
const KEYS = ['CLIENT-KEY-7d3f', 'REPLICA-0-KEY-91ac', 'REPLICA-2-KEY-5be0'];
const pem = (body: string) => `-----BEGIN OPENSSH PRIVATE KEY-----\n${body}\n-----END OPENSSH PRIVATE KEY-----\n`;
const ssh = (host: string, key: string) => ({ kind: 'ssh', host, user: 'chainvault', privateKey: pem(key), hostKeyFingerprint: FINGERPRINT });

const fleetConfig = () => ({
  dataDir: '/var/lib/concord',
  machine: ssh('client-1', KEYS[0]),
  replicas: [
    { host: 'replica-0', machine: ssh('10.0.0.10', KEYS[1]) },
    { host: 'replica-1', machine: { kind: 'local' } },
    { host: 'replica-2', machine: ssh('10.0.0.12', KEYS[2]) },
  ],
});

async function refusal(promise: Promise<unknown>): Promise<ChainvaultError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ChainvaultError)) throw new Error(`expected a ChainvaultError, got ${String(error)}`);
  return error;
}

describe('registering a node with secrets in its replicas', () => {
  let dataDir: string;
  let dataSource: DataSource;
  let nodes: NodeService;
  let networkId: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'chainvault-node-secrets-'));
    const pluginsRoot = join(dataDir, 'extra-plugins');
    await writeFleetPlugin(pluginsRoot);
    const config: ChainvaultConfig = { dataDir, host: '127.0.0.1', port: 0, jobConcurrency: 1, pluginPaths: [pluginsRoot] };
    dataSource = new DataSource(catalogOptions({ dataDir }));
    await dataSource.initialize();
    const plugins = new PluginRegistry(config);
    await plugins.onModuleInit();
    expect(plugins.find('fleet')).toBeDefined();
    const audit = new AuditService(dataSource.getRepository(AuditEventEntity));
    const networks = new NetworkService(dataSource.getRepository(NetworkEntity), dataSource.getRepository(NodeEntity), dataSource.getRepository(PolicyEntity), audit, plugins);
    const restoreRoots = new RestoreRoots(config, { list: async () => [] } as unknown as DestinationService);
    nodes = new NodeService(
      dataSource.getRepository(NodeEntity),
      dataSource.getRepository(PolicyEntity),
      dataSource.getRepository(RestoreEntity),
      dataSource.getRepository(RestoreTemplateEntity),
      networks, plugins, SecretBox.fromKey(randomBytes(32).toString('base64')), audit, restoreRoots);
    networkId = (await networks.create({ name: 'concord', protocol: 'fleet' }, 'test')).id;
  });

  afterAll(async () => {
    if (dataSource?.isInitialized) await dataSource.destroy();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('stores no key in the config column, the catalog files or the audit log, and gives the plugin every key back', async () => {
    const registered = await nodes.register({ networkId, name: 'replica-set', plugin: 'fleet', role: 'replica', config: fleetConfig() }, 'test');

    const [row] = await dataSource.query('SELECT config, secrets FROM node WHERE id = ?', [registered.id]);
    const stored = JSON.parse(row.config);
    expect(stored.replicas.map((r: { machine: Record<string, unknown> }) => Object.keys(r.machine).sort())).toEqual([
      ['host', 'hostKeyFingerprint', 'kind', 'user'],
      ['kind'],
      ['host', 'hostKeyFingerprint', 'kind', 'user'],
    ]);
    expect(stored.machine).toEqual({ kind: 'ssh', host: 'client-1', user: 'chainvault', hostKeyFingerprint: FINGERPRINT });
    for (const key of KEYS) {
      expect(row.config).not.toContain(key);
      expect(row.secrets).not.toContain(key);
    }
    const [audited] = await dataSource.query("SELECT details FROM audit_event WHERE action = 'node.register'");
    for (const key of KEYS) expect(audited.details).not.toContain(key);
    expect(JSON.parse(audited.details).secretFields).toEqual(['machine.privateKey', 'replicas[0].machine.privateKey', 'replicas[2].machine.privateKey']);

    // What SQLite wrote to disk (the database and its write-ahead log) holds no key either.
    await dataSource.query('PRAGMA wal_checkpoint(FULL)');
    for (const file of (await readdir(dataDir)).filter((f) => f.startsWith('catalog.sqlite'))) {
      const bytes = await readFile(join(dataDir, file));
      for (const key of KEYS) expect(bytes.includes(key)).toBe(false);
    }

    const node = await nodes.get(registered.id);
    expect(nodes.handle(node).config).toEqual(fleetConfig());
    expect(nodes.secretFields(node)).toEqual(['machine.privateKey', 'replicas[0].machine.privateKey', 'replicas[2].machine.privateKey']);
  });

  it('refuses a config that does not fit the schema without quoting a key', async () => {
    const config = fleetConfig();
    config.replicas[2] = { host: 'replica-2', machine: { ...ssh('10.0.0.12', KEYS[2]), hostKeyFingerprint: 'MD5:not-pinned' } };
    (config.replicas[0].machine as Record<string, unknown>).privateKey = { pem: pem(KEYS[1]) };
    const error = await refusal(nodes.register({ networkId, name: 'misfit', plugin: 'fleet', role: 'replica', config }, 'test'));
    expect(error.message).toMatch(/node config does not fit plugin "fleet"/);
    expect(error.message).toContain('config.replicas.2.machine');
    for (const key of KEYS) expect(error.message).not.toContain(key);
    expect(await nodes.list(networkId)).toHaveLength(1);
  });

  it('masks the keys in a refusal from the plugin\'s own check that quotes the config', async () => {
    const error = await refusal(nodes.register({ networkId, name: 'refused', plugin: 'fleet', role: 'replica', config: { ...fleetConfig(), refuse: true } }, 'test'));
    expect(error.message).toMatch(/^cannot log in to the replicas with /);
    expect(error.message).toContain('"host":"10.0.0.12"');
    expect(error.message).toContain('***');
    for (const key of KEYS) expect(error.message).not.toContain(key);
  });
});
