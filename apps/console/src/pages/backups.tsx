/**
 * Backups: a filtered list, the details of one (files, copies, verification, dependencies),
 * its actions (verify, pin, delete, export) and the restore wizard, which ends on the live job.
 */
import { useEffect, useState } from 'preact/hooks';
import { call } from '../api';
import {
  BackupDetail, Backups, Catalog, ResourceVersions, RestorePhases, DeleteBackup, ExportBackup, PinBackup, RestoreBackup, VerifyBackup,
  type BackupStatus, type BackupsVariables, type CatalogResult, type BackupDetailResult,
} from '../graphql/generated';
import { SchemaForm, cleanValue, fieldErrors, type FormValue, type JsonSchema } from '../schema-form';
import { ErrorNote, Pager, Section, Status, bytes, go, inZone, useAction, useQuery } from '../ui';

const STATUSES: BackupStatus[] = ['COMPLETED', 'PARTIAL', 'FAILED', 'RUNNING', 'DELETED'];
const PAGE = 50;

/** Midnight at the start of `day` (YYYY-MM-DD) plus `plusDays`, in the browser's time zone, as an ISO instant. */
function dayStart(day: string, plusDays: number): string {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y, m - 1, d + plusDays).toISOString();
}

/** A block height typed in the filter, or null when it is not one (the field then says so). */
function blockHeight(text: string | undefined): number | null {
  if (!text || !/^\d+$/.test(text.trim())) return null;
  const n = Number(text.trim());
  return Number.isSafeInteger(n) ? n : null;
}

function BackupList({ catalog, initialPolicy }: { catalog: CatalogResult; initialPolicy?: string }) {
  const [filter, setFilter] = useState<{ networkId?: string; nodeId?: string; policyId?: string; status?: string; from?: string; to?: string; block?: string }>({ policyId: initialPolicy });
  const [after, setAfter] = useState<string[]>([]);
  const variables: BackupsVariables = {
    first: PAGE,
    after: after[after.length - 1] ?? null,
    filter: {
      networkId: filter.networkId || null,
      nodeId: filter.nodeId || null,
      policyId: filter.policyId || null,
      status: filter.status ? [filter.status as BackupStatus] : null,
      // Days in the browser's time zone: from the start of the first to the end of the last.
      since: filter.from ? dayStart(filter.from, 0) : null,
      until: filter.to ? dayStart(filter.to, 1) : null,
      block: blockHeight(filter.block),
    },
  };
  const backups = useQuery(Backups, variables, JSON.stringify(variables));
  const nodeNames = new Map(catalog.nodes.map((n) => [n.id, n.name]));
  const set = (key: keyof typeof filter) => (e: Event) => {
    setAfter([]);
    setFilter({ ...filter, [key]: (e.currentTarget as HTMLSelectElement | HTMLInputElement).value || undefined });
  };
  const badBlock = filter.block !== undefined && blockHeight(filter.block) === null;
  const page = backups.data?.backups;
  const network = catalog.networks.find((n) => n.id === filter.networkId);
  return (
    <>
    {network?.protocol === 'fabric' ? <ResourceVersionList networkId={network.id} /> : null}
    <Section title={`Backups${page ? ` (${page.totalCount})` : ''}`}>
      <div class="grid filters" role="search">
        <div class="field"><label for="filter-network">Network</label>
          <select id="filter-network" value={filter.networkId ?? ''} onChange={set('networkId')}><option value="">all</option>{catalog.networks.map((n) => <option key={n.id} value={n.id}>{n.name}</option>)}</select></div>
        <div class="field"><label for="filter-node">Node</label>
          <select id="filter-node" value={filter.nodeId ?? ''} onChange={set('nodeId')}><option value="">all</option>{catalog.nodes.map((n) => <option key={n.id} value={n.id}>{n.name}</option>)}</select></div>
        <div class="field"><label for="filter-status">Status</label>
          <select id="filter-status" value={filter.status ?? ''} onChange={set('status')}><option value="">all</option>{STATUSES.map((s) => <option key={s} value={s}>{s.toLowerCase()}</option>)}</select></div>
        <div class="field"><label for="filter-from">From</label>
          <input id="filter-from" type="date" value={filter.from ?? ''} onChange={set('from')} /></div>
        <div class="field"><label for="filter-to">To</label>
          <input id="filter-to" type="date" value={filter.to ?? ''} onChange={set('to')} /></div>
        <div class="field"><label for="filter-block">Holding block</label>
          <input id="filter-block" inputMode="numeric" value={filter.block ?? ''} placeholder="height" aria-invalid={badBlock} aria-describedby={badBlock ? 'filter-block-error' : undefined} onChange={set('block')} />
          {badBlock ? <span id="filter-block-error" class="field-error">a block height is a whole number from 0</span> : null}</div>
        {filter.policyId ? <div class="field"><span>Policy</span><button class="secondary" onClick={() => setFilter({ ...filter, policyId: undefined })}>{filter.policyId.slice(0, 8)} ×</button></div> : null}
      </div>
      <ErrorNote error={backups.error} />
      {page ? (
        <>
          <div class="table-wrap">
            <table>
              <thead><tr><th>Created</th><th>Node</th><th>Method</th><th>Status</th><th>Blocks</th><th>Size</th><th>Files</th><th>Verification</th></tr></thead>
              <tbody>
                {page.nodes.map((b) => (
                  <tr key={b.id}>
                    <td><a href={`#/backups/${b.id}`}>{inZone(b.createdAt)}</a>{b.pinned ? <span class="badge">pinned</span> : null}</td>
                    <td>{b.nodeId ? nodeNames.get(b.nodeId) ?? b.nodeId.slice(0, 8) : 'network'}</td>
                    <td>{b.plugin} · {b.method}</td>
                    <td><Status value={b.status} /></td>
                    <td>{b.lastBlock !== null ? `${b.firstBlock}–${b.lastBlock}` : '—'}</td>
                    <td>{bytes(b.logicalSize)} <span class="hint">({bytes(b.storedSize)} stored)</span></td>
                    <td>{b.fileCount}</td>
                    <td><Status value={b.verification} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager after={after} setAfter={setAfter} pageInfo={page.pageInfo} />
        </>
      ) : <p>Loading…</p>}
    </Section>
    </>
  );
}

/**
 * A Fabric network's backups as versions of each resource (peer, orderer, CA, MSP …), newest
 * first, as fabric-console shows them: pick the version of a resource, then restore it.
 */
function ResourceVersionList({ networkId }: { networkId: string }) {
  const versions = useQuery(ResourceVersions, { networkId }, networkId);
  const page = versions.data?.backups;
  if (!page) return versions.error ? <ErrorNote error={versions.error} /> : null;
  const byResource = new Map<string, { role: string; backups: typeof page.nodes }>();
  for (const backup of page.nodes) {
    const resources = (backup.metadata as { resources?: { name?: unknown; role?: unknown }[] } | null)?.resources ?? [];
    for (const r of resources) {
      if (typeof r?.name !== 'string') continue;
      const entry = byResource.get(r.name) ?? { role: String(r.role ?? ''), backups: [] };
      entry.backups.push(backup);
      byResource.set(r.name, entry);
    }
  }
  return (
    <Section title={`Versions by resource${page.totalCount > page.nodes.length ? ` (newest ${page.nodes.length} backups)` : ''}`}>
      {byResource.size === 0 ? <p class="hint">No completed backup of this network names a resource yet.</p> : (
        <div class="table-wrap">
          <table aria-label="Versions by resource">
            <thead><tr><th>Resource</th><th>Role</th><th>Versions</th><th>Newest</th></tr></thead>
            <tbody>
              {[...byResource.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, { role, backups }]) => (
                <tr key={name}>
                  <td>{name}</td>
                  <td>{role}</td>
                  <td>
                    <ul class="versions">
                      {backups.map((v) => <li key={v.id}><a href={`#/backups/${v.id}`}>{inZone(v.createdAt)}</a> <Status value={v.verification} /> <a href={`#/restore/${v.id}`}>restore</a></li>)}
                    </ul>
                  </td>
                  <td>{inZone(backups[0].createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}

type Detail = NonNullable<BackupDetailResult['backup']>;

function BackupView({ id, catalog }: { id: string; catalog: CatalogResult }) {
  const detail = useQuery(BackupDetail, { id }, id);
  const action = useAction();
  const [exportPath, setExportPath] = useState('');
  const b: Detail | null | undefined = detail.data?.backup;
  if (!detail.data) return detail.error ? <ErrorNote error={detail.error} /> : <p>Loading…</p>;
  if (!b) return <p class="error">No backup {id}.</p>;
  const destinations = new Map(catalog.destinations.map((d) => [d.id, d.name]));
  return (
    <div>
      <Section title={`Backup ${b.id.slice(0, 8)}`} actions={<a class="button" href={`#/restore/${b.id}`}>Restore…</a>}>
        <dl class="facts">
          <dt>Status</dt><dd><Status value={b.status} /></dd>
          <dt>Created</dt><dd>{inZone(b.createdAt)}</dd>
          <dt>Method</dt><dd>{b.plugin} · {b.method}</dd>
          <dt>Size</dt><dd>{bytes(b.logicalSize)} in {b.fileCount} files ({bytes(b.storedSize)} stored)</dd>
          {b.lastBlock !== null ? <><dt>Blocks</dt><dd>{b.firstBlock} to {b.lastBlock}</dd></> : null}
          <dt>Destination</dt><dd>{destinations.get(b.destinationId) ?? b.destinationId}</dd>
          <dt>Verification</dt><dd><Status value={b.verification} /> {b.verifiedAt ? inZone(b.verifiedAt) : ''} {b.verificationProblems.join('; ')}</dd>
          <dt>Depends on</dt><dd>{b.dependsOn.length ? b.dependsOn.map((d) => <a key={d} href={`#/backups/${d}`}>{d.slice(0, 8)} </a>) : 'nothing'}</dd>
          <dt>Pinned</dt><dd>{b.pinned ? 'yes: retention keeps it' : 'no'}</dd>
        </dl>
        <div class="actions">
          <button onClick={async () => { const r = await action.run(() => call(VerifyBackup, { backupId: b.id })); if (r) go('jobs', r.verifyBackup.id); }}>Verify</button>
          <button class="secondary" onClick={async () => { if (await action.run(() => call(PinBackup, { id: b.id, pinned: !b.pinned }))) detail.reload(); }}>{b.pinned ? 'Unpin' : 'Pin'}</button>
          <button class="danger" onClick={async () => { if (confirm('Delete this backup? Its data is freed by the next prune.') && (await action.run(() => call(DeleteBackup, { id: b.id })))) go('backups'); }}>Delete</button>
        </div>
        <form class="inline" onSubmit={async (e) => { e.preventDefault(); const r = await action.run(() => call(ExportBackup, { backupId: b.id, path: exportPath })); if (r) go('jobs', r.exportBackup.id); }}>
          <label for="export-path">Export to folder</label>
          <input id="export-path" value={exportPath} placeholder="/path/under/a/restore/root" onInput={(e) => setExportPath(e.currentTarget.value)} />
          <button type="submit" class="secondary">Export</button>
        </form>
        <ErrorNote error={action.error} />
      </Section>
      <Section title="Copies">
        {b.replicas.length === 0 ? <p class="hint">No copy in another destination.</p> : (
          <ul>{b.replicas.map((r) => <li key={r.destinationId}>{destinations.get(r.destinationId) ?? r.destinationId}: <Status value={r.state} /> {inZone(r.updatedAt)} {r.error}</li>)}</ul>
        )}
      </Section>
      <ChainHistory metadata={b.metadata} />
      <Section title="Restores">
        {detail.data.restores.length === 0 ? <p class="hint">Never restored.</p> : (
          <ul>{detail.data.restores.map((r) => <li key={r.id}><Status value={r.status} /> {inZone(r.createdAt)} → {r.targetNodeId ?? JSON.stringify(r.targetConfig)} {r.error}</li>)}</ul>
        )}
      </Section>
      <Section title={`Files (${b.fileCount}${b.fileCount > b.files.length ? `, first ${b.files.length}` : ''})`}>
        <div class="table-wrap">
          <table>
            <thead><tr><th>Path</th><th>Type</th><th>Size</th></tr></thead>
            <tbody>{b.files.map((f) => <tr key={f.path}><td><code>{f.path}</code></td><td>{f.type}</td><td>{bytes(f.size)}</td></tr>)}</tbody>
          </table>
        </div>
      </Section>
      {Object.keys((b.metadata as object) ?? {}).length ? <Section title="Metadata"><pre>{JSON.stringify(b.metadata, null, 2)}</pre></Section> : null}
    </div>
  );
}

interface Segment {
  file: string;
  date?: string;
  start_block: { block: number; hash?: string };
  end_block: { block: number; hash?: string };
}

/**
 * The chain history a chain-data backup records (its metadata's `history`, DESIGN §7.1): one bar
 * per file, as wide as the blocks it covers, and the files with their ranges and end hashes.
 */
function ChainHistory({ metadata }: { metadata: unknown }) {
  const history = (metadata as { history?: unknown } | null)?.history;
  if (!Array.isArray(history)) return null;
  const segments = (history as Segment[]).filter((s) => Number.isFinite(s?.start_block?.block) && Number.isFinite(s?.end_block?.block));
  if (segments.length === 0) return null;
  const first = segments[0].start_block.block;
  const last = segments[segments.length - 1].end_block.block;
  const span = Math.max(1, last - first + 1);
  return (
    <Section title={`Chain history: blocks ${first} to ${last} in ${segments.length} files`}>
      <div class="timeline" role="img" aria-label={`blocks ${first} to ${last}: ${segments.map((s) => `${s.start_block.block}–${s.end_block.block}`).join(', ')}`}>
        {segments.map((s) => (
          <span key={s.file} class="segment" style={{ flexGrow: s.end_block.block - s.start_block.block + 1, flexBasis: 0 }} title={`${s.file}: blocks ${s.start_block.block}–${s.end_block.block}`}>
            {(s.end_block.block - s.start_block.block + 1) / span > 0.08 ? `${s.start_block.block}–${s.end_block.block}` : ''}
          </span>
        ))}
      </div>
      <div class="table-wrap">
        <table>
          <thead><tr><th>File</th><th>Blocks</th><th>End hash</th></tr></thead>
          <tbody>{segments.map((s) => <tr key={s.file}><td><code>{s.file}</code></td><td>{s.start_block.block}–{s.end_block.block}</td><td><code>{s.end_block.hash ? `${s.end_block.hash.slice(0, 12)}…` : '—'}</code></td></tr>)}</tbody>
        </table>
      </div>
    </Section>
  );
}

/** Choose a version, a target (a registered node or a new config), options; confirm; then the live job. */
export function RestoreWizard({ backupId }: { backupId: string }) {
  const detail = useQuery(BackupDetail, { id: backupId }, backupId);
  const catalog = useQuery(Catalog, {}, 'catalog');
  const [step, setStep] = useState(1);
  const [target, setTarget] = useState<'config' | 'node' | 'set'>('config');
  const [targetNodeId, setTargetNodeId] = useState('');
  const [setIds, setSetIds] = useState<string[]>([]);
  const [phases, setPhases] = useState<{ name: string; nodeIds: string[] }[] | null>(null);
  const [targetConfig, setTargetConfig] = useState<FormValue>({});
  const [options, setOptions] = useState<FormValue>({});
  const action = useAction();
  const b = detail.data?.backup;
  // A restore set's phases, as the plugin orders them, shown before it starts.
  useEffect(() => {
    setPhases(null);
    if (step !== 4 || target !== 'set' || setIds.length === 0) return;
    void action.run(() => call(RestorePhases, { backupId, targetNodeIds: setIds })).then((r) => r && setPhases(r.restorePhases));
  }, [step, target, setIds.join(','), backupId]);
  if (!b || !catalog.data) return detail.error || catalog.error ? <ErrorNote error={detail.error ?? catalog.error} /> : <p>Loading…</p>;
  const method = catalog.data.plugins.find((p) => p.id === b.plugin)?.methods.find((m) => m.name === b.method);
  const targetSchema = (method?.restoreTargetSchema ?? { type: 'object', properties: {} }) as JsonSchema;
  const optionsSchema = (method?.restoreOptionsSchema ?? { type: 'object', properties: {} }) as JsonSchema;
  const sameKind = catalog.data.nodes.filter((n) => n.plugin === b.plugin);
  const nodeNames = new Map(catalog.data.nodes.map((n) => [n.id, n.name]));
  const errors = action.error?.code === 'BAD_USER_INPUT' ? fieldErrors(action.error.message, 'targetConfig') : new Map<string, string>();

  const start = async () => {
    const input = target === 'set'
      ? { backupId, targetNodeIds: setIds, options: cleanValue(optionsSchema, options) }
      : target === 'node'
        ? { backupId, targetNodeId, options: cleanValue(optionsSchema, options) }
        : { backupId, targetConfig: cleanValue(targetSchema, targetConfig), options: cleanValue(optionsSchema, options) };
    const job = await action.run(() => call(RestoreBackup, { input }));
    if (job) go('jobs', job.restoreBackup.id);
  };

  return (
    <div class="panel wizard" aria-label="Restore wizard">
      <h2>Restore backup {b.id.slice(0, 8)}</h2>
      <ol class="steps">
        {['Version', 'Target', 'Options', 'Confirm'].map((s, i) => <li key={s} class={step === i + 1 ? 'current' : ''} aria-current={step === i + 1 ? 'step' : undefined}>{s}</li>)}
      </ol>
      {step === 1 ? (
        <div>
          <p>Version: the backup of <strong>{inZone(b.createdAt)}</strong> ({b.plugin} · {b.method}, {b.fileCount} files, {bytes(b.logicalSize)}), <Status value={b.verification} />.</p>
          <p class="hint">To restore another version, open it from the <a href={`#/backups/by-policy/${b.policyId}`}>backups of its policy</a>.</p>
        </div>
      ) : null}
      {step === 2 ? (
        <div>
          <fieldset>
            <legend>Restore onto</legend>
            <label><input type="radio" name="target" checked={target === 'config'} onChange={() => setTarget('config')} /> a new location</label>
            <label><input type="radio" name="target" checked={target === 'node'} onChange={() => setTarget('node')} disabled={sameKind.length === 0} /> a registered node</label>
            {method?.phasedRestore ? <label><input type="radio" name="target" checked={target === 'set'} onChange={() => setTarget('set')} disabled={sameKind.length === 0} /> several registered nodes (a restore set, in phases)</label> : null}
          </fieldset>
          {target === 'set' ? (
            <fieldset>
              <legend>Nodes of the set</legend>
              {sameKind.map((n) => (
                <label key={n.id}>
                  <input type="checkbox" checked={setIds.includes(n.id)} onChange={(e) => setSetIds(e.currentTarget.checked ? [...setIds, n.id] : setIds.filter((id) => id !== n.id))} /> {n.name} <span class="hint">({n.role})</span>
                </label>
              ))}
            </fieldset>
          ) : target === 'node' ? (
            <div class="field">
              <label for="restore-node">Node</label>
              <select id="restore-node" value={targetNodeId} onChange={(e) => setTargetNodeId(e.currentTarget.value)}>
                <option value="">choose…</option>
                {sameKind.map((n) => <option key={n.id} value={n.id}>{n.name}</option>)}
              </select>
            </div>
          ) : (
            <SchemaForm id="restore-target" schema={targetSchema} value={targetConfig} onChange={setTargetConfig} errors={errors} />
          )}
        </div>
      ) : null}
      {step === 3 ? <SchemaForm id="restore-options" schema={optionsSchema} value={options} onChange={setOptions} /> : null}
      {step === 4 ? (
        <div>
          {target === 'set' ? (
            <div>
              <p>Restore the backup of {inZone(b.createdAt)} onto {setIds.length} nodes, in the phases the plugin orders:</p>
              {phases ? (
                <ol aria-label="Restore phases">
                  {phases.map((p) => <li key={p.name}><strong>{p.name}</strong>: {p.nodeIds.map((id) => nodeNames.get(id) ?? id).join(', ')}</li>)}
                </ol>
              ) : setIds.length === 0 ? <p class="error">Choose the nodes of the set.</p> : <p>Ordering…</p>}
            </div>
          ) : (
            <p>Restore the backup of {inZone(b.createdAt)} onto {target === 'node' ? `node ${catalog.data.nodes.find((n) => n.id === targetNodeId)?.name ?? '(none chosen)'}` : <code>{JSON.stringify(cleanValue(targetSchema, targetConfig))}</code>}.</p>
          )}
          <ErrorNote error={errors.size ? null : action.error} />
          {errors.size ? <p class="error" role="alert">{[...errors.values()].join('; ')}</p> : null}
        </div>
      ) : null}
      <div class="actions">
        <button class="secondary" disabled={step === 1} onClick={() => setStep(step - 1)}>Back</button>
        {step < 4 ? <button onClick={() => setStep(step + 1)}>Next</button> : <button onClick={start} disabled={action.busy}>Start restore</button>}
      </div>
    </div>
  );
}

export function BackupsPage({ route }: { route: string[] }) {
  const catalog = useQuery(Catalog, {}, 'catalog');
  if (!catalog.data) return catalog.error ? <ErrorNote error={catalog.error} /> : <p>Loading…</p>;
  if (route[1] === 'by-policy') return <BackupList key={route[2]} catalog={catalog.data} initialPolicy={route[2]} />;
  if (route[1]) return <BackupView id={route[1]} catalog={catalog.data} />;
  return <BackupList catalog={catalog.data} />;
}
