/**
 * The plugin host: discovers plugin packages (the workspace's own and those installed into
 * the data directory), loads them, validates configs against their schemas, and installs
 * new ones with npm.
 */
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { JsonObject } from '@chainvault/plugin-sdk';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CHAINVAULT_CONFIG, type ChainvaultConfig } from '../config/chainvault-config';
import { ChainvaultError, ChainvaultErrorCode } from '../errors/chainvault.errors';
import { PluginLoader, describeSchemaErrors, listPackageDirs } from './plugin-loader';
import { PluginStatus, type AnyMethod, type LoadedPlugin, type PluginRecord } from './plugin-record';

/** The node_modules directory that holds chainvault's own packages (the workspace's, in a checkout). */
function findHostNodeModules(): string | null {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules', '@chainvault'))) return join(dir, 'node_modules');
  }
  return null;
}

const SDK_DIR = dirname(require.resolve('@chainvault/plugin-sdk/package.json'));
const INSTALL_TIMEOUT_MS = 5 * 60 * 1000;

@Injectable()
export class PluginRegistry implements OnModuleInit {
  private readonly logger = new Logger('plugins');
  private readonly loader = new PluginLoader();
  private readonly records = new Map<string, PluginRecord>();
  private readonly loaded = new Map<string, LoadedPlugin>();

  constructor(@Inject(CHAINVAULT_CONFIG) private readonly config: ChainvaultConfig) {}

  /** Where `chainvault plugins install` puts packages. */
  get pluginsDir(): string {
    return join(this.config.dataDir, 'plugins');
  }

  async onModuleInit(): Promise<void> {
    const builtinRoots = [findHostNodeModules(), ...this.config.pluginPaths.map((p) => resolve(p))].filter((p): p is string => p !== null);
    for (const root of builtinRoots) {
      for (const dir of await listPackageDirs(root)) await this.register(dir, 'builtin');
    }
    await this.provideSdkToInstalledPlugins();
    for (const dir of await listPackageDirs(join(this.pluginsDir, 'node_modules'))) await this.register(dir, 'installed');
    const failed = this.list().filter((r) => r.status === PluginStatus.FAILED);
    this.logger.log(`${this.loaded.size} plugins loaded${failed.length ? `, ${failed.length} failed` : ''}`);
    for (const record of failed) this.logger.warn(`plugin ${record.id} failed to load: ${record.error}`);
  }

  list(): PluginRecord[] {
    return [...this.records.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** A loaded plugin, or a BAD_USER_INPUT error saying why it cannot be used. */
  require(id: string): LoadedPlugin {
    const loaded = this.loaded.get(id);
    if (loaded) return loaded;
    const record = this.records.get(id);
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
   * Installs a plugin package (an npm name, a tarball or a folder) into the plugins directory
   * and loads it. Returns its record, which says FAILED and why if it does not load.
   */
  async install(spec: string): Promise<PluginRecord> {
    const trimmed = spec.trim();
    if (!trimmed || trimmed.startsWith('-')) throw ChainvaultError.badInput(`"${spec}" is not a package name, tarball or folder`);
    const looksLocal = trimmed.startsWith('.') || trimmed.startsWith('/') || trimmed.endsWith('.tgz') || trimmed.endsWith('.tar.gz');
    const target = looksLocal ? resolve(trimmed) : trimmed;
    if (looksLocal && !existsSync(target)) throw ChainvaultError.badInput(`${target} does not exist`);

    await mkdir(this.pluginsDir, { recursive: true });
    const manifestFile = join(this.pluginsDir, 'package.json');
    if (!existsSync(manifestFile)) {
      await writeFile(manifestFile, `${JSON.stringify({ name: 'chainvault-installed-plugins', private: true, dependencies: {} }, null, 2)}\n`);
    }
    const before = await this.installedDependencies();
    await this.runNpm(['install', '--prefix', this.pluginsDir, '--no-audit', '--no-fund', '--legacy-peer-deps', '--install-links', '--save', target]);
    await this.provideSdkToInstalledPlugins();
    const after = await this.installedDependencies();
    const name = Object.keys(after).find((n) => before[n] !== after[n]) ?? Object.keys(after).find((n) => !(n in before));
    if (!name) throw ChainvaultError.conflict(`${spec} is already installed; to load a changed version, restart the server`);

    const result = await this.loader.load(join(this.pluginsDir, 'node_modules', name), 'installed');
    if (!result) {
      throw ChainvaultError.badInput(`${name} was installed but declares no chainvault plugin (package.json needs "chainvault": { "plugin": { ... } })`);
    }
    const existing = this.loaded.get(result.record.id);
    if (existing) {
      if (existing.record.packageName === name) throw ChainvaultError.conflict(`plugin "${result.record.id}" is already loaded; restart the server to load version ${result.record.version}`);
      throw ChainvaultError.conflict(`plugin id "${result.record.id}" is already provided by ${existing.record.packageName}`);
    }
    this.accept(result.record, result.loaded);
    this.logger.log(`installed plugin ${result.record.id} ${result.record.version} (${result.record.status})`);
    return result.record;
  }

  private async register(dir: string, source: PluginRecord['source']): Promise<void> {
    const result = await this.loader.load(dir, source);
    if (!result) return;
    const taken = this.records.get(result.record.id);
    if (taken) {
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
    if (loaded) this.loaded.set(record.id, loaded);
  }

  private async installedDependencies(): Promise<Record<string, string>> {
    try {
      const pkg = JSON.parse(await readFile(join(this.pluginsDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
      return pkg.dependencies ?? {};
    } catch {
      return {};
    }
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

  private runNpm(args: string[]): Promise<void> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn('npm', args, { cwd: this.pluginsDir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), INSTALL_TIMEOUT_MS);
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(new ChainvaultError(ChainvaultErrorCode.INTERNAL, `could not run npm to install plugins: ${error.message}`));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) return resolvePromise();
        const lines = output
          .split('\n')
          .filter((l) => l.includes('ERR') || l.includes('error'))
          .slice(-6)
          .join('\n');
        reject(ChainvaultError.badInput(`npm could not install ${args[args.length - 1]}: ${lines || `exit code ${code}`}`));
      });
    });
  }
}
