/** `chainvault plugins …`: the protocol plugins the server loads. */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CliError } from './api-client';
import { absolutePath, parseJson, withAbsolutePath } from './cli-input';
import { checkPlugin, describeChecks } from './plugin-check';
import type { JsonObject } from '@chainvault/plugin-sdk';
import { PLUGIN_ID, newPluginFiles } from '@chainvault/plugin-sdk/scaffold';
import { example, type CommandKit } from './command-kit';

const PLUGIN_FIELDS = 'id packageName version apiVersion status error lastFault { at message } source integrity protocols methods { name scope }';

function jsonObject(value: unknown, what: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CliError(`${what} must be a JSON object, for example '{"path": "/srv/data"}'`);
  return value as JsonObject;
}

/** A tarball or folder on this machine rather than a registry name: made absolute like every path. */
function isLocalSpec(spec: string): boolean {
  return /^[./]/.test(spec) || /\.(tgz|tar\.gz)$/.test(spec) || existsSync(spec);
}

export function addPluginCommands(program: Command, { api, show }: CommandKit): void {
  const plugins = example(program.command('plugins').description('list, install and uninstall protocol plugins'), 'plugins list');
  example(plugins.command('list').description('every plugin the server found, with its status, protocols and methods'), 'plugins list').action(async () => {
    const { plugins: list } = await api().request(`{ plugins { ${PLUGIN_FIELDS} } }`);
    show(list, () =>
      list.map(
        (p: any) =>
          `${p.id.padEnd(16)} ${p.version.padEnd(9)} ${p.status.padEnd(8)} ${p.source.padEnd(9)} ${p.protocols.join(',')}  methods: ${p.methods.map((m: any) => `${m.name}(${m.scope})`).join(', ')}${p.integrity ? `\n  integrity: ${p.integrity}` : ''}${p.error ? `\n  error: ${p.error}` : ''}${p.lastFault && p.lastFault.message !== p.error ? `\n  last fault ${p.lastFault.at}: ${p.lastFault.message}` : ''}`,
      ),
    );
  });
  example(
    plugins
      .command('install <spec>')
      .description('install a plugin (a registry name such as name@1.2.0, or a tarball or folder, relative to the current directory) into the data directory without running its scripts, and load it'),
    'plugins install ./chainvault-plugin-notes-1.0.0.tgz',
    'plugins install chainvault-plugin-notes@1.0.0',
  ).action(async (spec: string) => {
    const { installPlugin } = await api().request(`mutation ($spec: String!) { installPlugin(spec: $spec) { id version status error integrity } }`, {
      spec: isLocalSpec(spec) ? absolutePath(spec) : spec,
    });
    show(installPlugin, () => [`${installPlugin.id} ${installPlugin.version}: ${installPlugin.status}${installPlugin.error ? ` (${installPlugin.error})` : ''}`, `integrity ${installPlugin.integrity}`]);
    if (installPlugin.status !== 'LOADED') process.exitCode = 1;
  });
  example(
    plugins.command('uninstall <id>').description('remove an installed plugin that no node uses (refused while nodes use it)'),
    'plugins uninstall notes',
  ).action(async (id: string) => {
    const { uninstallPlugin } = await api().request(`mutation ($id: ID!) { uninstallPlugin(id: $id) { id version } }`, { id });
    show(uninstallPlugin, () => [`plugin ${uninstallPlugin.id} ${uninstallPlugin.version} uninstalled`]);
  });
  for (const [verb, mutation, what] of [
    ['disable', 'disablePlugin', 'turn a plugin off without removing it: its nodes and policies stay, its runs are refused, saying so, and its code is not loaded at the next start'],
    ['enable', 'enablePlugin', 'turn a disabled plugin on again'],
  ] as const) {
    example(plugins.command(`${verb} <id>`).description(what), `plugins ${verb} notes`).action(async (id: string) => {
      const answer = (await api().request(`mutation ($id: ID!) { ${mutation}(id: $id) { id version status error } }`, { id }))[mutation];
      show(answer, () => [`plugin ${answer.id} ${answer.version}: ${answer.status}${answer.error ? ` (${answer.error})` : ''}`]);
    });
  }
  example(
    plugins.command('upgrade <id> <spec>').description(
      "replace an installed plugin with another version of its package (registry name@version, or a tarball or folder relative to the current directory), keeping its nodes and policies; refused, with nothing changed, when the new version does not fit them",
    ),
    'plugins upgrade notes ./chainvault-plugin-notes-2.0.0.tgz',
  ).action(async (id: string, spec: string) => {
    const { upgradePlugin } = await api().request(`mutation ($id: ID!, $spec: String!) { upgradePlugin(id: $id, spec: $spec) { id version status integrity } }`, {
      id,
      spec: isLocalSpec(spec) ? absolutePath(spec) : spec,
    });
    show(upgradePlugin, () => [`${upgradePlugin.id} ${upgradePlugin.version}: ${upgradePlugin.status}`, `integrity ${upgradePlugin.integrity}`]);
  });
  example(
    plugins
      .command('new <name>')
      .description('create a new plugin as a standalone npm package (a working method over a folder, its conformance spec, a README) that builds, tests and packs outside the chainvault workspace')
      .requiredOption('--dir <path>', 'the new package folder (relative to the current directory); it must not exist or be empty'),
    'plugins new mychain --dir ./chainvault-plugin-mychain',
  ).action(async (name: string, options: { dir: string }) => {
    if (!PLUGIN_ID.test(name)) throw new CliError(`the plugin name must be lowercase letters, digits and dashes, starting with a letter (it becomes the plugin id); got "${name}"`);
    const dir = absolutePath(options.dir);
    const existing = await readdir(dir).catch(() => [] as string[]);
    if (existing.length) throw new CliError(`${dir} is not empty; give a new folder`);
    // The SDK this CLI was built with, packed into the package: it is not on a registry.
    const sdkDir = dirname(require.resolve('@chainvault/plugin-sdk/package.json'));
    await mkdir(join(dir, 'vendor'), { recursive: true });
    const { stdout } = await promisify(execFile)('npm', ['pack', sdkDir, '--pack-destination', join(dir, 'vendor'), '--ignore-scripts', '--json']);
    const sdkTarball = (JSON.parse(stdout) as Array<{ filename: string }>)[0].filename;
    const files = newPluginFiles({ id: name, packageName: `chainvault-plugin-${name}`, layout: 'standalone', sdkSpec: `file:vendor/${sdkTarball}` });
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), content);
    }
    show({ dir, files: Object.keys(files) }, () => [`created chainvault-plugin-${name} in ${dir}`, `next: cd ${dir} && npm install && npm test && npm pack`]);
  });
  example(
    plugins
      .command('test <spec>')
      .description(
        'run the conformance kit against a real node: load the plugin (a built package folder or a tarball, relative to the current directory), check its definition and configs, back up, verify, restore, back up again incrementally and refuse a cancelled backup; prints a pass/fail table (exit 1 when a check fails)',
      )
      .requiredOption('--node-config <json>', "the node's config, as registerNode takes it")
      .option('--method <name>', 'the method to test (default: the first node-scope one)')
      .option('--target-config <json>', 'the config of each restore target; "{dir}" in a value becomes a new empty folder (default: the node config with path set to one)'),
    `plugins test ./chainvault-plugin-mychain --node-config '{"path": "/srv/data"}'`,
  ).action(async (spec: string, options: { nodeConfig: string; method?: string; targetConfig?: string }) => {
    const results = await checkPlugin({
      spec: absolutePath(spec),
      nodeConfig: jsonObject(withAbsolutePath(parseJson(options.nodeConfig, '--node-config')), '--node-config'),
      method: options.method,
      targetConfig: options.targetConfig ? jsonObject(parseJson(options.targetConfig, '--target-config'), '--target-config') : undefined,
    });
    show(results, () => describeChecks(results));
    if (results.some((r) => !r.ok)) process.exitCode = 1;
  });
}
