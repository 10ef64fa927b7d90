/**
 * The plugin host: discovers plugin packages (the workspace's own and those installed into
 * the data directory), loads them, validates configs against their schemas, and installs
 * new ones with npm.
 */
import { Inject, Injectable, Logger, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { declaresPlugin, readPluginManifest, type JsonObject } from '@chainvault/plugin-sdk';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rename, rm, symlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CHAINVAULT_CONFIG, type ChainvaultConfig } from '../config/chainvault-config';
import { ChainvaultError, ChainvaultErrorCode } from '../errors/chainvault.errors';
import { OneAtATime } from '../one-at-a-time';
import { CLOCK, systemClock, type Clock } from '../scheduler/clock';
import { NpmCli } from './npm-cli';
import { readTarballManifest, sha512Integrity } from './package-tarball';
import { PluginLoader, describeSchemaErrors, listPackageDirs, readPackageJson } from './plugin-loader';
import { classifyPluginSpec, isPackageName, type PluginSource } from './plugin-spec';
import { PluginsDirectory, hostNodeModules } from './plugins-directory';
import { PluginStatus, type AnyMethod, type LoadedPlugin, type PluginRecord } from './plugin-record';
import { PluginProcesses, type IsolationEvents, type IsolationLimits } from './isolation/isolated-plugin';

const SDK_DIR = dirname(require.resolve('@chainvault/plugin-sdk/package.json'));

/** The plugin id a package.json declares, if it can be read. */
function declaredPluginId(manifest: Record<string, unknown>): string | null {
  try {
    return readPluginManifest(manifest).id;
  } catch {
    return null;
  }
}

/** `packages/<name>-<version>-<hash>.tgz`: a different tarball of the same version gets a file of its own. */
function keptTarballName(name: string, version: string, integrity: string): string {
  const hash = Buffer.from(integrity.slice('sha512-'.length), 'base64').toString('hex').slice(0, 16);
  return `${name.replace(/^@/, '').replace('/', '-')}-${version.replace(/[^\w.+-]/g, '_')}-${hash}.tgz`;
}

@Injectable()
export class PluginRegistry implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('plugins');
  private readonly loader = new PluginLoader();
  private readonly records = new Map<string, PluginRecord>();
  private readonly loaded = new Map<string, LoadedPlugin>();
  /** Installs rewrite one package.json: one at a time. */
  private readonly installs = new OneAtATime<unknown>();
  /** Ids an admin disabled; their code is not run. */
  private disabled = new Set<string>();
  /** Disabled plugins that were loaded when disabled, ready to be enabled again. */
  private readonly parked = new Map<string, LoadedPlugin>();
  /** The processes of each isolated plugin. */
  private readonly processes = new Map<string, PluginProcesses>();
  /** What the plugins' processes report: a fault marks the plugin DEGRADED until a call ends well. */
  private readonly isolationEvents: IsolationEvents = {
    fault: (id, message) => {
      const record = this.records.get(id);
      if (!record) return;
      record.lastFault = { at: this.clock.now(), message };
      if (record.status === PluginStatus.LOADED || record.status === PluginStatus.DEGRADED) {
        record.status = PluginStatus.DEGRADED;
        record.error = message;
      }
      this.logger.warn(message);
    },
    callEnded: (id) => {
      const record = this.records.get(id);
      if (record?.status !== PluginStatus.DEGRADED) return;
      record.status = PluginStatus.LOADED;
      record.error = null;
    },
  };

  constructor(
    @Inject(CHAINVAULT_CONFIG) private readonly config: ChainvaultConfig,
    @Optional() @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  /** Where `chainvault plugins install` puts packages. */
  get pluginsDir(): string {
    return join(this.config.dataDir, 'plugins');
  }

  private get directory(): PluginsDirectory {
    return new PluginsDirectory(this.pluginsDir);
  }

  async onModuleInit(): Promise<void> {
    this.disabled = await this.directory.disabled();
    const builtinRoots = [hostNodeModules(), ...this.config.pluginPaths.map((p) => resolve(p))].filter((p): p is string => p !== null);
    for (const root of builtinRoots) {
      for (const dir of await listPackageDirs(root)) await this.register(dir, 'builtin');
    }
    await this.provideSdkToInstalledPlugins();
    const installed = await this.directory.installed();
    for (const dir of await listPackageDirs(this.directory.nodeModules)) {
      // The recorded sha512 is shown only for the version it was recorded for.
      const pkg = await readPackageJson(dir);
      const entry = typeof pkg?.name === 'string' ? installed[pkg.name] : undefined;
      await this.register(dir, 'installed', entry && entry.version === pkg?.version ? entry.integrity : null);
    }
    const failed = this.list().filter((r) => r.status === PluginStatus.FAILED);
    this.logger.log(`${this.loaded.size} plugins loaded${failed.length ? `, ${failed.length} failed` : ''}`);
    for (const record of failed) this.logger.warn(`plugin ${record.id} failed to load: ${record.error}`);
  }

  onModuleDestroy(): void {
    for (const processes of this.processes.values()) processes.close();
  }

  list(): PluginRecord[] {
    return [...this.records.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** A loaded plugin, or undefined. */
  find(id: string): LoadedPlugin | undefined {
    return this.loaded.get(id);
  }

  /** A loaded plugin, or a BAD_USER_INPUT error saying why it cannot be used. */
  require(id: string): LoadedPlugin {
    const loaded = this.loaded.get(id);
    if (loaded) return loaded;
    const record = this.records.get(id);
    if (record?.status === PluginStatus.DISABLED) throw ChainvaultError.badInput(`plugin "${id}" is disabled; an admin enables it again with enablePlugin`);
    if (record) throw ChainvaultError.badInput(`plugin "${id}" is installed but failed to load: ${record.error}`);
    const known = [...this.loaded.keys()].sort().join(', ') || 'none';
    throw ChainvaultError.badInput(`unknown plugin "${id}"; loaded plugins: ${known}`);
  }

  method(id: string, methodName: string): AnyMethod {
    const { plugin } = this.require(id);
    const method = plugin.methods[methodName] as AnyMethod | undefined;
    if (!method) {
      throw ChainvaultError.badInput(`plugin "${id}" has no method "${methodName}"; its methods: ${Object.keys(plugin.methods).join(', ')}`);
    }
    return method;
  }

  /** Validates (and fills defaults into) a node config, then runs the plugin's own checks. */
  async checkNodeConfig(id: string, config: Record<string, unknown>): Promise<void> {
    const loaded = this.require(id);
    if (!loaded.validateNodeConfig(config)) {
      throw ChainvaultError.badInput(`node config does not fit plugin "${id}": ${describeSchemaErrors(loaded.validateNodeConfig.errors, 'config')}`);
    }
    await this.callPluginCheck(() => loaded.plugin.checkNodeConfig?.(config as JsonObject));
  }

  checkOptions(id: string, methodName: string, options: Record<string, unknown>): void {
    this.method(id, methodName);
    const validate = this.require(id).validateOptions.get(methodName)!;
    if (!validate(options)) {
      throw ChainvaultError.badInput(`options do not fit method "${methodName}" of plugin "${id}": ${describeSchemaErrors(validate.errors, 'options')}`);
    }
  }

  checkRestoreOptions(id: string, methodName: string, options: Record<string, unknown>): void {
    const validate = this.require(id).validateRestoreOptions.get(methodName)!;
    if (!validate(options)) {
      throw ChainvaultError.badInput(`restore options do not fit method "${methodName}" of plugin "${id}": ${describeSchemaErrors(validate.errors, 'options')}`);
    }
  }

  checkTargetConfig(id: string, methodName: string, config: Record<string, unknown>): void {
    const validate = this.require(id).validateTarget.get(methodName)!;
    if (!validate(config)) {
      throw ChainvaultError.badInput(`targetConfig does not fit method "${methodName}" of plugin "${id}": ${describeSchemaErrors(validate.errors, 'targetConfig')}`);
    }
  }

  /** Runs a plugin-supplied check; a PluginError (or any error) it throws becomes BAD_USER_INPUT. */
  async callPluginCheck(check: () => unknown): Promise<void> {
    try {
      await check();
    } catch (error) {
      throw ChainvaultError.badInput((error as Error)?.message ?? String(error));
    }
  }

  /**
   * Installs a plugin package (a registry name, a tarball or a folder on the server) into the
   * plugins directory and loads it. npm always installs a local tarball, with every package
   * script off; the tarball is kept and its sha512 recorded. Returns the plugin's record, which
   * says FAILED and why if it does not load. A refused or failed install leaves the directory as
   * it was.
   */
  async install(spec: string): Promise<PluginRecord> {
    const source = await classifyPluginSpec(spec);
    return this.installs.run('install', () => this.installFrom(source));
  }

  private async installFrom(source: PluginSource): Promise<PluginRecord> {
    const directory = this.directory;
    const shown = source.kind === 'registry' ? source.spec : source.path;
    await directory.prepare();
    const npm = new NpmCli(directory.root);
    const staging = await mkdtemp(join(directory.root, '.staging-'));
    let installed: { name: string; integrity: string };
    try {
      // Always a local tarball first: npm pack fetches (checking the registry's integrity) or packs, and runs nothing.
      // A given tarball is copied as it is, so the bytes checked and hashed are the bytes installed.
      let tarball = join(staging, 'package.tgz');
      if (source.kind === 'tarball') await copyFile(source.path, tarball);
      else tarball = await npm.pack(source.kind === 'registry' ? source.spec : source.path, staging, shown);
      installed = await this.installTarball(npm, tarball, shown);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    await this.provideSdkToInstalledPlugins();

    const result = await this.loader.load(join(directory.nodeModules, installed.name), 'installed', installed.integrity, undefined, this.isolation('installed'));
    if (!result) throw new ChainvaultError(ChainvaultErrorCode.INTERNAL, `${installed.name} was installed but its package.json in ${directory.nodeModules} declares no plugin`);
    const existing = this.loaded.get(result.record.id);
    if (existing) {
      result.loaded?.processes?.close();
      if (existing.record.packageName === installed.name) throw ChainvaultError.conflict(`plugin "${result.record.id}" is already loaded; restart the server to load version ${result.record.version}`);
      throw ChainvaultError.conflict(`plugin id "${result.record.id}" is already provided by ${existing.record.packageName}`);
    }
    this.accept(result.record, result.loaded);
    this.logger.log(`installed plugin ${result.record.id} ${result.record.version} from ${shown}, ${installed.integrity} (${result.record.status})`);
    return result.record;
  }

  /**
   * Checks a package tarball in the staging folder, moves it under packages/ and has npm install
   * it (scripts off). On any failure package.json, the lockfile and packages/ are as they were.
   */
  private async installTarball(npm: NpmCli, tarball: string, shown: string): Promise<{ name: string; integrity: string }> {
    const directory = this.directory;
    const { name, version } = await this.readPluginPackage(tarball, shown);
    const integrity = await sha512Integrity(tarball);
    await this.refuseChangedContent(name, version, integrity, shown);
    const kept = join(directory.packages, keptTarballName(name, version, integrity));
    const previous = (await directory.dependencies())[name];
    const previousFile = previous?.startsWith('file:') ? resolve(directory.root, previous.slice('file:'.length)) : null;
    if (previousFile === kept) throw ChainvaultError.conflict(`${name} ${version} is already installed from the same package (${integrity})`);
    const loadedVersion = [...this.loaded.values()].find((l) => l.record.packageName === name)?.record;
    if (loadedVersion) throw ChainvaultError.conflict(`${name} is already installed at version ${loadedVersion.version} (plugin "${loadedVersion.id}"); change its version with upgradePlugin, which checks it against the nodes that use it`);

    const restoreManifests = await directory.snapshot();
    const keptBefore = existsSync(kept);
    const installedBefore = existsSync(join(directory.nodeModules, name));
    if (!keptBefore) await rename(tarball, kept);
    try {
      await npm.install(directory.root, kept, `npm could not install ${name} ${version} (${shown}), so nothing was installed`);
      // What npm put in place must be the package that was checked.
      const placed = await readPackageJson(join(directory.nodeModules, name)).catch(() => null);
      if (placed?.name !== name || placed?.version !== version) {
        throw ChainvaultError.badInput(`${shown}: npm installed ${String(placed?.name ?? 'nothing')} ${String(placed?.version ?? '')} where ${name} ${version} was checked; nothing was installed`);
      }
    } catch (error) {
      await restoreManifests();
      if (!keptBefore) await rm(kept, { force: true });
      if (!installedBefore) await rm(join(directory.nodeModules, name), { recursive: true, force: true });
      throw error;
    }
    // An upgrade: the tarball of the version it replaced is no longer a dependency.
    if (previousFile && dirname(previousFile) === directory.packages) await rm(previousFile, { force: true });
    await directory.recordInstalled(name, { integrity, spec: shown, version, installedAt: this.clock.now().toISOString() });
    await directory.rememberIntegrity(name, version, integrity);
    return { name, integrity };
  }

  /** A version installed before must come back with the same content: anything else was tampered with or republished. */
  private async refuseChangedContent(name: string, version: string, integrity: string, shown: string): Promise<void> {
    const seen = await this.directory.seenIntegrity(name, version);
    if (seen && seen !== integrity) {
      throw ChainvaultError.conflict(`${name} ${version} (${shown}) is not the package installed before under that version: its sha512 is ${integrity}, the earlier one's ${seen}; nothing was installed (give a new version number to change a plugin)`);
    }
  }

  /**
   * Replaces an installed plugin with another version of the same package, in place: the new
   * version is installed and loaded beside the old one's record, `fits` checks it against what
   * uses the plugin (and may migrate), and only then it takes the old one's place. A refused or
   * failed upgrade leaves the old version installed and loaded, and the directory as it was.
   */
  async upgrade(id: string, spec: string, fits: (candidate: LoadedPlugin, previous: PluginRecord) => Promise<void>): Promise<{ record: PluginRecord; previous: PluginRecord }> {
    const source = await classifyPluginSpec(spec);
    return this.installs.run('install', async (): Promise<{ record: PluginRecord; previous: PluginRecord }> => {
      const previous = this.uninstallable(id);
      const current = this.loaded.get(id);
      const directory = this.directory;
      const shown = source.kind === 'registry' ? source.spec : source.path;
      await directory.prepare();
      const npm = new NpmCli(directory.root);
      const staging = await mkdtemp(join(directory.root, '.staging-'));
      const packageDir = join(directory.nodeModules, previous.packageName);
      const aside = join(staging, 'previous-package');
      try {
        let tarball = join(staging, 'package.tgz');
        if (source.kind === 'tarball') await copyFile(source.path, tarball);
        else tarball = await npm.pack(source.kind === 'registry' ? source.spec : source.path, staging, shown);
        const { name, version } = await this.readPluginPackage(tarball, shown);
        if (name !== previous.packageName) throw ChainvaultError.badInput(`${shown} is ${name}, not ${previous.packageName}, which provides plugin "${id}"; nothing was changed`);
        if (version === previous.version) throw ChainvaultError.conflict(`plugin "${id}" is already at version ${version}; nothing was changed`);
        const integrity = await sha512Integrity(tarball);
        await this.refuseChangedContent(name, version, integrity, shown);
        const kept = join(directory.packages, keptTarballName(name, version, integrity));
        const previousSpec = (await directory.dependencies())[name];
        const restoreManifests = await directory.snapshot();
        const keptBefore = existsSync(kept);
        if (!keptBefore) await rename(tarball, kept);
        await rename(packageDir, aside);
        const undo = async () => {
          await rm(packageDir, { recursive: true, force: true });
          await rename(aside, packageDir);
          await restoreManifests();
          if (!keptBefore) await rm(kept, { force: true });
          this.forgetModules(packageDir);
        };
        let record: PluginRecord;
        let candidate: LoadedPlugin | null = null;
        try {
          await npm.install(directory.root, kept, `npm could not install ${name} ${version} (${shown}), so nothing was changed`);
          await this.provideSdkToInstalledPlugins();
          this.forgetModules(packageDir);
          const result = await this.loader.load(packageDir, 'installed', integrity, undefined, this.isolation('installed'));
          candidate = result?.loaded ?? null;
          if (!result?.loaded) throw ChainvaultError.badInput(`${name} ${version} cannot replace ${previous.version}: ${result?.record.error ?? 'it declares no plugin'}; nothing was changed`);
          if (result.record.id !== id) throw ChainvaultError.badInput(`${name} ${version} provides plugin "${result.record.id}", not "${id}"; nothing was changed`);
          await fits(result.loaded, previous);
          record = result.record;
          this.accept(result.record, result.loaded);
        } catch (error) {
          // The candidate's processes end; the current version's go on.
          if (candidate?.processes && candidate.processes !== current?.processes) candidate.processes.close();
          await undo();
          if (current) this.loaded.set(id, current);
          throw error;
        }
        // Committed: the old version's tarball is no longer a dependency.
        const previousFile = previousSpec?.startsWith('file:') ? resolve(directory.root, previousSpec.slice('file:'.length)) : null;
        if (previousFile && previousFile !== kept && dirname(previousFile) === directory.packages) await rm(previousFile, { force: true });
        await directory.recordInstalled(name, { integrity, spec: shown, version, installedAt: this.clock.now().toISOString() });
        await directory.rememberIntegrity(name, version, integrity);
        this.logger.log(`upgraded plugin ${id} from ${previous.version} to ${version} (${shown}, ${integrity})`);
        return { record, previous };
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    });
  }

  /** Drops a package's modules from Node's cache, so the next load reads the files now on disk. */
  private forgetModules(packageDir: string): void {
    for (const cached of Object.keys(require.cache)) if (cached.startsWith(`${packageDir}/`)) delete require.cache[cached];
  }

  /** The name and version of a plugin package, read from its tarball; refuses what is not a plugin or whose id another package holds. */
  private async readPluginPackage(tarball: string, shown: string): Promise<{ name: string; version: string }> {
    const manifest = await readTarballManifest(tarball).catch((error: Error) => {
      throw ChainvaultError.badInput(`${shown} is not a package npm can install: ${error.message}`);
    });
    const { name, version } = manifest;
    if (typeof name !== 'string' || !isPackageName(name)) throw ChainvaultError.badInput(`${shown} has no valid package name in its package.json`);
    if (typeof version !== 'string') throw ChainvaultError.badInput(`${shown}: package.json has no "version"`);
    if (!declaresPlugin(manifest)) {
      throw ChainvaultError.badInput(`${name} (${shown}) declares no chainvault plugin (package.json needs "chainvault": { "plugin": { ... } }); nothing was installed`);
    }
    const holder = this.records.get(declaredPluginId(manifest) ?? '');
    if (holder && holder.packageName !== name) {
      throw ChainvaultError.conflict(`plugin id "${holder.id}" is already provided by ${holder.packageName}; nothing was installed`);
    }
    return { name, version };
  }

  /** The record of a plugin that may be uninstalled: an installed one, not a built-in. */
  uninstallable(id: string): PluginRecord {
    const record = this.records.get(id);
    if (!record) throw ChainvaultError.notFound('plugin', id);
    if (record.source === 'builtin') throw ChainvaultError.conflict(`plugin "${id}" is built into this server (${record.packageName}); only installed plugins can be uninstalled`);
    return record;
  }

  /**
   * Removes an installed plugin: its package, its kept tarball and its record, and unloads it.
   * Built-in plugins stay. The caller refuses first while nodes use it.
   */
  async uninstall(id: string): Promise<PluginRecord> {
    return this.installs.run('install', async (): Promise<PluginRecord> => {
      const record = this.uninstallable(id);
      const directory = this.directory;
      const dependencies = await directory.dependencies();
      const spec = dependencies[record.packageName];
      const restore = await directory.snapshot();
      try {
        await directory.removeDependency(record.packageName);
        await rm(join(directory.nodeModules, record.packageName), { recursive: true, force: true });
        if (spec?.startsWith('file:packages/')) await rm(join(directory.root, spec.slice('file:'.length)), { force: true });
        await directory.forgetInstalled(record.packageName);
      } catch (error) {
        await restore();
        throw error;
      }
      this.records.delete(id);
      this.loaded.delete(id);
      this.processes.get(id)?.close();
      this.processes.delete(id);
      // A later install of another version loads its own code, not this one's from the module cache.
      this.forgetModules(record.location);
      this.logger.log(`uninstalled plugin ${id} ${record.version} (${record.packageName})`);
      return record;
    });
  }

  /**
   * Turns a plugin off without removing it: its nodes and policies stay, its jobs fail saying it
   * is disabled, and its code is not loaded at the next start (a plugin that breaks the server
   * can be stopped this way). Kept across restarts.
   */
  async disable(id: string): Promise<PluginRecord> {
    return this.installs.run('install', async (): Promise<PluginRecord> => {
      const record = this.records.get(id);
      if (!record) throw ChainvaultError.notFound('plugin', id);
      if (record.status === PluginStatus.DISABLED) throw ChainvaultError.conflict(`plugin "${id}" is already disabled`);
      this.disabled.add(id);
      await this.directory.setDisabled(this.disabled);
      const loaded = this.loaded.get(id);
      if (loaded) this.parked.set(id, loaded);
      this.loaded.delete(id);
      this.processes.get(id)?.close();
      record.status = PluginStatus.DISABLED;
      this.logger.log(`disabled plugin ${id}`);
      return record;
    });
  }

  /** Turns a disabled plugin on again: loaded as at a start (FAILED, saying why, when it does not load). */
  async enable(id: string): Promise<PluginRecord> {
    return this.installs.run('install', async (): Promise<PluginRecord> => {
      const record = this.records.get(id);
      if (!record) throw ChainvaultError.notFound('plugin', id);
      if (record.status !== PluginStatus.DISABLED) throw ChainvaultError.conflict(`plugin "${id}" is not disabled`);
      this.disabled.delete(id);
      await this.directory.setDisabled(this.disabled);
      const parked = this.parked.get(id);
      this.parked.delete(id);
      if (parked) {
        this.records.set(id, parked.record);
        this.loaded.set(id, parked);
        parked.record.status = PluginStatus.LOADED;
        this.processes.get(id)?.open();
        return parked.record;
      }
      const result = await this.loader.load(record.location, record.source, record.integrity, undefined, this.isolation(record.source));
      if (!result) throw new ChainvaultError(ChainvaultErrorCode.INTERNAL, `${record.packageName} no longer declares a plugin`);
      this.accept(result.record, result.loaded);
      this.logger.log(`enabled plugin ${id} (${result.record.status})`);
      return result.record;
    });
  }

  private async register(dir: string, source: PluginRecord['source'], integrity: string | null = null): Promise<void> {
    const result = await this.loader.load(dir, source, integrity, this.disabled, this.isolation(source));
    if (!result) return;
    const taken = this.records.get(result.record.id);
    if (taken) {
      result.loaded?.processes?.close();
      if (taken.location === result.record.location) return;
      result.record.status = PluginStatus.FAILED;
      result.record.error = `plugin id "${result.record.id}" is already provided by ${taken.packageName} (${taken.location})`;
      this.accept({ ...result.record, id: `${result.record.id}@${result.record.packageName}` }, null);
      return;
    }
    this.accept(result.record, result.loaded);
  }

  private accept(record: PluginRecord, loaded: LoadedPlugin | null): void {
    this.records.set(record.id, record);
    if (!loaded) return;
    this.loaded.set(record.id, loaded);
    // A new version (or a load after enable) replaces the processes of the one before.
    const before = this.processes.get(record.id);
    if (before && before !== loaded.processes) before.close();
    if (loaded.processes) this.processes.set(record.id, loaded.processes);
    else this.processes.delete(record.id);
  }

  /**
   * Where a plugin from `source` runs: installed ones (all, with CHAINVAULT_PLUGIN_ISOLATION=all)
   * in processes of their own, loaded there too, so the server never runs their code.
   */
  private isolation(source: PluginRecord['source']): (id: string, location: string, entry: string) => PluginProcesses | null {
    const mode = this.config.pluginIsolation ?? 'installed';
    if (mode === 'none' || (mode === 'installed' && source !== 'installed')) return () => null;
    return (id, location, entry) => new PluginProcesses(id, { location, entry }, () => this.limits(id), this.isolationEvents);
  }

  private limits(id: string): IsolationLimits {
    const own = this.config.pluginLimits?.[id] ?? {};
    return {
      memoryMb: own.memoryMb ?? this.config.pluginMemoryMb ?? 1024,
      idleMs: (own.idleSeconds ?? this.config.pluginIdleSeconds ?? 600) * 1000,
      cancelGraceMs: this.config.cleanupGraceMs ?? 30_000,
      answerMs: (own.answerSeconds ?? 30) * 1000,
    };
  }

  /** Installed plugins declare the SDK as a peer: the host provides its own copy. */
  private async provideSdkToInstalledPlugins(): Promise<void> {
    const modules = join(this.pluginsDir, 'node_modules');
    if (!existsSync(modules)) return;
    const link = join(modules, '@chainvault', 'plugin-sdk');
    await mkdir(dirname(link), { recursive: true });
    await rm(link, { recursive: true, force: true });
    await symlink(SDK_DIR, link, 'dir');
  }
}
