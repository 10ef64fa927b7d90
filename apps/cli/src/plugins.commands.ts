/** `chainvault plugins …`: the protocol plugins the server loads. */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { absolutePath } from './cli-input';
import { example, type CommandKit } from './command-kit';

const PLUGIN_FIELDS = 'id packageName version apiVersion status error source integrity protocols methods { name scope }';

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
          `${p.id.padEnd(16)} ${p.version.padEnd(9)} ${p.status.padEnd(7)} ${p.source.padEnd(9)} ${p.protocols.join(',')}  methods: ${p.methods.map((m: any) => `${m.name}(${m.scope})`).join(', ')}${p.integrity ? `\n  integrity: ${p.integrity}` : ''}${p.error ? `\n  error: ${p.error}` : ''}`,
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
}
