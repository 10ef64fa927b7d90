/** `chainvault checkpoints …`: a node's checkpoints, on its disk and in destinations. */
import type { Command } from 'commander';
import { example, JOB_FIELDS, type CommandKit } from './command-kit';
import { formatBytes } from './job-progress';

export function addCheckpointCommands(program: Command, { api, show, nodeRef, reportJob }: CommandKit): void {
  const checkpoints = example(program.command('checkpoints').description("a node's checkpoints: on its disk and in destinations"), 'checkpoints status replica-1');
  example(
    checkpoints.command('status <node>').description("list the node's checkpoints (name or id): on the node, with block id, size and age, then those backed up"),
    'checkpoints status replica-1',
  ).action(async (ref: string) => {
    const node = await nodeRef(ref);
    const { checkpoints: list } = await api().request(
      `query ($id: ID!) { checkpoints(nodeId: $id) { location id lastBlockId sizeBytes ageSeconds complete path backupId destinationId } }`,
      { id: node.id },
    );
    show(list, () =>
      list.length === 0
        ? [`node ${node.name} has no checkpoints`]
        : list.map((c: any) => `${c.location.padEnd(11)} ${c.id.padStart(12)}  block ${c.lastBlockId ?? '-'}  ${c.sizeBytes === null ? '-' : formatBytes(c.sizeBytes)}  ${c.ageSeconds ?? '-'} s old  ${c.complete ? '' : 'PARTIAL '}${c.path ?? c.backupId ?? ''}`),
    );
  });
  example(
    checkpoints
      .command('create <node>')
      .description("make and ship a checkpoint of the node now, with its checkpoint policy (through the node's operator command when it has one)")
      .option('--wait', 'wait for the job to end, with its progress, and exit non-zero if it fails'),
    'checkpoints create replica-1 --wait',
  ).action(async (ref: string, o: { wait?: boolean }) => {
    const node = await nodeRef(ref);
    const { createCheckpoint } = await api().request(`mutation ($id: ID!) { createCheckpoint(nodeId: $id) { ${JOB_FIELDS} } }`, { id: node.id });
    await reportJob(createCheckpoint, Boolean(o.wait));
  });
}
