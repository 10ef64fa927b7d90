/** `chainvault jobs …`: the work the server queues and runs (backups, restores, verifies, prunes…). */
import type { Command } from 'commander';
import { CliError } from './api-client';
import { wholeNumber } from './cli-input';
import { example, JOB_FIELDS, type CommandKit } from './command-kit';
import { plainProgressLine } from './job-progress';

const STATUSES = ['QUEUED', 'RUNNING', 'CANCELLING', 'COMPLETED', 'FAILED', 'CANCELLED', 'SKIPPED'];
const KINDS = ['BACKUP', 'RESTORE', 'VERIFY', 'EXPORT', 'REPLICATE', 'PRUNE', 'CHECK'];
/** Jobs asked for per request with --all, unless --first says otherwise. */
const PAGE = 500;

/** `FAILED,running` → ['FAILED', 'RUNNING'], each checked against `known`. */
export function enumList(text: string, known: string[], option: string): string[] {
  return text.split(',').map((part) => {
    const value = part.trim().toUpperCase();
    if (!known.includes(value)) throw new CliError(`${option}: "${part.trim()}" is not one of ${known.join(', ')}`);
    return value;
  });
}

/** An ISO-8601 time, or `24h`, `7d`, `90m` ago. */
export function sinceTime(text: string, now = new Date()): string {
  const relative = /^(\d+)([dhm])$/.exec(text.trim());
  if (relative) return new Date(now.getTime() - Number(relative[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[relative[2] as 'd' | 'h' | 'm']).toISOString();
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) throw new CliError(`--since takes an ISO-8601 time (2026-12-01T00:00:00Z) or 24h, 7d, 90m ago; got "${text}"`);
  return time.toISOString();
}

export function addJobCommands(program: Command, { api, show, policyRef, nodeRef }: CommandKit): void {
  const jobs = example(program.command('jobs').description('inspect and cancel jobs: backups, restores, verifies, exports, copies, prunes and checks'), 'jobs list --status FAILED');
  example(
    jobs
      .command('list')
      .description('jobs, newest first, filtered; --all pages through every one')
      .option('--status <statuses>', `only these, comma-separated: ${STATUSES.join(', ')}`)
      .option('--kind <kinds>', `only these, comma-separated: ${KINDS.join(', ')}`)
      .option('--policy <policy>', 'only the jobs of this policy (name or id)')
      .option('--node <node>', 'only the jobs of this node (name or id)')
      .option('--since <time>', 'only those created since: an ISO-8601 time, or 24h, 7d, 90m ago')
      .option('--first <n>', 'how many (default 50); with --all, how many per request (default 500)', wholeNumber(1))
      .option('--all', 'every matching job, asked for page by page'),
    'jobs list --status FAILED --since 24h',
    'jobs list --kind BACKUP --policy files-nightly --first 10',
    '--json jobs list --all',
  ).action(async (o: { status?: string; kind?: string; policy?: string; node?: string; since?: string; first?: number; all?: boolean }) => {
    const variables = {
      status: o.status ? enumList(o.status, STATUSES, '--status') : undefined,
      kind: o.kind ? enumList(o.kind, KINDS, '--kind') : undefined,
      policyId: o.policy ? (await policyRef(o.policy)).id : undefined,
      nodeId: o.node ? (await nodeRef(o.node)).id : undefined,
      since: o.since ? sinceTime(o.since) : undefined,
    };
    const query = `query ($status: [JobStatus!], $kind: [JobKind!], $policyId: ID, $nodeId: ID, $since: DateTime, $first: Int, $after: String) {
      jobs(status: $status, kind: $kind, policyId: $policyId, nodeId: $nodeId, since: $since, first: $first, after: $after) { id kind status policyId backupId createdAt finishedAt error } }`;
    const list: any[] = [];
    const first = o.first ?? (o.all ? PAGE : 50);
    let after: string | undefined;
    for (;;) {
      const { jobs: page } = await api().request(query, { ...variables, first, after });
      list.push(...page);
      if (!o.all || page.length < first) break;
      after = page[page.length - 1].id;
    }
    show(list, () => (list.length ? list.map((j: any) => `${j.id}  ${j.kind.padEnd(9)} ${j.status.padEnd(10)} ${j.createdAt}${j.error ? `  ${j.error}` : ''}`) : ['no jobs']));
  });
  example(jobs.command('show <id>').description('one job: its state, progress, error and whole log'), 'jobs show <job id>').action(async (id: string) => {
    const { job } = await api().request(`query ($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`, { id });
    if (!job) throw new CliError(`job ${id} does not exist`);
    show(job, () => [
      `job ${job.id} (${job.kind}) ${job.status}, attempt ${job.attempts}`,
      `  created ${job.createdAt}${job.startedAt ? `, started ${job.startedAt}` : ''}${job.finishedAt ? `, finished ${job.finishedAt}` : ''}`,
      ...(job.progress ? [plainProgressLine('progress', job.progress, null)] : []),
      ...(job.error ? [`error: ${job.error}`] : []),
      ...(job.log.length ? ['log:', ...job.log.map((l: any) => `  ${l.at} ${l.level.padEnd(5)} ${l.message}`)] : []),
    ]);
  });
  example(jobs.command('cancel <id>').description('cancel a queued or running job'), 'jobs cancel <job id>').action(async (id: string) => {
    const { cancelJob } = await api().request(`mutation ($id: ID!) { cancelJob(id: $id) { id status } }`, { id });
    show(cancelJob, () => [`job ${cancelJob.id} ${cancelJob.status}`]);
  });
}
