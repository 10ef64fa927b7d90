/**
 * `chainvault plugins test`: the conformance kit run against a real node from outside the
 * workspace. Loads a plugin package (a folder or a tarball) the way the server does, checks its
 * definition and configs, then drives the kit's round trips (backup, verify, restore, an
 * incremental backup, a cancelled backup) and reports each check as passed or failed.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { describeDefinitionProblems, readPluginManifest, type ChainvaultPlugin, type JsonObject, type RestoreTarget } from '@chainvault/plugin-sdk';
import { runConformance } from '@chainvault/plugin-sdk/testing';
import Ajv from 'ajv';
import { CliError } from './api-client';

export interface CheckResult {
  check: string;
  ok: boolean;
  error?: string;
}

export interface PluginCheckOptions {
  /** A package folder (built) or a tarball, absolute. */
  spec: string;
  nodeConfig: JsonObject;
  method?: string;
  /** The target of each restore; `{dir}` in a string value becomes a new empty folder. Default: the node config with `path` set to one. */
  targetConfig?: JsonObject;
}

const SDK_DIR = dirname(require.resolve('@chainvault/plugin-sdk/package.json'));

/** A folder the plugin can be required from, with this CLI's SDK where the package brings none. */
async function loadable(spec: string, scratch: string): Promise<string> {
  const info = await stat(spec).catch(() => null);
  if (!info) throw new CliError(`${spec} does not exist; give a plugin package folder or a .tgz`);
  let folder = spec;
  if (info.isFile()) {
    folder = join(scratch, 'package');
    await mkdir(folder, { recursive: true });
    await promisify(execFile)('tar', ['-xzf', spec, '-C', folder, '--strip-components=1']).catch((error: Error) => {
      throw new CliError(`${spec} is not a package tarball: ${error.message}`);
    });
  } else if (!existsSync(join(spec, 'node_modules', '@chainvault', 'plugin-sdk'))) {
    // Copied, so the user's folder is not changed by the link below.
    folder = join(scratch, 'package');
    await cp(spec, folder, { recursive: true, filter: (from) => !relative(spec, from).startsWith('.git') });
  }
  const sdk = join(folder, 'node_modules', '@chainvault', 'plugin-sdk');
  if (!existsSync(sdk)) {
    await mkdir(dirname(sdk), { recursive: true });
    await symlink(SDK_DIR, sdk, 'dir');
  }
  // A folder used where it is resolves its dependencies as it would anywhere; a copy needs them linked.
  if (folder !== spec) await linkDependencies(folder, info.isFile() ? dirname(spec) : spec);
  return folder;
}

/**
 * The server installs a plugin's dependencies with it; here they are taken from where the
 * package lies (a workspace's or a project's node_modules), each linked into the copy unless the
 * copy has it already. One found nowhere is named, with what to do.
 */
async function linkDependencies(folder: string, lies: string): Promise<void> {
  const { dependencies = {} } = JSON.parse(await readFile(join(folder, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const from = createRequire(join(lies, 'package.json'));
  const missing: string[] = [];
  for (const name of Object.keys(dependencies)) {
    const link = join(folder, 'node_modules', name);
    if (existsSync(link)) continue;
    const found = packageDir(from, name);
    if (!found) {
      missing.push(name);
      continue;
    }
    await mkdir(dirname(link), { recursive: true });
    await symlink(found, link, 'dir');
  }
  if (missing.length) {
    throw new CliError(`the plugin depends on ${missing.join(', ')}, which cannot be found from ${lies}: install its dependencies there (npm install) and run this again`);
  }
}

/** The folder of package `name` as `from` resolves it, or null. */
function packageDir(from: NodeRequire, name: string): string | null {
  try {
    return dirname(from.resolve(`${name}/package.json`));
  } catch {
    // A package whose exports hide package.json: from its entry up to the folder that names it.
  }
  let dir: string;
  try {
    dir = dirname(from.resolve(name));
  } catch {
    return null;
  }
  for (; dir !== dirname(dir); dir = dirname(dir)) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name === name) return dir;
    } catch {
      // no package.json here
    }
  }
  return null;
}

/** Every file under `root` with its bytes, by relative path (directories and links as markers). */
async function tree(root: string, prefix = ''): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const entry of await readdir(join(root, prefix), { withFileTypes: true })) {
    const path = join(prefix, entry.name);
    if (entry.isDirectory()) {
      found.set(`${path}/`, '');
      for (const [p, c] of await tree(root, path)) found.set(p, c);
    } else if (entry.isFile()) {
      found.set(path, (await readFile(join(root, path))).toString('base64'));
    } else {
      found.set(path, `(${entry.isSymbolicLink() ? 'link' : 'special'})`);
    }
  }
  return found;
}

function withDir(value: unknown, dir: string): unknown {
  if (typeof value === 'string') return value.replaceAll('{dir}', dir);
  if (Array.isArray(value)) return value.map((v) => withDir(v, dir));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withDir(v, dir)]));
  return value;
}

export async function checkPlugin(options: PluginCheckOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const record = (check: string, ok: boolean, error?: string) => results.push({ check, ok, ...(error ? { error } : {}) });
  const scratch = await mkdtemp(join(tmpdir(), 'chainvault-plugin-test-'));
  try {
    const folder = await loadable(options.spec, scratch);
    let plugin: ChainvaultPlugin;
    try {
      const manifest = readPluginManifest(JSON.parse(await readFile(join(folder, 'package.json'), 'utf8')));
      const exported = createRequire(join(folder, 'package.json'))(join(folder, manifest.entry)) as { default?: unknown };
      plugin = (exported?.default ?? exported) as ChainvaultPlugin;
      const problems = describeDefinitionProblems(plugin);
      if (problems.length) throw new Error(problems.join('; '));
      if (plugin.id !== manifest.id) throw new Error(`package.json declares id "${manifest.id}" but the code "${plugin.id}"`);
      record('loads, with a valid definition', true);
    } catch (error) {
      record('loads, with a valid definition', false, (error as Error).message);
      return results;
    }

    const methodName = options.method ?? Object.keys(plugin.methods).find((m) => plugin.methods[m].scope === 'node') ?? Object.keys(plugin.methods)[0];
    const method = plugin.methods[methodName];
    if (!method) {
      record(`has the method "${methodName}"`, false, `its methods: ${Object.keys(plugin.methods).join(', ')}`);
      return results;
    }
    const validate = new Ajv({ allErrors: true, strict: false, useDefaults: true }).compile(plugin.nodeConfigSchema as object);
    const config = structuredClone(options.nodeConfig);
    try {
      if (!validate(config)) throw new Error(`the node config does not fit the plugin's schema: ${JSON.stringify(validate.errors)}`);
      await plugin.checkNodeConfig?.(config);
      record('accepts the node config', true);
    } catch (error) {
      record('accepts the node config', false, (error as Error).message);
      return results;
    }
    // A config missing every field, and one with a field no schema knows: at least one must be refused.
    const refusedBad = async (bad: JsonObject) => !validate(structuredClone(bad)) || (await Promise.resolve(plugin.checkNodeConfig?.(bad)).then(() => false, () => true));
    if ((await refusedBad({})) || (await refusedBad({ ...config, 'not-a-field-any-plugin-has': true }))) record('refuses a bad config', true);
    else record('refuses a bad config', false, 'an empty config and one with an unknown field were both accepted');

    let targets = 0;
    const makeTarget = async (): Promise<RestoreTarget> => {
      const dir = join(scratch, `target-${++targets}`);
      const base = options.targetConfig ?? (typeof config.path === 'string' ? { ...config, path: '{dir}' } : null);
      if (!base) throw new Error('give --target-config: the node config has no "path" to restore into');
      return { config: withDir(base, dir) as JsonObject };
    };
    const source = typeof config.path === 'string' ? config.path : null;
    let expected = source ? await tree(source).catch(() => null) : null;
    await runConformance({
      plugin,
      method: methodName,
      nodes: [{ id: 'node-under-test', name: 'node', role: 'node', config }],
      makeTarget,
      assertRestored: async (target) => {
        const restored = typeof target.config.path === 'string' ? target.config.path : null;
        if (!expected || !restored) return;
        const got = await tree(restored);
        const missing = [...expected.keys()].filter((p) => got.get(p) !== expected!.get(p));
        const extra = [...got.keys()].filter((p) => !expected!.has(p));
        if (missing.length || extra.length) throw new Error(`the restore differs from the node's data: ${[...missing.map((p) => `differs or missing ${p}`), ...extra.map((p) => `extra ${p}`)].slice(0, 5).join(', ')}`);
      },
      change: async () => {
        expected = source ? await tree(source).catch(() => null) : null;
      },
      onCheck: (name, outcome) => record(name, outcome.ok, outcome.error),
    }).catch(() => undefined);
    return results;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The table a person reads. */
export function describeChecks(results: CheckResult[]): string[] {
  const width = Math.max(...results.map((r) => r.check.length));
  const lines = results.map((r) => (r.error ? `FAIL  ${r.check.padEnd(width)}  ${r.error}` : `${r.ok ? 'PASS' : 'FAIL'}  ${r.check}`));
  const failed = results.filter((r) => !r.ok).length;
  return [...lines, failed ? `${failed} of ${results.length} checks failed` : `all ${results.length} checks passed`];
}
