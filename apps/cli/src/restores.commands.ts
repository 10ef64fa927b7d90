/** `chainvault restore` and `chainvault restores …`: restore a backup, and the restores made. */
import type { Command } from 'commander';
import { CliError } from './api-client';
import { absolutePath, parseJson, wholeNumber, withAbsolutePath } from './cli-input';
import { example, JOB_FIELDS, type CommandKit } from './command-kit';

export function addRestoreCommands(program: Command, { api, show, nodeRef, destinationRef, reportJob }: CommandKit): void {
  example(
    program
      .command('restore <backupId>')
      .description('restore a backup to a registered node, several nodes at once (a restore set), an ad-hoc target, or as a stored template says')
      .option('--template <template>', 'a stored template (name or id): its target nodes and options; --options add to them')
      .option('--target-node <node>', 'node name or id')
      .option('--target-nodes <nodes>', 'a restore set: node names or ids, comma-separated; the plugin orders them in phases')
      .option('--target-config <json>', 'target config as JSON, e.g. {"path": "/restore/here"}; a relative "path" is made absolute against the current directory')
      .option('--to <dir>', 'an ad-hoc target directory, relative to the current directory: short for --target-config \'{"path": "<dir>"}\'')
      .option('--options <json>', 'restore options as JSON')
      .option('--from <destination>', "restore from this destination's copy (name or id)")
      .option('--wait', 'wait for the job to end, with its progress, and exit non-zero if it fails'),
    'restore <backup id> --to ./restored --wait',
    'restore <backup id> --target-node files --wait',
    'restore <backup id> --template dr --wait',
  ).action(async (backupId: string, o: { template?: string; targetNode?: string; targetNodes?: string; targetConfig?: string; to?: string; options?: string; from?: string; wait?: boolean }) => {
    if (o.to && o.targetConfig) throw new CliError('give --to or --target-config, not both');
    const setRefs = o.targetNodes ? o.targetNodes.split(',').map((s) => s.trim()).filter(Boolean) : [];
    const targetConfig = o.to ? { path: absolutePath(o.to) } : o.targetConfig ? withAbsolutePath(parseJson(o.targetConfig, '--target-config')) : undefined;
    const input = {
      backupId,
      fromDestinationId: o.from ? (await destinationRef(o.from)).id : undefined,
      targetNodeId: o.targetNode ? (await nodeRef(o.targetNode)).id : undefined,
      targetNodeIds: setRefs.length ? await Promise.all(setRefs.map(async (ref) => (await nodeRef(ref)).id)) : undefined,
      targetConfig,
      options: o.options ? parseJson(o.options, '--options') : undefined,
      templateId: o.template,
    };
    const { restoreBackup } = await api().request(`mutation ($input: RestoreInput!) { restoreBackup(input: $input) { ${JOB_FIELDS} } }`, { input });
    await reportJob(restoreBackup, Boolean(o.wait));
  });

  const restores = example(program.command('restores').description('restores made, newest first'), 'restores list');
  example(
    restores
      .command('list')
      .description('restores, newest first; of one backup with --backup')
      .option('--backup <id>', 'only the restores of this backup')
      .option('--limit <n>', 'at most this many (default 100)', wholeNumber(1)),
    'restores list --backup <backup id>',
  ).action(async (o: { backup?: string; limit?: number }) => {
    const { restores: list } = await api().request(`query ($backupId: ID, $first: Int) { restores(backupId: $backupId, first: $first) { id backupId targetNodeId targetNodeIds status error createdAt finishedAt } }`, {
      backupId: o.backup,
      first: o.limit,
    });
    show(list, () => (list.length ? list.map((r: any) => `${r.id}  ${r.createdAt}  ${r.status.padEnd(9)} backup ${r.backupId}  ${r.targetNodeIds ? `${r.targetNodeIds.length} nodes` : (r.targetNodeId ?? 'ad-hoc target')}${r.error ? `  ${r.error}` : ''}`) : ['no restores']));
  });
  example(restores.command('show <id>').description('one restore with what the plugin reported'), 'restores show <restore id>').action(async (id: string) => {
    const { restore } = await api().request(`query ($id: ID!) { restore(id: $id) { id backupId targetNodeId targetNodeIds targetConfig options status details error createdAt finishedAt } }`, { id });
    if (!restore) throw new CliError(`no restore with id ${id}`);
    show(restore, () => [`${restore.id}  ${restore.status}  backup ${restore.backupId}`, JSON.stringify(restore.details ?? {}, null, 2), ...(restore.error ? [restore.error] : [])]);
  });
}
