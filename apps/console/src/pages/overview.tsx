/**
 * What is protected and what is failing, at a glance: every policy with its last success, last
 * failure and next fire (in its own time zone), failing ones first; running jobs with their
 * live progress; the destinations backups go to, with what they hold and their last check.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { subscribe } from '../api';
import { JobProgress, Overview, OverviewDestinations, type OverviewResult } from '../graphql/generated';
import { ErrorNote, Progress, Section, Status, bytes, inZone, useQuery } from '../ui';

type PolicyRow = OverviewResult['policies'][number];
type Health = 'red' | 'amber' | 'green';

/** Red: the newest run failed. Amber: paused, or never succeeded yet. Green: the newest run succeeded. */
export function health(p: PolicyRow): { state: Health; why: string } {
  const success = p.lastSuccess?.at ?? '';
  const failure = p.lastFailure?.at ?? '';
  if (failure && failure > success) return { state: 'red', why: 'the last run failed' };
  if (!p.enabled) return { state: 'amber', why: 'paused' };
  if (!success) return { state: 'amber', why: 'no backup yet' };
  return { state: 'green', why: 'the last run succeeded' };
}

const ORDER: Record<Health, number> = { red: 0, amber: 1, green: 2 };

type LiveJob = OverviewResult['jobs'][number];

/** The destinations with what they hold and their last check. */
function Destinations() {
  const destinations = useQuery(OverviewDestinations, {}, 'overview-destinations', 60_000);
  const list = destinations.data?.destinations;
  return (
    <Section title={`Destinations${list ? ` (${list.length})` : ''}`}>
      <ErrorNote error={destinations.error} />
      <ul class="cards">
        {list?.map((d) => (
          <li key={d.id} data-destination={d.name}>
            <strong>{d.name}</strong> <span class="hint">{d.kind}</span>
            <div class="hint">{typeof (d.config as { path?: string })?.path === 'string' ? (d.config as { path: string }).path : (d.config as { bucket?: string })?.bucket ?? ''}</div>
            <div>{d.usage.backups} {d.usage.backups === 1 ? 'backup' : 'backups'}, {bytes(d.usage.storedBytes)} stored</div>
            <div class={d.usage.lastCheck?.status === 'FAILED' ? 'failure-text' : 'hint'}>
              {d.usage.lastCheck ? `last check ${inZone(d.usage.lastCheck.at)}: ${d.usage.lastCheck.status.toLowerCase()}${d.usage.lastCheck.error ? ` (${d.usage.lastCheck.error})` : ''}` : 'never checked'}
            </div>
          </li>
        )) ?? <li>Loading…</li>}
      </ul>
    </Section>
  );
}

export function OverviewPage() {
  // Read again every 15 s; running jobs are followed live in between.
  const overview = useQuery(Overview, {}, 'overview', 15_000);
  const [live, setLive] = useState<Record<string, LiveJob>>({});
  const data = overview.data;

  const rows = useMemo(() => {
    if (!data) return [];
    return data.policies.map((p) => ({ p, h: health(p) })).sort((a, b) => ORDER[a.h.state] - ORDER[b.h.state] || a.p.name.localeCompare(b.p.name));
  }, [data]);
  const nodeNames = useMemo(() => new Map((data?.nodes ?? []).map((n) => [n.id, n.name])), [data]);
  const policyNames = useMemo(() => new Map((data?.policies ?? []).map((p) => [p.id, p.name])), [data]);

  // Each running job is followed live until it ends; then the overview is read again.
  const runningIds = (data?.jobs ?? []).map((j) => j.id).slice(0, 20).join(',');
  useEffect(() => {
    if (!runningIds) return;
    const stops = runningIds.split(',').map((jobId) =>
      subscribe(JobProgress, { jobId }, {
        next: (d) => setLive((all) => ({ ...all, [jobId]: d.jobProgress })),
        complete: () => overview.reload(),
      }),
    );
    return () => stops.forEach((stop) => stop());
  }, [runningIds]);

  // Marks for the browser test's timing: the answer arrived, then its rows are in the page.
  if (data && performance.getEntriesByName('overview-data').length === 0) performance.mark('overview-data');
  useEffect(() => {
    if (data && performance.getEntriesByName('overview-rendered').length === 0) performance.mark('overview-rendered');
  }, [data]);

  if (!data) return overview.error ? <ErrorNote error={overview.error} /> : <p>Loading…</p>;
  const counts = { red: 0, amber: 0, green: 0 };
  for (const r of rows) counts[r.h.state]++;
  const jobs = data.jobs.map((j) => live[j.id] ?? j);

  return (
    <div>
      <ErrorNote error={overview.error} />
      <p class="summary" data-testid="health-summary">
        <span class="dot red" /> {counts.red} failing · <span class="dot amber" /> {counts.amber} need a look · <span class="dot green" /> {counts.green} healthy
      </p>
      <Section title={`Running jobs (${jobs.length})`}>
        {jobs.length === 0 ? (
          <p class="hint">No job is running.</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr><th>Job</th><th>Policy</th><th>Status</th><th>Progress</th></tr>
              </thead>
              <tbody>
                {jobs.map((j) => (
                  <tr key={j.id} data-job={j.id}>
                    <td><a href={`#/jobs/${j.id}`}>{j.kind.toLowerCase()} {j.id.slice(0, 8)}</a></td>
                    <td>{j.policyId ? policyNames.get(j.policyId) ?? j.policyId : '—'}</td>
                    <td><Status value={j.status} /></td>
                    <td>{j.progress ? <Progress done={j.progress.done} total={j.progress.total} unit={j.progress.unit} /> : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
      <Section title={`Policies (${rows.length})`} actions={<a class="button" href="#/policies/new">New policy</a>}>
        {/* A grid of rows rather than a <table>: rows off the screen skip layout and paint (content-visibility), so thousands of policies show at once. */}
        <div class="table-wrap">
          <div class="overview" role="table" aria-label="Policies, failing first" data-testid="overview-policies">
            <div class="orow ohead" role="row">
              {['State', 'Policy', 'Node', 'Last success', 'Last failure', 'Next fire'].map((h) => <span role="columnheader" key={h}>{h}</span>)}
            </div>
            {rows.map(({ p, h }) => (
              <div role="row" key={p.id} class={`orow health-${h.state}`} data-policy={p.name} data-health={h.state}>
                <span role="cell" class={`state ${h.state}`}>{h.why}</span>
                <span role="cell"><a href={`#/policies/${p.id}`}>{p.name}</a><small>{p.plugin} · {p.method}</small></span>
                <span role="cell" data-label="Node">{p.nodeId ? nodeNames.get(p.nodeId) ?? '—' : 'whole network'}</span>
                <span role="cell" data-label="Last success">{p.lastSuccess ? <a href={`#/backups/${p.lastSuccess.backupId}`}>{inZone(p.lastSuccess.at, p.schedule?.timeZone)}</a> : '—'}</span>
                <span role="cell" data-label="Last failure">
                  {p.lastFailure ? (
                    <>
                      <a href={`#/jobs/${p.lastFailure.jobId}`}>{inZone(p.lastFailure.at, p.schedule?.timeZone)}</a>
                      <span class="failure-text">{p.lastFailure.error}</span>
                    </>
                  ) : '—'}
                </span>
                <span role="cell" data-label="Next fire">{p.enabled ? inZone(p.nextFireTimes[0], p.schedule?.timeZone) : 'paused'}{p.schedule ? <small>{p.schedule.timeZone}</small> : null}</span>
              </div>
            ))}
          </div>
        </div>
      </Section>
      <Destinations />
    </div>
  );
}
