/** `chainvault backups …` and `chainvault verify`: run, list, inspect, export, verify and delete backups. */
import type { Command } from 'commander';
import { CliError } from './api-client';
import { absolutePath, wholeNumber } from './cli-input';
import { example, JOB_FIELDS, type CommandKit } from './command-kit';
import { formatBytes } from './job-progress';

const WAIT_HELP = 'wait for the job to end, with its progress and each failed attempt, and exit non-zero if it did not complete';

export function addBackupCommands(program: Command, { api, show, policyRef, reportJob }: CommandKit): void {
  const backups = example(program.command('backups').description('run, list, inspect, export and delete backups'), 'backups list');
  example(
    backups.command('run <policy>').description('back up now with a policy (name or id)').option('--wait', WAIT_HELP),
    'backups run files-nightly --wait',
    '--json backups run files-nightly --wait',
  ).action(async (ref: string, o: { wait?: boolean }) => {
    const policy = await policyRef(ref);
    const { runBackup } = await api().request(`mutation ($id: ID!) { runBackup(policyId: $id) { ${JOB_FIELDS} } }`, { id: policy.id });
    await reportJob(runBackup, Boolean(o.wait));
  });
  example(
    backups
      .command('list')
      .description('backups, newest first')
      .option('--policy <policy>', 'only this policy (name or id)')
      .option('--first <n>', 'how many', wholeNumber(1), 50),
    'backups list --policy files-nightly --first 10',
  ).action(async (o: { policy?: string; first: number }) => {
    const filter = o.policy ? { policyId: (await policyRef(o.policy)).id } : undefined;
    const { backups: page } = await api().request(
      `query ($filter: BackupFilter, $first: Int) { backups(filter: $filter, first: $first) { totalCount nodes { id createdAt status plugin method fileCount logicalSize storedSize verification } } }`,
      { filter, first: o.first },
    );
    show(page, () => [
      ...page.nodes.map((b: any) => `${b.id}  ${b.createdAt}  ${b.status}  ${b.plugin}/${b.method}  ${b.fileCount} files  ${formatBytes(b.logicalSize)} (+${formatBytes(b.storedSize)} stored)  ${b.verification}`),
      `${page.totalCount} backups`,
    ]);
  });
  example(backups.command('show <id>').description('one backup: sizes, what was read, verification').option('--files', 'list the files too'), 'backups show <backup id> --files').action(
    async (id: string, o: { files?: boolean }) => {
      const { backup } = await api().request(
        `query ($id: ID!) { backup(id: $id) { id status plugin method createdAt fileCount filesRead filesUnchanged logicalSize storedSize bytesRead verification verifiedAt metadata pinned ${o.files ? 'files { path type size mode }' : ''} } }`,
        { id },
      );
      if (!backup) throw new CliError(`backup ${id} does not exist`);
      show(backup, () => [
        `backup ${backup.id} ${backup.status} (${backup.plugin}/${backup.method}) at ${backup.createdAt}`,
        `  ${backup.fileCount} files, ${formatBytes(backup.logicalSize)}; read ${backup.filesRead} files (${formatBytes(backup.bytesRead)}), ${backup.filesUnchanged} unchanged; stored ${formatBytes(backup.storedSize)} new`,
        `  verification ${backup.verification}${backup.verifiedAt ? ` at ${backup.verifiedAt}` : ''}${backup.pinned ? ', pinned' : ''}`,
        ...(backup.files ?? []).map((f: any) => `  ${f.type.padEnd(9)} ${f.mode.toString(8).padStart(4, '0')} ${String(f.size).padStart(12)} ${f.path}`),
      ]);
    },
  );
  example(
    backups
      .command('export <id> <dir>')
      .description('write the files of a backup, as stored, into a new or empty directory on the server (relative to the current directory)')
      .option('--wait', WAIT_HELP),
    'backups export <backup id> ./exported --wait',
  ).action(async (id: string, dir: string, o: { wait?: boolean }) => {
    const { exportBackup } = await api().request(`mutation ($id: ID!, $path: String!) { exportBackup(backupId: $id, path: $path) { ${JOB_FIELDS} } }`, { id, path: absolutePath(dir) });
    await reportJob(exportBackup, Boolean(o.wait));
  });
  example(backups.command('pin <id>').description('keep a backup whatever the retention rules say (--unpin lets them decide again)').option('--unpin', 'remove the pin'), 'backups pin <backup id>').action(
    async (id: string, o: { unpin?: boolean }) => {
      const { pinBackup } = await api().request(`mutation ($id: ID!, $pinned: Boolean!) { pinBackup(id: $id, pinned: $pinned) { id pinned } }`, { id, pinned: !o.unpin });
      show(pinBackup, () => [`backup ${pinBackup.id} ${pinBackup.pinned ? 'pinned' : 'unpinned'}`]);
    },
  );
  example(backups.command('delete <id>').description('delete a backup; its data is freed by the next prune of its destination'), 'backups delete <backup id>').action(async (id: string) => {
    await api().request(`mutation ($id: ID!) { deleteBackup(id: $id) }`, { id });
    show({ deleted: id }, () => [`backup ${id} deleted`]);
  });

  example(
    program
      .command('verify <backupId>')
      .description('re-hash a backup and prove it against its protocol')
      .option('--structure-only', 'check the structure without reading the data')
      .option('--wait', 'wait for the job to end, with its progress, and exit non-zero if the backup is corrupt'),
    'verify <backup id> --wait',
  ).action(async (backupId: string, o: { structureOnly?: boolean; wait?: boolean }) => {
    const { verifyBackup } = await api().request(`mutation ($id: ID!, $readData: Boolean) { verifyBackup(backupId: $id, readData: $readData) { ${JOB_FIELDS} } }`, {
      id: backupId,
      readData: !o.structureOnly,
    });
    await reportJob(verifyBackup, Boolean(o.wait));
  });
}
