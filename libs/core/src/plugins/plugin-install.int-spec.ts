/**
 * Plugin installs with real npm, offline: real tiny plugin packages whose every lifecycle script
 * would leave a marker file, installed from a folder and from a tarball. Nothing they script
 * runs, the recorded sha512 is the tarball's, and what is not a registry name or a local
 * package never reaches npm.
 */
// The module object itself (not a namespace copy), so spying on its spawn sees npm being started.
import childProcess from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ChainvaultConfig } from '../config/chainvault-config';
import { ChainvaultError, ChainvaultErrorCode } from '../errors/chainvault.errors';
import type { Clock } from '../scheduler/clock';
import { PluginRegistry } from './plugin-registry.service';
import { PluginStatus } from './plugin-record';
import { ACCEPTED_PLUGIN_SPECS } from './plugin-spec';

jest.setTimeout(60_000);

const execFile = promisify(childProcess.execFile);
const NOW = new Date('2026-12-01T09:30:00.000Z');
const clock: Clock = { now: () => NOW };
const SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare', 'prepack', 'postpack', 'preprepare', 'postprepare'];
const SRI = /^sha512-[A-Za-z0-9+/]{86}==$/;

const sri = (bytes: Buffer) => `sha512-${createHash('sha512').update(bytes).digest('base64')}`;

interface Fixture {
  name: string;
  id: string;
  version?: string;
  dependencies?: Record<string, string>;
  /** Leave the chainvault manifest out. */
  notPlugin?: boolean;
}

/** A plugin package in `root/<name>` whose every lifecycle script would create `markers/<script>-<name>`. */
async function writePackage(root: string, markers: string, fixture: Fixture): Promise<string> {
  const dir = join(root, fixture.name);
  await mkdir(dir, { recursive: true });
  const pkg = {
    name: fixture.name,
    version: fixture.version ?? '1.0.0',
    main: 'index.js',
    license: 'MIT',
    scripts: Object.fromEntries(SCRIPTS.map((script) => [script, `touch "${join(markers, `${script}-${fixture.name}`)}"`])),
    ...(fixture.notPlugin ? {} : { chainvault: { plugin: { id: fixture.id, apiVersion: '^1.1.0', entry: './index.js' } } }),
    peerDependencies: { '@chainvault/plugin-sdk': '^1.1.0' },
    ...(fixture.dependencies ? { dependencies: fixture.dependencies } : {}),
  };
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  // What definePlugin returns, written out: the package needs nothing from the checkout.
  await writeFile(
    join(dir, 'index.js'),
    `'use strict';
module.exports = {
  id: ${JSON.stringify(fixture.id)},
  apiVersion: '1.1.0',
  protocols: [${JSON.stringify(fixture.id)}],
  description: 'a test plugin',
  nodeConfigSchema: { type: 'object', properties: { dir: { type: 'string' } }, additionalProperties: false },
  methods: {
    copy: {
      scope: 'node',
      description: 'copies nothing',
      async backup() { return { metadata: {} }; },
      async restore() { return {}; },
    },
  },
};
`,
  );
  return dir;
}

/** npm pack of `dir` into `destination`, scripts off: the tarball's path and the integrity npm reports for it. */
async function pack(dir: string, destination: string): Promise<{ file: string; integrity: string }> {
  await mkdir(destination, { recursive: true });
  const { stdout } = await execFile('npm', ['pack', dir, '--ignore-scripts', '--json', '--pack-destination', destination], { cwd: destination });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string; integrity: string }>;
  return { file: join(destination, packed.filename), integrity: packed.integrity };
}

async function failure(promise: Promise<unknown>): Promise<ChainvaultError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ChainvaultError)) throw new Error(`expected a ChainvaultError, got ${String(error)}`);
  return error;
}

/** Every file under `root` with its bytes as base64, to compare a directory before and after. */
async function tree(root: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = `${prefix}${entry.name}`;
      if (entry.isDirectory()) await walk(join(dir, entry.name), `${path}/`);
      else if (entry.isFile()) files[path] = (await readFile(join(dir, entry.name))).toString('base64');
      else files[path] = entry.isSymbolicLink() ? 'symlink' : 'other';
    }
  };
  await walk(root, '');
  return files;
}

async function startRegistry(dataDir: string): Promise<PluginRegistry> {
  const config: ChainvaultConfig = { dataDir, host: '127.0.0.1', port: 0, jobConcurrency: 1, pluginPaths: [] };
  const registry = new PluginRegistry(config, clock);
  await registry.onModuleInit();
  return registry;
}

describe('installing plugins (real npm, no scripts)', () => {
  let work: string;
  let markers: string;
  let sources: string;
  let dataDir: string;
  let registry: PluginRegistry;
  let folderPlugin: string;
  let tarballPlugin: string;
  let tarballIntegrityByNpm: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-install-'));
    markers = join(work, 'markers');
    sources = join(work, 'sources');
    await mkdir(markers);
    folderPlugin = await writePackage(sources, markers, { name: 'chainvault-plugin-folder-test', id: 'folder-test', version: '1.0.0' });
    const tarballSource = await writePackage(sources, markers, { name: 'chainvault-plugin-tarball-test', id: 'tarball-test', version: '2.1.0' });
    ({ file: tarballPlugin, integrity: tarballIntegrityByNpm } = await pack(tarballSource, join(work, 'packs')));
    dataDir = join(work, 'data');
    await mkdir(dataDir);
    registry = await startRegistry(dataDir);
  });

  afterEach(() => {
    jest.restoreAllMocks();
    process.env = { ...saved };
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('uses fixtures whose scripts do run when npm is allowed to run them (so the checks below can fail)', async () => {
    const scratch = await mkdtemp(join(work, 'scratch-'));
    const env = { ...process.env, npm_config_ignore_scripts: 'false' };
    await execFile('npm', ['pack', folderPlugin, '--pack-destination', scratch], { cwd: scratch, env });
    await writeFile(join(scratch, 'package.json'), '{ "name": "scratch", "private": true }\n');
    await execFile('npm', ['install', '--prefix', scratch, '--no-audit', '--no-fund', '--legacy-peer-deps', tarballPlugin], { cwd: scratch, env });
    const ran = await readdir(markers);
    expect(ran).toEqual(
      expect.arrayContaining(['prepack-chainvault-plugin-folder-test', 'preinstall-chainvault-plugin-tarball-test', 'postinstall-chainvault-plugin-tarball-test']),
    );
    await rm(markers, { recursive: true });
    await mkdir(markers);
    await rm(scratch, { recursive: true });
  });

  it('installs from a folder: the plugin loads, none of its scripts runs, and the sha512 of the packed tarball is recorded and shown', async () => {
    Object.assign(process.env, { CHAINVAULT_SECRET_KEY: 'key-for-the-test', CHAINVAULT_TOKEN: 'token-for-the-test' });
    const spawn = jest.spyOn(childProcess, 'spawn');
    const record = await registry.install(folderPlugin);

    expect(record).toMatchObject({
      id: 'folder-test',
      packageName: 'chainvault-plugin-folder-test',
      version: '1.0.0',
      source: 'installed',
      status: PluginStatus.LOADED,
      error: null,
      protocols: ['folder-test'],
    });
    expect(registry.require('folder-test').plugin.id).toBe('folder-test');
    expect(await readdir(markers)).toEqual([]);

    // npm ran, told three ways to run no scripts, and without the server's secrets.
    const npmRuns = spawn.mock.calls.filter(([command]) => command === 'npm');
    expect(npmRuns.map(([, args]) => (args as string[])[0])).toEqual(['pack', 'install']);
    for (const [, args, options] of npmRuns) {
      expect(args).toContain('--ignore-scripts');
      const env = (options as childProcess.SpawnOptions).env!;
      expect(env.npm_config_ignore_scripts).toBe('true');
      expect(env).not.toHaveProperty(['CHAINVAULT_SECRET_KEY']);
      expect(env).not.toHaveProperty(['CHAINVAULT_TOKEN']);
    }
    const pluginsDir = join(dataDir, 'plugins');
    expect(await readFile(join(pluginsDir, '.npmrc'), 'utf8')).toMatch(/^ignore-scripts=true$/m);

    // The kept tarball is the one npm packed from the folder, and its sha512 is the record's.
    expect(record.integrity).toMatch(SRI);
    const kept = await readdir(join(pluginsDir, 'packages'));
    expect(kept).toHaveLength(1);
    const keptBytes = await readFile(join(pluginsDir, 'packages', kept[0]));
    expect(record.integrity).toBe(sri(keptBytes));
    // npm packs reproducibly: packing the folder again here gives the same bytes, and npm reports the same integrity.
    const repacked = await pack(folderPlugin, join(work, 'repack'));
    expect(sri(await readFile(repacked.file))).toBe(record.integrity);
    expect(repacked.integrity).toBe(record.integrity);

    const manifest = JSON.parse(await readFile(join(pluginsDir, 'package.json'), 'utf8'));
    expect(manifest.dependencies).toEqual({ 'chainvault-plugin-folder-test': `file:packages/${kept[0]}` });
    const installed = JSON.parse(await readFile(join(pluginsDir, 'installed.json'), 'utf8'));
    expect(installed).toEqual({
      'chainvault-plugin-folder-test': { integrity: record.integrity, spec: folderPlugin, version: '1.0.0', installedAt: NOW.toISOString() },
    });
    expect(registry.list().find((r) => r.id === 'folder-test')?.integrity).toBe(record.integrity);
    expect((await readdir(pluginsDir)).filter((name) => name.startsWith('.staging'))).toEqual([]);
  });

  it('installs a tarball as it is: the plugin loads, none of its scripts runs, and the recorded sha512 is that of the tarball', async () => {
    const bytes = await readFile(tarballPlugin);
    const record = await registry.install(tarballPlugin);
    expect(record).toMatchObject({ id: 'tarball-test', version: '2.1.0', source: 'installed', status: PluginStatus.LOADED });
    expect(await readdir(markers)).toEqual([]);
    expect(record.integrity).toBe(sri(bytes));
    expect(record.integrity).toBe(tarballIntegrityByNpm);

    const pluginsDir = join(dataDir, 'plugins');
    const manifest = JSON.parse(await readFile(join(pluginsDir, 'package.json'), 'utf8'));
    const keptFile = join(pluginsDir, (manifest.dependencies['chainvault-plugin-tarball-test'] as string).replace(/^file:/, ''));
    expect((await readFile(keptFile)).equals(bytes)).toBe(true);
    expect(await readdir(join(pluginsDir, 'packages'))).toHaveLength(2);
  });

  it('refuses the same package twice with CONFLICT and changes nothing', async () => {
    const before = await tree(join(dataDir, 'plugins'));
    const again = await failure(registry.install(tarballPlugin));
    expect(again.code).toBe(ChainvaultErrorCode.CONFLICT);
    expect(again.message).toBe(`chainvault-plugin-tarball-test 2.1.0 is already installed from the same package (${sri(await readFile(tarballPlugin))})`);
    expect(await tree(join(dataDir, 'plugins'))).toEqual(before);
  });

  it('after a restart, finds both plugins again with the same sha512, still without running a script', async () => {
    const before = registry.list().filter((r) => r.source === 'installed');
    const restarted = await startRegistry(dataDir);
    const after = restarted.list().filter((r) => r.source === 'installed');
    expect(after.map((r) => [r.id, r.status, r.integrity])).toEqual(before.map((r) => [r.id, r.status, r.integrity]));
    expect(after.map((r) => r.integrity)).toEqual([expect.stringMatching(SRI), expect.stringMatching(SRI)]);
    expect(restarted.list().filter((r) => r.source === 'builtin').every((r) => r.integrity === null)).toBe(true);
    expect(await readdir(markers)).toEqual([]);
  });

  it('a later install re-reads the kept tarballs of earlier ones and runs none of their scripts either', async () => {
    const third = await writePackage(sources, markers, { name: 'chainvault-plugin-third-test', id: 'third-test' });
    // A lost node_modules makes npm reinstall every dependency from its kept tarball.
    await rm(join(dataDir, 'plugins', 'node_modules'), { recursive: true, force: true });
    const record = await registry.install(third);
    expect(record.status).toBe(PluginStatus.LOADED);
    expect(existsSync(join(dataDir, 'plugins', 'node_modules', 'chainvault-plugin-folder-test', 'index.js'))).toBe(true);
    expect(existsSync(join(dataDir, 'plugins', 'node_modules', 'chainvault-plugin-tarball-test', 'index.js'))).toBe(true);
    expect(await readdir(markers)).toEqual([]);
  });

  it('leaves nothing behind when npm cannot install a package, and says so', async () => {
    const pluginsDir = join(dataDir, 'plugins');
    const broken = await writePackage(sources, markers, {
      name: 'chainvault-plugin-unresolvable',
      id: 'unresolvable',
      dependencies: { 'left-behind': `file:${join(work, 'no-such-dependency.tgz')}` },
    });
    const before = await tree(pluginsDir);
    const error = await failure(registry.install(broken));
    expect(error.code).toBe(ChainvaultErrorCode.BAD_USER_INPUT);
    expect(error.message).toMatch(/^npm could not install chainvault-plugin-unresolvable 1\.0\.0 \(.*chainvault-plugin-unresolvable\), so nothing was installed: /);
    expect(error.message).toContain('no-such-dependency.tgz');
    expect(await tree(pluginsDir)).toEqual(before);
    expect(() => registry.require('unresolvable')).toThrow('unknown plugin "unresolvable"');
    expect(await readdir(markers)).toEqual([]);
  });

  it('refuses a package that declares no plugin before npm installs it', async () => {
    const pluginsDir = join(dataDir, 'plugins');
    const plain = await writePackage(sources, markers, { name: 'left-pad-lookalike', id: 'x', notPlugin: true });
    const before = await tree(pluginsDir);
    const error = await failure(registry.install(plain));
    expect(error.code).toBe(ChainvaultErrorCode.BAD_USER_INPUT);
    expect(error.message).toBe(
      `left-pad-lookalike (${plain}) declares no chainvault plugin (package.json needs "chainvault": { "plugin": { ... } }); nothing was installed`,
    );
    expect(await tree(pluginsDir)).toEqual(before);
  });

  describe('what is not a registry name or a package on the server', () => {
    let emptyDataDir: string;
    let fresh: PluginRegistry;

    beforeAll(async () => {
      emptyDataDir = join(work, 'empty-data');
      await mkdir(emptyDataDir);
      fresh = await startRegistry(emptyDataDir);
    });

    it.each([
      'http://127.0.0.1:1/x.tgz?x=1',
      'https://registry.example/chainvault-plugin-x/-/chainvault-plugin-x-1.0.0.tgz',
      'git+https://x/y.git',
      'git@github.com:a/b.git',
      'github:a/b',
      'a/b',
      'file:/tmp/x',
      'chainvault-plugin-x@file:/tmp/x',
      'chainvault-plugin-x@npm:evil',
      'chainvault-plugin-x@..',
      'evil.tgz',
      '--registry=http://127.0.0.1:1',
      '~/plugin',
    ])('refuses %s with BAD_USER_INPUT and never runs npm', async (spec) => {
      const spawn = jest.spyOn(childProcess, 'spawn');
      const error = await failure(fresh.install(spec));
      expect(error.code).toBe(ChainvaultErrorCode.BAD_USER_INPUT);
      expect(error.message).toBe(`"${spec}" is not a plugin spec chainvault accepts: ${ACCEPTED_PLUGIN_SPECS}`);
      expect(spawn).not.toHaveBeenCalled();
      expect(existsSync(join(emptyDataDir, 'plugins'))).toBe(false);
    });

    it('refuses a path that is missing, a file that is no package tarball, and a folder without a package.json', async () => {
      const spawn = jest.spyOn(childProcess, 'spawn');
      const missing = join(work, 'missing-1.0.0.tgz');
      expect(await failure(fresh.install(missing))).toMatchObject({ code: ChainvaultErrorCode.BAD_USER_INPUT, message: `${missing} does not exist` });
      const text = join(work, 'notes.txt');
      await writeFile(text, 'not a package');
      expect(await failure(fresh.install(text))).toMatchObject({
        code: ChainvaultErrorCode.BAD_USER_INPUT,
        message: `${text} is a file but not a .tgz or .tar.gz package: ${ACCEPTED_PLUGIN_SPECS}`,
      });
      expect(await failure(fresh.install(markers))).toMatchObject({
        code: ChainvaultErrorCode.BAD_USER_INPUT,
        message: `${markers} is a folder without a package.json: ${ACCEPTED_PLUGIN_SPECS}`,
      });
      expect(await failure(fresh.install('  '))).toMatchObject({ code: ChainvaultErrorCode.BAD_USER_INPUT, message: `no plugin given: ${ACCEPTED_PLUGIN_SPECS}` });
      expect(spawn).not.toHaveBeenCalled();
      expect(existsSync(join(emptyDataDir, 'plugins'))).toBe(false);
    });

    it('refuses a .tgz that is not a package, leaving the plugins directory without a stray tarball', async () => {
      const fake = join(work, 'fake-1.0.0.tgz');
      await writeFile(fake, 'plain text, not gzip');
      const error = await failure(fresh.install(fake));
      expect(error).toMatchObject({ code: ChainvaultErrorCode.BAD_USER_INPUT, message: `${fake} is not a package npm can install: it is not a gzipped tar archive` });
      expect(await readdir(join(emptyDataDir, 'plugins', 'packages'))).toEqual([]);
    });
  });
});
