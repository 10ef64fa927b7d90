/**
 * What every noun's commands share: the API client, printing (human lines or --json), names
 * accepted wherever ids are, examples in help, and waiting for a job with `--wait`.
 */
import type { Command } from 'commander';
import { ApiClient, CliError, serverUrl } from './api-client';
import { formatBytes } from './job-progress';
import { JobWatch } from './job-watch';

export type Print = (line: string) => void;

export interface Named {
  id: string;
  name: string;
}

/** A name or id among the items the API lists under `field`, with the fields asked for. */
export type Resolve = <T extends Named = Named & Record<string, any>>(ref: string, fields?: string) => Promise<T>;

export interface CommandKit {
  api: () => ApiClient;
  json: () => boolean;
  print: Print;
  show: (value: unknown, human: () => string[]) => void;
  networkRef: Resolve;
  nodeRef: Resolve;
  policyRef: Resolve;
  destinationRef: Resolve;
  /** Prints a job (waiting for its end with `wait`), and sets exit code 1 when a waited job did not complete. */
  reportJob: (job: Record<string, any>, wait: boolean) => Promise<void>;
}

export const JOB_FIELDS = 'id kind status error result backupId restoreId policyId attempts createdAt startedAt finishedAt progress { unit done total message etaSeconds updatedAt } log { at level message }';

const POLL_MS = 500;

/** Adds `Example:` lines to a command's help: `$ chainvault <line>`, or the line as is when it starts with variables. */
export function example<T extends Command>(command: T, ...lines: string[]): T {
  const shown = lines.map((line) => `  $ ${/^[A-Z_]+=/.test(line) ? line : `chainvault ${line}`}`);
  return command.addHelpText('after', `\n${lines.length > 1 ? 'Examples' : 'Example'}:\n${shown.join('\n')}`);
}

/** Picks `ref` by id or name among `items`; the error lists what there is. */
export function pick<T extends Named>(items: T[], ref: string, what: string): T {
  const found = items.filter((i) => i.id === ref || i.name === ref);
  if (found.length === 1) return found[0];
  if (found.length === 0) throw new CliError(`no ${what} named or with id "${ref}"; known: ${items.map((i) => i.name).join(', ') || 'none'}`);
  throw new CliError(`"${ref}" names several ${what}s; use its id`);
}

export function makeKit(program: Command, print: Print): CommandKit {
  const api = () => new ApiClient(serverUrl());
  const json = () => Boolean(program.opts().json);
  const show = (value: unknown, human: () => string[]) => {
    if (json()) print(JSON.stringify(value, null, 2));
    else for (const line of human()) print(line);
  };
  const resolver =
    (list: string, what: string): Resolve =>
    async (ref, fields = 'id name') =>
      pick((await api().request(`{ ${list} { ${fields.includes('name') ? fields : `id name ${fields}`} } }`))[list], ref, what) as never;

  const waitForJob = async (id: string): Promise<Record<string, any>> => {
    const watch = new JobWatch(process.stderr, !json());
    try {
      for (;;) {
        const { job } = await api().request(`query ($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`, { id });
        if (!job) throw new CliError(`job ${id} is gone from the catalog`);
        watch.update(job);
        if (!['QUEUED', 'RUNNING', 'CANCELLING'].includes(job.status)) return job;
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    } finally {
      watch.end();
    }
  };

  /** The backup a job names, when it exists: a failed backup job may name one it never finished. */
  const existingBackup = async (job: Record<string, any>): Promise<string | null> => {
    if (!job.backupId) return null;
    if (job.kind === 'BACKUP' && !['COMPLETED', 'PARTIAL'].includes(job.status)) return null;
    const { backup } = await api().request(`query ($id: ID!) { backup(id: $id) { id status } }`, { id: job.backupId });
    return backup && backup.status !== 'DELETED' ? backup.id : null;
  };

  const reportJob = async (job: Record<string, any>, wait: boolean) => {
    const final = wait ? await waitForJob(job.id) : job;
    const backupId = await existingBackup(final);
    // A script reading backupId from --json gets null, not the id of a backup that never completed.
    show(final.kind === 'BACKUP' ? { ...final, backupId } : final, () => [
      `job ${final.id} (${final.kind}) ${final.status}`,
      ...(backupId ? [`backup ${backupId}`] : []),
      ...(final.kind === 'EXPORT' && final.status === 'COMPLETED' ? [`${final.result.files} files (${formatBytes(final.result.bytes)}) in ${final.result.path}`] : []),
      ...(final.error ? [`error: ${final.error}`] : []),
    ]);
    if (wait && final.status !== 'COMPLETED') process.exitCode = 1;
  };

  return {
    api,
    json,
    print,
    show,
    networkRef: resolver('networks', 'network'),
    nodeRef: resolver('nodes', 'node'),
    policyRef: resolver('policies', 'policy'),
    destinationRef: resolver('destinations', 'destination'),
    reportJob,
  };
}
