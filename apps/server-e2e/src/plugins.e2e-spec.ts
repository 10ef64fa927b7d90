/**
 * Third-party plugins end to end: a package written by hand outside the workspace, packed by
 * npm and installed through GraphQL, backs up and restores with a secret the catalog never
 * holds in plain text; broken packages are reported with their reason and never stop the
 * server; a restart finds every installed package again.
 */
import { NodeEntity } from '@chainvault/core';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { DataSource } from 'typeorm';
import { BACKUP, CREATE_DESTINATION, CREATE_NETWORK, CREATE_POLICY, REGISTER_NODE, RESTORE, backupNow } from './support/scenario';
import { startTestServer, type TestServer } from './support/test-server';

jest.setTimeout(60_000);

const run = promisify(execFile);

const INSTALL = `mutation ($spec: String!) { installPlugin(spec: $spec) { id packageName version apiVersion status error source protocols methods { name scope } nodeConfigSchema } }`;
const PLUGINS = `{ plugins { id packageName version status error source protocols } }`;

const NOTES_PACKAGE = 'chainvault-plugin-notes';
const NOTES_INDEX = `'use strict';
const { createHash } = require('node:crypto');
const { join } = require('node:path');
const { definePlugin, PluginError } = require('@chainvault/plugin-sdk');

const dirSchema = { type: 'object', properties: { dir: { type: 'string', minLength: 1 } }, required: ['dir'], additionalProperties: false };

module.exports = definePlugin({
  id: 'notes',
  protocols: ['notes'],
  description: 'A notes file and a fingerprint of the token that guards it.',
  nodeConfigSchema: {
    type: 'object',
    properties: { dir: { type: 'string', minLength: 1 }, token: { type: 'string', writeOnly: true } },
    required: ['dir'],
    additionalProperties: false,
  },
  methods: {
    snapshot: {
      scope: 'node',
      description: 'Copies notes.txt and records the sha256 of the token.',
      restoreTargetSchema: dirSchema,
      async backup(ctx) {
        const { dir, token } = ctx.node.config;
        if (typeof token !== 'string') throw new PluginError('INVALID_CONFIG', 'the node has no token');
        await ctx.artifacts.addFile(join(dir, 'notes.txt'), 'notes.txt');
        await ctx.artifacts.writeFile('token.sha256', createHash('sha256').update(token).digest('hex'));
        return { metadata: { files: 2 } };
      },
      async restore(ctx) {
        const summary = await ctx.artifacts.extractTree(ctx.target.config.dir);
        return { details: { files: summary.files } };
      },
    },
  },
});
`;

interface PluginSource {
  /** Folder name and package name suffix. */
  name: string;
  id: string;
  apiVersion?: string;
  /** Omit `entry` from the manifest. */
  noEntry?: boolean;
  index: string;
}

const BROKEN: PluginSource[] = [
  { name: 'throws', id: 'broken-throws', index: `throw new Error('the license server is unreachable');\n` },
  {
    name: 'future',
    id: 'broken-future',
    apiVersion: '^3.0.0',
    index: `module.exports = require('@chainvault/plugin-sdk').definePlugin({ id: 'broken-future', protocols: ['future'], nodeConfigSchema: { type: 'object' }, methods: { copy: { scope: 'node', description: 'x', backup: async () => {}, restore: async () => {} } } });\n`,
  },
  { name: 'no-entry', id: 'broken-no-entry', noEntry: true, index: `module.exports = {};\n` },
  { name: 'shapeless', id: 'broken-shapeless', index: `module.exports = { id: 'broken-shapeless', protocols: [] };\n` },
];

async function writePluginPackage(root: string, source: PluginSource, version = '1.0.0'): Promise<string> {
  const dir = join(root, `chainvault-plugin-${source.name}`);
  await mkdir(dir, { recursive: true });
  const plugin: Record<string, string> = { id: source.id, apiVersion: source.apiVersion ?? '^1.0.0' };
  if (!source.noEntry) plugin.entry = './index.js';
  const pkg = {
    name: `chainvault-plugin-${source.name}`,
    version,
    main: 'index.js',
    license: 'MIT',
    chainvault: { plugin },
    peerDependencies: { '@chainvault/plugin-sdk': '^1.0.0' },
  };
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  await writeFile(join(dir, 'index.js'), source.index);
  return dir;
}

/** Files under `root` (symlinks not followed) whose bytes contain `needle`, as relative paths. */
async function filesContaining(root: string, needle: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const path = join(dir, name);
      const info = await lstat(path);
      if (info.isDirectory()) await walk(path);
      else if (info.isFile() && (await readFile(path)).includes(needle)) found.push(relative(root, path));
    }
  };
  await walk(root);
  return found.sort();
}

const sha256 = (value: string | Buffer) => createHash('sha256').update(value).digest('hex');

describe('third-party plugins installed through GraphQL (sqlite catalog)', () => {
  const token = `notes-token-${randomBytes(16).toString('hex')}`;
  const notes = `shopping list ${randomBytes(8).toString('hex')}\n- more disks\n`;
  let work: string;
  let server: TestServer;
  let dataDir: string;
  let tarball: string;
  let notesDir: string;
  let repositoryDir: string;
  let backupId: string;
  const brokenDirs = new Map<string, string>();

  beforeAll(async () => {
    // Outside the workspace: the package must not resolve anything from the checkout's node_modules.
    work = await mkdtemp(join(tmpdir(), 'chainvault-plugins-'));
    const sources = join(work, 'sources');
    const packs = join(work, 'packs');
    await mkdir(packs, { recursive: true });
    const notesPackage = await writePluginPackage(sources, { name: 'notes', id: 'notes', index: NOTES_INDEX }, '1.2.3');
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', packs], { cwd: notesPackage });
    const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    expect(packed.files.map((f) => f.path).sort()).toEqual(['index.js', 'package.json']);
    tarball = join(packs, packed.filename);
    for (const source of BROKEN) brokenDirs.set(source.name, await writePluginPackage(sources, source));

    notesDir = join(work, 'notes-node');
    await mkdir(notesDir);
    await writeFile(join(notesDir, 'notes.txt'), notes);
    repositoryDir = join(work, 'repository');

    server = await startTestServer();
    dataDir = server.config.dataDir;
  });

  /** Restores the notes backup through the plugin into `dir`: the notes as backed up, and the fingerprint of the token it was given. */
  async function restoresThroughPlugin(client: TestServer['client'], dir: string): Promise<void> {
    const { restoreBackup } = await client.ok(RESTORE, { input: { backupId, targetConfig: { dir } } });
    const restore = await client.waitForJob(restoreBackup.id);
    expect(restore.error).toBeNull();
    expect(restore.status).toBe('COMPLETED');
    expect(await readFile(join(dir, 'notes.txt'), 'utf8')).toBe(notes);
    expect(await readFile(join(dir, 'token.sha256'), 'utf8')).toBe(sha256(token));
  }

  afterAll(async () => {
    await server?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('installs a plugin from an npm-packed tarball and lists it as installed and LOADED', async () => {
    const { client } = server;
    const { installPlugin } = await client.ok(INSTALL, { spec: tarball });
    expect(installPlugin).toMatchObject({
      id: 'notes',
      packageName: NOTES_PACKAGE,
      version: '1.2.3',
      apiVersion: '^1.0.0',
      status: 'LOADED',
      error: null,
      source: 'installed',
      protocols: ['notes'],
      methods: [{ name: 'snapshot', scope: 'node' }],
    });
    expect(installPlugin.nodeConfigSchema.properties.token.writeOnly).toBe(true);

    const { plugins } = await client.ok(PLUGINS);
    expect(plugins).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: 'notes', version: '1.2.3', status: 'LOADED', source: 'installed', protocols: ['notes'] }),
        expect.objectContaining({ id: 'directory', status: 'LOADED', source: 'builtin' }),
      ]),
    );
  });

  it('hands the plugin its secret token, which neither the API nor the catalog reveals, and backs up and restores through it', async () => {
    const { client } = server;
    const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name: 'notebook', protocol: 'notes' } });
    const { registerNode } = await client.ok(REGISTER_NODE, {
      input: { networkId: createNetwork.id, name: 'desk', plugin: 'notes', role: 'node', config: { dir: notesDir, token } },
    });
    expect(registerNode.config).toEqual({ dir: notesDir });
    expect(registerNode.secretFields).toEqual(['token']);
    const { nodes } = await client.ok(`{ nodes { id config secretFields } }`);
    expect(nodes).toEqual([{ id: registerNode.id, config: { dir: notesDir }, secretFields: ['token'] }]);

    const { createDestination } = await client.ok(CREATE_DESTINATION, { input: { name: 'notes-repo', kind: 'LOCAL', config: { path: repositoryDir } } });
    const { createPolicy } = await client.ok(CREATE_POLICY, {
      input: { name: 'notes-nightly', nodeId: registerNode.id, method: 'snapshot', destinationIds: [createDestination.id], retention: { keepLast: 3 } },
    });
    const job = await backupNow(client, createPolicy.id);
    expect(job.error).toBeNull();
    expect(job.status).toBe('COMPLETED');
    backupId = job.backupId;

    const { backup } = await client.ok(BACKUP, { id: backupId });
    expect(backup).toMatchObject({ status: 'COMPLETED', plugin: 'notes', method: 'snapshot', metadata: { files: 2 } });
    const files = Object.fromEntries(
      backup.files.filter((f: { type: string }) => f.type === 'file').map((f: { path: string; sha256: string }) => [f.path, f.sha256]),
    );
    // The file the plugin wrote holds sha256(token) as hex: the plugin saw the real token.
    expect(files).toEqual({ 'notes.txt': sha256(notes), 'token.sha256': sha256(sha256(token)) });

    await restoresThroughPlugin(client, join(work, 'restored-before-restart'));

    // At rest the token is sealed: present in the node row, but not as plain text anywhere.
    const row = await server.app.get(DataSource).getRepository(NodeEntity).findOneByOrFail({ id: registerNode.id });
    expect(row.secrets).toMatch(/^v1:/);
    expect(JSON.stringify(row)).not.toContain(token);
    // The scan does find plain config values in the catalog files, so it would find the token too.
    expect((await filesContaining(dataDir, notesDir)).some((f) => f.startsWith('catalog.sqlite'))).toBe(true);
    expect(await filesContaining(dataDir, token)).toEqual([]);
    // Chunks are stored as they are: the notes are in the repository, the token is not.
    expect((await filesContaining(repositoryDir, notes)).length).toBeGreaterThan(0);
    expect(await filesContaining(repositoryDir, token)).toEqual([]);
  });

  it('reports each broken plugin as FAILED with its package and reason, and keeps serving', async () => {
    const { client } = server;
    const install = async (name: string) => (await client.ok(INSTALL, { spec: brokenDirs.get(name) })).installPlugin;

    const throws = await install('throws');
    expect(throws).toMatchObject({ id: 'broken-throws', packageName: 'chainvault-plugin-throws', status: 'FAILED', source: 'installed', protocols: [] });
    expect(throws.error).toContain('chainvault-plugin-throws threw while loading ./index.js');
    expect(throws.error).toContain('the license server is unreachable');

    const future = await install('future');
    expect(future).toMatchObject({ id: 'broken-future', status: 'FAILED', apiVersion: '^3.0.0' });
    expect(future.error).toBe('chainvault-plugin-future needs plugin API ^3.0.0, but this chainvault loads plugins built for ^1.0.0 || ^2.0.0 (it implements 2.0.0)');

    const noEntry = await install('no-entry');
    // Without a readable manifest the package name is the only id there is.
    expect(noEntry).toMatchObject({ id: 'chainvault-plugin-no-entry', status: 'FAILED' });
    expect(noEntry.error).toContain('chainvault-plugin-no-entry');
    expect(noEntry.error).toContain('"chainvault.plugin.entry" must be a non-empty string');

    const shapeless = await install('shapeless');
    expect(shapeless).toMatchObject({ id: 'broken-shapeless', status: 'FAILED' });
    expect(shapeless.error).toContain('chainvault-plugin-shapeless does not export a valid plugin');
    expect(shapeless.error).toContain('protocols must be a non-empty list of strings');

    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', plugins: { failed: 4 } });

    const { plugins } = await client.ok(PLUGINS);
    const status = Object.fromEntries(plugins.map((p: { id: string; status: string }) => [p.id, p.status]));
    expect(status).toMatchObject({
      directory: 'LOADED',
      notes: 'LOADED',
      'broken-throws': 'FAILED',
      'broken-future': 'FAILED',
      'chainvault-plugin-no-entry': 'FAILED',
      'broken-shapeless': 'FAILED',
    });

    // No network can be made for a protocol only a broken plugin serves; a node of that plugin is refused in any network.
    const noProtocol = await client.fails(CREATE_NETWORK, { input: { name: 'future-net', protocol: 'future' } });
    expect(noProtocol.message).toMatch(/no loaded plugin serves protocol "future"; the loaded plugins serve: .*directory.*notes/);
    const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name: 'future-net', protocol: 'notes' } });
    const refused = await client.fails(REGISTER_NODE, {
      input: { networkId: createNetwork.id, name: 'n1', plugin: 'broken-future', role: 'node', config: {} },
    });
    expect(refused.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.message).toContain('plugin "broken-future" is installed but failed to load');
    expect(refused.message).toContain('needs plugin API ^3.0.0');

    // The working plugin still works next to the broken ones.
    const { nodes } = await client.ok(`{ nodes { name plugin } }`);
    expect(nodes).toEqual([{ name: 'desk', plugin: 'notes' }]);
  });

  it('refuses the same tarball twice with CONFLICT and a missing path with BAD_USER_INPUT', async () => {
    const { client } = server;
    const again = await client.fails(INSTALL, { spec: tarball });
    expect(again.extensions?.code).toBe('CONFLICT');
    expect(again.message).toContain('already installed');

    const missing = join(work, 'no-such-plugin-1.0.0.tgz');
    const absent = await client.fails(INSTALL, { spec: missing });
    expect(absent.extensions?.code).toBe('BAD_USER_INPUT');
    expect(absent.message).toBe(`${missing} does not exist`);

    const { plugins } = await client.ok(PLUGINS);
    expect(plugins.filter((p: { id: string }) => p.id === 'notes')).toEqual([expect.objectContaining({ status: 'LOADED', version: '1.2.3' })]);
  });

  it('after a restart on the same data directory, finds every installed plugin again and restores through the reloaded one', async () => {
    const before = (await server.client.ok(PLUGINS)).plugins;
    await server.stop();
    // The same process: discovery, manifest and semver gate run again, though the module
    // registry may hand back an entry module it already evaluated.
    server = await startTestServer({ reuse: { dataDir } });
    const { client } = server;

    const { plugins } = await client.ok(PLUGINS);
    type Listed = { id: string; status: string; source: string };
    const installed = (list: Listed[]) => list.filter((p) => p.source === 'installed');
    // Same versions, statuses and errors, word for word.
    expect(installed(plugins)).toEqual(installed(before));
    expect(installed(plugins).map((p) => `${p.id}:${p.status}`).sort()).toEqual([
      'broken-future:FAILED',
      'broken-shapeless:FAILED',
      'broken-throws:FAILED',
      'chainvault-plugin-no-entry:FAILED',
      'notes:LOADED',
    ]);

    await restoresThroughPlugin(client, join(work, 'restored-after-restart'));

    // The reloaded plugin still receives the sealed token: a new backup records the same fingerprint.
    const { policies } = await client.ok(`{ policies { id name } }`);
    const policy = policies.find((p: { name: string }) => p.name === 'notes-nightly');
    const job = await backupNow(client, policy.id);
    expect(job.error).toBeNull();
    const { backup } = await client.ok(BACKUP, { id: job.backupId });
    expect(backup.files.find((f: { path: string }) => f.path === 'token.sha256').sha256).toBe(sha256(sha256(token)));
  });
});
