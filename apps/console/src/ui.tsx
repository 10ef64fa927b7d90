/** Pieces every page uses: loading an operation, showing an error, times in a zone, the hash route, a progress bar. */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, call } from './api';
import type { Operation } from './graphql/generated';

export interface Loaded<R> {
  data: R | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

/** Runs a query now and again whenever `key` changes; `every` ms re-runs it while the page is open. */
export function useQuery<R, V>(operation: Operation<R, V>, variables: V, key: string, every?: number): Loaded<R> {
  const [state, setState] = useState<{ data: R | null; error: ApiError | null; loading: boolean }>({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  const vars = useRef(variables);
  vars.current = variables;
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    (call as (o: Operation<R, V>, v: V) => Promise<R>)(operation, vars.current).then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error: ApiError) => live && setState((s) => ({ data: s.data, error, loading: false })),
    );
    return () => {
      live = false;
    };
  }, [key, tick]);
  useEffect(() => {
    if (!every) return;
    const timer = setInterval(() => setTick((t) => t + 1), every);
    return () => clearInterval(timer);
  }, [every]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** Runs a mutation from a button: busy while it runs, its error kept for the page to show. */
export function useAction(): { busy: boolean; error: ApiError | null; run: <T>(work: () => Promise<T>) => Promise<T | undefined>; clear: () => void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const run = useCallback(async <T,>(work: () => Promise<T>) => {
    setBusy(true);
    setError(null);
    try {
      return await work();
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(String(e), 'ERROR'));
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, clear: () => setError(null) };
}

export function ErrorNote({ error }: { error: ApiError | null | undefined }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error.message}
      {error.code && !error.code.startsWith('HTTP') ? <span class="code"> ({error.code})</span> : null}
    </p>
  );
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** A time as read in `timeZone` (the browser's own when absent), with the zone's offset. */
export function inZone(iso: string | null | undefined, timeZone?: string): string {
  if (!iso) return '—';
  const zone = timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  let format = formats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', { timeZone: zone, year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', timeZoneName: 'shortOffset' });
    formats.set(zone, format);
  }
  return format.format(new Date(iso));
}

/** The UTC offset a zone has at an instant, such as GMT+2. */
export function offsetAt(iso: string, timeZone: string): string {
  const part = new Intl.DateTimeFormat('en-GB', { timeZone, timeZoneName: 'shortOffset' }).formatToParts(new Date(iso)).find((p) => p.type === 'timeZoneName');
  return part?.value ?? '';
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** The current hash route, split: `#/backups/abc` → ['backups', 'abc']. */
export function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const changed = () => setRoute(read());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

export function go(...parts: string[]): void {
  location.hash = `#/${parts.map(encodeURIComponent).join('/')}`;
}

/** A job's progress; `complete` (a job that has completed) is 100% even when its total was never known. */
export function Progress({ done, total, unit, complete = false }: { done: number; total: number | null | undefined; unit: string; complete?: boolean }) {
  const percent = complete ? 100 : total ? Math.min(100, Math.floor((done / total) * 100)) : null;
  return (
    <div class="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent ?? undefined} aria-label="progress">
      <div class="bar" style={{ width: `${percent ?? 0}%` }} />
      <span class="label">{percent !== null ? `${percent}%` : `${done} ${unit}`}</span>
    </div>
  );
}

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section>
      <div class="section-head">
        <h2>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

export function Status({ value }: { value: string }) {
  return <span class={`status status-${value.toLowerCase()}`}>{value}</span>;
}

/**
 * Newer/Older buttons over a cursor-paged list: `after` is the stack of cursors of the pages
 * seen, so Newer goes back one page and Older follows the last page's end cursor.
 */
export function Pager({ after, setAfter, pageInfo }: { after: string[]; setAfter: (next: string[]) => void; pageInfo: { hasNextPage: boolean; endCursor?: string | null } }) {
  return (
    <div class="actions">
      <button class="secondary" disabled={after.length === 0} onClick={() => setAfter(after.slice(0, -1))}>Newer</button>
      <button class="secondary" disabled={!pageInfo.hasNextPage} onClick={() => setAfter([...after, pageInfo.endCursor ?? ''])}>Older</button>
    </div>
  );
}
