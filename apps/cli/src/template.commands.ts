/** `chainvault templates …`: stored restores (target nodes and options), reused by `restore --template`. */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { CliError } from './api-client';
import { absolutePath } from './cli-input';
import { example, type CommandKit } from './command-kit';

const TEMPLATE_FIELDS = 'id name description pluginId targetNodeIds options createdAt createdBy';


function readOptions(o: { options?: string; optionsFile?: string }): unknown {
  if (o.options && o.optionsFile) throw new CliError('give --options or --options-file, not both');
  const text = o.optionsFile ? readFileSync(absolutePath(o.optionsFile), 'utf8') : o.options;
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`${o.optionsFile ? `${o.optionsFile} does` : '--options does'} not hold JSON, for example '{"template": {"hosts": {"peer0.org1.example.com": "peer0.dr.example.com"}}}'`);
  }
}

export function addTemplateCommands(program: Command, { api, show, nodeRef }: CommandKit): void {
  const templates = example(program.command('templates').description('restore templates: target nodes and restore options stored under a name, used by `restore <backup> --template <name>`'), 'templates list');
  example(templates.command('list').description('every stored template'), 'templates list').action(async () => {
      const { restoreTemplates } = await api().request(`{ restoreTemplates { ${TEMPLATE_FIELDS} } }`);
      show(restoreTemplates, () => (restoreTemplates.length ? restoreTemplates.map((t: any) => `${t.name.padEnd(24)} ${t.pluginId.padEnd(10)} ${t.targetNodeIds.length} node(s)  ${t.description ?? ''}`) : ['no templates']));
    });
  example(templates.command('show <template>').description('one template (name or id) with its options'), 'templates show dr').action(async (ref: string) => {
      const { restoreTemplate } = await api().request(`query ($id: String!) { restoreTemplate(id: $id) { ${TEMPLATE_FIELDS} } }`, { id: ref });
      show(restoreTemplate, () => [`${restoreTemplate.name} (${restoreTemplate.pluginId}), nodes ${restoreTemplate.targetNodeIds.join(', ')}`, JSON.stringify(restoreTemplate.options, null, 2)]);
    });
  example(
    templates
      .command('create <name>')
      .description('store a template: the nodes a backup is restored onto, and restore options')
      .requiredOption('--target-nodes <nodes>', 'the nodes restored onto: names or ids, comma-separated')
      .option('--options <json>', 'restore options as JSON')
      .option('--options-file <file>', 'restore options from a JSON file (relative to the current directory)')
      .option('--description <text>', 'what the template is for'),
    'templates create dr --target-nodes dr-ca,dr-peer0 --options-file dr.json',
  ).action(async (name: string, o: { targetNodes: string; options?: string; optionsFile?: string; description?: string }) => {
      const refs = o.targetNodes.split(',').map((s) => s.trim()).filter(Boolean);
      const input = { name, description: o.description, targetNodeIds: await Promise.all(refs.map(async (ref) => (await nodeRef(ref)).id)), options: readOptions(o) };
      const { createRestoreTemplate } = await api().request(`mutation ($input: CreateRestoreTemplateInput!) { createRestoreTemplate(input: $input) { ${TEMPLATE_FIELDS} } }`, { input });
      show(createRestoreTemplate, () => [`template ${createRestoreTemplate.name} stored (${createRestoreTemplate.id})`]);
    });
  example(templates.command('delete <template>').description('remove a template (name or id)'), 'templates delete dr').action(async (ref: string) => {
      const { deleteRestoreTemplate } = await api().request(`mutation ($id: String!) { deleteRestoreTemplate(id: $id) { id name } }`, { id: ref });
      show(deleteRestoreTemplate, () => [`template ${deleteRestoreTemplate.name} deleted`]);
    });
}
