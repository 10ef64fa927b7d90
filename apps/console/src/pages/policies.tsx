/**
 * Policies: what is backed up, when and where. The form previews the next fires in the chosen
 * time zone (a daylight-saving change shows as a changed offset, marked), and the list runs,
 * pauses, resumes and previews retention (a dry run: what would be kept, and why).
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, call } from '../api';
import {
  Catalog, CreatePolicy, PausePolicy, Policies, ResumePolicy, RetentionDryRun, RunBackup, SchedulePreview, UpdatePolicy,
  type CatalogResult, type PoliciesResult, type RetentionDryRunResult, type RetentionInput, type SchedulePreset,
} from '../graphql/generated';
import { SchemaForm, cleanValue, fieldErrors, type FormValue, type JsonSchema } from '../schema-form';
import { ErrorNote, Section, go, inZone, offsetAt, useAction, useQuery } from '../ui';

type PolicyRow = PoliciesResult['policies'][number];
const PRESETS: SchedulePreset[] = ['HOURLY', 'DAILY', 'TWICE_DAILY', 'THREE_TIMES_DAILY', 'FOUR_TIMES_DAILY'];
const KEEP = ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'] as const;
const ZONES: string[] = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.('timeZone') ?? ['UTC', 'Europe/Berlin'];

/** The next fires of a schedule as typed, read again a moment after each change. */
function SchedulePreviewList({ cron, preset, timeZone }: { cron: string; preset: string; timeZone: string }) {
  const [state, setState] = useState<{ fires: string[]; error: ApiError | null }>({ fires: [], error: null });
  useEffect(() => {
    if (!cron.trim() && !preset) {
      setState({ fires: [], error: null });
      return;
    }
    const timer = setTimeout(() => {
      const schedule = preset ? { preset: preset as SchedulePreset, timeZone } : { cron, timeZone };
      call(SchedulePreview, { schedule, count: 8 }).then(
        (d) => setState({ fires: d.schedulePreview, error: null }),
        (error: ApiError) => setState({ fires: [], error }),
      );
    }, 250);
    return () => clearTimeout(timer);
  }, [cron, preset, timeZone]);
  if (state.error) return <p class="field-error" role="alert" id="schedule-error">{state.error.message}</p>;
  if (state.fires.length === 0) return <p class="hint">No schedule: the policy runs only when asked.</p>;
  return (
    <ol class="preview" aria-label="Next fires" data-testid="schedule-preview">
      {state.fires.map((fire, i) => {
        const offset = offsetAt(fire, timeZone);
        const before = i > 0 ? offsetAt(state.fires[i - 1], timeZone) : offset;
        return (
          <li key={fire}>
            {inZone(fire, timeZone)}
            {offset !== before ? <strong class="dst"> daylight-saving change: {before} → {offset}</strong> : null}
          </li>
        );
      })}
    </ol>
  );
}

const DAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'];
type Window = { days: string[]; start: string; end: string };

function PolicyForm({ catalog, editing, done }: { catalog: CatalogResult; editing: PolicyRow | null; done: (id?: string) => void }) {
  const [name, setName] = useState(editing?.name ?? '');
  const [nodeId, setNodeId] = useState(editing?.nodeId ?? catalog.nodes[0]?.id ?? '');
  const node = catalog.nodes.find((n) => n.id === nodeId);
  const plugin = catalog.plugins.find((p) => p.id === (editing?.plugin ?? node?.plugin));
  const [method, setMethod] = useState(editing?.method ?? plugin?.methods[0]?.name ?? '');
  const methodInfo = plugin?.methods.find((m) => m.name === method);
  const [options, setOptions] = useState<FormValue>((editing?.options as FormValue) ?? {});
  const [mode, setMode] = useState<'none' | 'preset' | 'cron'>(editing?.schedule ? (editing.schedule.preset ? 'preset' : 'cron') : 'cron');
  const [cron, setCron] = useState(editing?.schedule?.cron ?? '0 2 * * *');
  const [preset, setPreset] = useState<string>(editing?.schedule?.preset ?? 'DAILY');
  const [timeZone, setTimeZone] = useState(editing?.schedule?.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone);
  const [destinationIds, setDestinationIds] = useState<string[]>(editing?.destinationIds ?? catalog.destinations.slice(0, 1).map((d) => d.id));
  const [windows, setWindows] = useState<Window[]>(editing?.maintenanceWindows.map((w) => ({ days: [...w.days], start: w.start, end: w.end })) ?? []);
  const [outsideWindow, setOutsideWindow] = useState(editing?.schedule?.outsideWindow ?? 'WAIT');
  const [retention, setRetention] = useState<Record<string, string>>(
    Object.fromEntries(KEEP.map((k) => [k, editing?.retention[k] != null ? String(editing.retention[k]) : ''])),
  );
  const action = useAction();

  const submit = async (event: Event) => {
    event.preventDefault();
    const when = windows.length ? { outsideWindow } : {};
    const schedule = mode === 'none' ? null : mode === 'preset' ? { preset: preset as SchedulePreset, timeZone, ...when } : { cron, timeZone, ...when };
    const keep: RetentionInput = Object.fromEntries(KEEP.filter((k) => retention[k] !== '').map((k) => [k, Number(retention[k])]));
    const optionsSchema = (methodInfo?.optionsSchema ?? {}) as JsonSchema;
    const input = { name, schedule, destinationIds, retention: keep, options: cleanValue(optionsSchema, options), maintenanceWindows: windows };
    const saved = await action.run(async () =>
      editing ? (await call(UpdatePolicy, { id: editing.id, input })).updatePolicy : (await call(CreatePolicy, { input: { ...input, nodeId, method } })).createPolicy,
    );
    if (saved) done(saved.id);
  };
  const optionErrors = action.error?.code === 'BAD_USER_INPUT' ? fieldErrors(action.error.message, 'options') : new Map<string, string>();

  return (
    <form class="panel" onSubmit={submit} aria-label={editing ? `Edit policy ${editing.name}` : 'New policy'}>
      <h3>{editing ? `Edit ${editing.name}` : 'New policy'}</h3>
      <div class="grid">
        <div class="field"><label for="policy-name">Name</label><input id="policy-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} /></div>
        <div class="field">
          <label for="policy-node">Node</label>
          <select id="policy-node" value={nodeId} disabled={!!editing} onChange={(e) => { setNodeId(e.currentTarget.value); setMethod(''); }}>
            {catalog.nodes.map((n) => <option key={n.id} value={n.id}>{n.name} ({n.plugin})</option>)}
          </select>
        </div>
        <div class="field">
          <label for="policy-method">Method</label>
          <select id="policy-method" value={method} disabled={!!editing} onChange={(e) => setMethod(e.currentTarget.value)}>
            <option value="">choose…</option>
            {plugin?.methods.map((m) => <option key={m.name} value={m.name}>{m.name}</option>)}
          </select>
          {methodInfo ? <small>{methodInfo.description}</small> : null}
        </div>
      </div>
      {methodInfo ? (
        <>
          <h4>Options</h4>
          <SchemaForm id="policy-options" schema={methodInfo.optionsSchema as JsonSchema} value={options} onChange={setOptions} errors={optionErrors} />
        </>
      ) : null}
      <h4>Schedule</h4>
      <div class="grid">
        <div class="field">
          <label for="policy-schedule-mode">Runs</label>
          <select id="policy-schedule-mode" value={mode} onChange={(e) => setMode(e.currentTarget.value as typeof mode)}>
            <option value="cron">on a cron expression</option>
            <option value="preset">on a preset</option>
            <option value="none">only when asked</option>
          </select>
        </div>
        {mode === 'cron' ? (
          <div class="field"><label for="policy-cron">Cron</label><input id="policy-cron" value={cron} onInput={(e) => setCron(e.currentTarget.value)} /><small>minute hour day month weekday, such as 0 2 * * *</small></div>
        ) : null}
        {mode === 'preset' ? (
          <div class="field">
            <label for="policy-preset">Preset</label>
            <select id="policy-preset" value={preset} onChange={(e) => setPreset(e.currentTarget.value)}>
              {PRESETS.map((p) => <option key={p} value={p}>{p.toLowerCase().replace(/_/g, ' ')}</option>)}
            </select>
          </div>
        ) : null}
        {mode !== 'none' ? (
          <div class="field">
            <label for="policy-zone">Time zone</label>
            <input id="policy-zone" list="zones" value={timeZone} onInput={(e) => setTimeZone(e.currentTarget.value)} />
            <datalist id="zones">{ZONES.map((z) => <option key={z} value={z} />)}</datalist>
          </div>
        ) : null}
      </div>
      {mode !== 'none' ? <SchedulePreviewList cron={mode === 'cron' ? cron : ''} preset={mode === 'preset' ? preset : ''} timeZone={timeZone} /> : null}
      <h4>Maintenance windows</h4>
      <p class="hint">Jobs of the policy start only inside one of these, in the schedule's time zone{windows.length ? '' : '; with none, at any time'}.</p>
      {windows.map((w, i) => {
        const change = (next: Partial<Window>) => setWindows(windows.map((x, j) => (j === i ? { ...x, ...next } : x)));
        return (
          <fieldset key={i} class="window" aria-label={`Maintenance window ${i + 1}`}>
            <legend>Window {i + 1}</legend>
            <div class="checks">
              {DAYS.map((d) => (
                <label key={d}>
                  <input type="checkbox" checked={w.days.includes(d)} onChange={(e) => change({ days: e.currentTarget.checked ? DAYS.filter((x) => x === d || w.days.includes(x)) : w.days.filter((x) => x !== d) })} /> {d}
                </label>
              ))}
            </div>
            <div class="grid">
              <div class="field"><label for={`window-${i}-start`}>From</label><input id={`window-${i}-start`} type="time" value={w.start} onInput={(e) => change({ start: e.currentTarget.value })} /></div>
              <div class="field"><label for={`window-${i}-end`}>To</label><input id={`window-${i}-end`} type="time" value={w.end} onInput={(e) => change({ end: e.currentTarget.value })} /><small>at or before From: it runs past midnight</small></div>
            </div>
            <button type="button" class="secondary" onClick={() => setWindows(windows.filter((_, j) => j !== i))}>Remove window {i + 1}</button>
          </fieldset>
        );
      })}
      <div class="actions">
        <button type="button" class="secondary" onClick={() => setWindows([...windows, { days: ['SAT', 'SUN'], start: '01:00', end: '05:00' }])}>Add a window</button>
        {windows.length ? (
          <div class="field">
            <label for="policy-outside-window">A run due outside every window</label>
            <select id="policy-outside-window" value={outsideWindow} onChange={(e) => setOutsideWindow(e.currentTarget.value)}>
              <option value="WAIT">waits for the next window</option>
              <option value="SKIP">is skipped</option>
            </select>
          </div>
        ) : null}
      </div>
      <h4>Destinations</h4>
      <div class="checks">
        {catalog.destinations.map((d) => (
          <label key={d.id}>
            <input type="checkbox" checked={destinationIds.includes(d.id)} onChange={(e) => setDestinationIds(e.currentTarget.checked ? [...destinationIds, d.id] : destinationIds.filter((x) => x !== d.id))} /> {d.name} ({d.kind})
          </label>
        ))}
      </div>
      <h4>Retention</h4>
      <div class="grid">
        {KEEP.map((k) => (
          <div class="field" key={k}>
            <label for={`policy-${k}`}>{k.replace('keep', 'keep ').toLowerCase()}</label>
            <input id={`policy-${k}`} type="number" min={0} step={1} value={retention[k]} onInput={(e) => setRetention({ ...retention, [k]: e.currentTarget.value })} />
          </div>
        ))}
      </div>
      {optionErrors.size === 0 ? <ErrorNote error={action.error} /> : null}
      <div class="actions">
        <button type="submit" disabled={action.busy}>{editing ? 'Save policy' : 'Create policy'}</button>
        <button type="button" class="secondary" onClick={() => done()}>Cancel</button>
      </div>
    </form>
  );
}

function RetentionPreview({ result }: { result: RetentionDryRunResult['applyRetention'] }) {
  return (
    <div class="panel" data-testid="retention-preview">
      <h4>Retention dry run: {result.kept.length} kept, {result.deleted.length} would be deleted</h4>
      <ul>
        {result.kept.map((d) => <li key={d.backupId}>keep {inZone(d.createdAt)}: {d.reasons.join(', ')}</li>)}
        {result.deleted.map((d) => <li key={d.backupId} class="failure-text">delete {inZone(d.createdAt)}: {d.reasons.join(', ') || 'no rule keeps it'}</li>)}
      </ul>
    </div>
  );
}

export function PoliciesPage({ route }: { route: string[] }) {
  const policies = useQuery(Policies, {}, 'policies');
  const catalog = useQuery(Catalog, {}, 'catalog');
  const action = useAction();
  const [dryRun, setDryRun] = useState<{ id: string; result: RetentionDryRunResult['applyRetention'] } | null>(null);
  const [message, setMessage] = useState('');
  if (!policies.data || !catalog.data) return policies.error || catalog.error ? <ErrorNote error={policies.error ?? catalog.error} /> : <p>Loading…</p>;
  const selected = route[1];
  const editing = selected && selected !== 'new' ? policies.data.policies.find((p) => p.id === selected) ?? null : null;
  const nodeNames = new Map(catalog.data.nodes.map((n) => [n.id, n.name]));
  const done = (id?: string) => {
    policies.reload();
    if (id) setMessage('Policy saved.');
    go('policies');
  };

  return (
    <div>
      {selected === 'new' ? <PolicyForm catalog={catalog.data} editing={null} done={done} /> : null}
      {editing ? <PolicyForm key={editing.id} catalog={catalog.data} editing={editing} done={done} /> : null}
      {message ? <p class="ok" role="status">{message}</p> : null}
      <ErrorNote error={action.error} />
      <Section title={`Policies (${policies.data.policies.length})`} actions={<a class="button" href="#/policies/new">New policy</a>}>
        <div class="table-wrap">
          <table>
            <thead><tr><th>Policy</th><th>Node</th><th>Schedule</th><th>Next fires</th><th /></tr></thead>
            <tbody>
              {policies.data.policies.map((p) => (
                <tr key={p.id} data-policy={p.name}>
                  <td><a href={`#/policies/${p.id}`}>{p.name}</a><div class="hint">{p.plugin} · {p.method}{p.enabled ? '' : ' · paused'}</div></td>
                  <td>{p.nodeId ? nodeNames.get(p.nodeId) ?? '—' : 'whole network'}</td>
                  <td>
                    {p.schedule ? `${p.schedule.cron ?? p.schedule.preset} (${p.schedule.timeZone})` : 'only when asked'}
                    {p.maintenanceWindows.length ? <div class="hint">in {p.maintenanceWindows.map((w) => `${w.days.join(',')} ${w.start}–${w.end}`).join('; ')}{p.schedule?.outsideWindow === 'SKIP' ? ', else skipped' : ''}</div> : null}
                  </td>
                  <td>{p.nextFireTimes.slice(0, 2).map((f) => <div key={f}>{inZone(f, p.schedule?.timeZone)}</div>)}</td>
                  <td class="row-actions">
                    <button onClick={async () => { const r = await action.run(() => call(RunBackup, { policyId: p.id })); if (r) go('jobs', r.runBackup.id); }}>Run now</button>
                    {p.enabled
                      ? <button class="secondary" onClick={async () => { if (await action.run(() => call(PausePolicy, { id: p.id }))) policies.reload(); }}>Pause</button>
                      : <button class="secondary" onClick={async () => { if (await action.run(() => call(ResumePolicy, { id: p.id }))) policies.reload(); }}>Resume</button>}
                    <button class="secondary" onClick={async () => { const r = await action.run(() => call(RetentionDryRun, { policyId: p.id })); if (r) setDryRun({ id: p.id, result: r.applyRetention }); }}>Retention dry run</button>
                    <a class="button secondary" href={`#/backups/by-policy/${p.id}`}>Backups</a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Section>
      {dryRun ? <RetentionPreview result={dryRun.result} /> : null}
    </div>
  );
}
