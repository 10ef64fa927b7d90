/** Jobs a page at a time, one job live (progress and log through jobProgress), and the audit trail. */
import { useEffect, useState } from 'preact/hooks';
import { call, subscribe, type ApiError } from '../api';
import { Audit, CancelJob, JobDetail, JobProgress, Jobs, type JobDetailResult, type JobKind, type JobStatus, type JobsVariables } from '../graphql/generated';
import { ErrorNote, Pager, Progress, Section, Status, inZone, useAction, useQuery } from '../ui';

const ENDED = ['COMPLETED', 'FAILED', 'CANCELLED', 'SKIPPED'];
type Job = NonNullable<JobDetailResult['job']>;

function JobView({ id }: { id: string }) {
  const detail = useQuery(JobDetail, { id }, id);
  const [job, setJob] = useState<Job | null>(null);
  const [liveError, setLiveError] = useState<ApiError | null>(null);
  const action = useAction();
  useEffect(() => {
    setJob(null);
    return subscribe(JobProgress, { jobId: id }, { next: (d) => setJob(d.jobProgress), error: setLiveError });
  }, [id]);
  const shown = job ?? detail.data?.job ?? null;
  if (!shown) return detail.error ? <ErrorNote error={detail.error} /> : <p>Loading…</p>;
  const ended = ENDED.includes(shown.status);
  return (
    <Section title={`${shown.kind.toLowerCase()} job ${shown.id.slice(0, 8)}`} actions={!ended ? <button class="danger" onClick={() => action.run(() => call(CancelJob, { id }))}>Cancel</button> : null}>
      <dl class="facts" data-testid="job-facts">
        <dt>Status</dt><dd data-testid="job-status"><Status value={shown.status} /></dd>
        <dt>Progress</dt><dd>{shown.progress || shown.status === 'COMPLETED' ? <Progress done={shown.progress?.done ?? 0} total={shown.progress?.total} unit={shown.progress?.unit ?? 'steps'} complete={shown.status === 'COMPLETED'} /> : '—'}{shown.progress?.message ? <div class="hint">{shown.progress.message}</div> : null}</dd>
        <dt>Created</dt><dd>{inZone(shown.createdAt)}</dd>
        <dt>Finished</dt><dd>{inZone(shown.finishedAt)}</dd>
        {shown.backupId ? <><dt>Backup</dt><dd><a href={`#/backups/${shown.backupId}`}>{shown.backupId.slice(0, 8)}</a></dd></> : null}
        {shown.error ? <><dt>Error</dt><dd class="failure-text" data-testid="job-error">{shown.error}</dd></> : null}
      </dl>
      <ErrorNote error={liveError ?? action.error} />
      <h3>Log</h3>
      <ol class="log" aria-live="polite">
        {shown.log.map((line, i) => <li key={i} class={`log-${line.level}`}><time>{inZone(line.at)}</time> {line.message}</li>)}
      </ol>
    </Section>
  );
}

const KINDS: JobKind[] = ['BACKUP', 'RESTORE', 'VERIFY', 'EXPORT', 'REPLICATE', 'PRUNE', 'CHECK'];
const STATUSES: JobStatus[] = ['QUEUED', 'RUNNING', 'CANCELLING', 'COMPLETED', 'FAILED', 'CANCELLED', 'SKIPPED'];

function JobList() {
  const [kind, setKind] = useState('');
  const [status, setStatus] = useState('');
  const [after, setAfter] = useState<string[]>([]);
  const variables: JobsVariables = { first: 50, after: after[after.length - 1] ?? null, filter: { kind: kind ? [kind as JobKind] : null, status: status ? [status as JobStatus] : null } };
  const jobs = useQuery(Jobs, variables, JSON.stringify(variables), 5_000);
  const page = jobs.data?.jobPage;
  return (
    <Section title={`Jobs${page ? ` (${page.totalCount})` : ''}`}>
      <div class="grid filters" role="search">
        <div class="field"><label for="job-kind">Kind</label><select id="job-kind" value={kind} onChange={(e) => { setAfter([]); setKind(e.currentTarget.value); }}><option value="">all</option>{KINDS.map((k) => <option key={k} value={k}>{k.toLowerCase()}</option>)}</select></div>
        <div class="field"><label for="job-status">Status</label><select id="job-status" value={status} onChange={(e) => { setAfter([]); setStatus(e.currentTarget.value); }}><option value="">all</option>{STATUSES.map((s) => <option key={s} value={s}>{s.toLowerCase()}</option>)}</select></div>
      </div>
      <ErrorNote error={jobs.error} />
      {page ? (
        <>
          <div class="table-wrap">
            <table>
              <thead><tr><th>Job</th><th>Status</th><th>Created</th><th>Progress</th><th>Error</th></tr></thead>
              <tbody>
                {page.nodes.map((j) => (
                  <tr key={j.id}>
                    <td><a href={`#/jobs/${j.id}`}>{j.kind.toLowerCase()} {j.id.slice(0, 8)}</a></td>
                    <td><Status value={j.status} /></td>
                    <td>{inZone(j.createdAt)}</td>
                    <td>{j.progress ? <Progress done={j.progress.done} total={j.progress.total} unit={j.progress.unit} /> : '—'}</td>
                    <td class="failure-text">{j.error}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager after={after} setAfter={setAfter} pageInfo={page.pageInfo} />
        </>
      ) : <p>Loading…</p>}
    </Section>
  );
}

export function JobsPage({ route }: { route: string[] }) {
  return route[1] ? <JobView id={route[1]} /> : <JobList />;
}

export function AuditPage() {
  const [after, setAfter] = useState<string[]>([]);
  const audit = useQuery(Audit, { first: 50, after: after[after.length - 1] ?? null }, after.join(','));
  const page = audit.data?.auditEvents;
  return (
    <Section title="Audit">
      <ErrorNote error={audit.error} />
      {page ? (
        <>
          <div class="table-wrap">
            <table>
              <thead><tr><th>When</th><th>Who</th><th>What</th><th>Subject</th><th>Outcome</th><th>From</th></tr></thead>
              <tbody>
                {page.nodes.map((e) => (
                  <tr key={e.id}>
                    <td>{inZone(e.at)}</td>
                    <td>{e.actor}</td>
                    <td>{e.action}</td>
                    <td>{e.subjectType} {e.subjectId?.slice(0, 8)}</td>
                    <td>{e.outcome ? <Status value={e.outcome} /> : '—'}</td>
                    <td>{e.remoteAddress ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager after={after} setAfter={setAfter} pageInfo={page.pageInfo} />
        </>
      ) : <p>Loading…</p>}
    </Section>
  );
}
