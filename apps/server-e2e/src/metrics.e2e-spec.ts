/**
 * GET /metrics against the real server, on both catalogs: after two backups of a policy,
 * what an operator's dashboards and alerts read (counts, bytes, last success, queue) matches
 * the catalog as GraphQL shows it, and every line is valid text exposition 0.0.4.
 */
import { writeSampleTree } from '@chainvault/testing';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backupNow, createDirectoryPolicy } from './support/scenario';
import { startTestServer, type CatalogKind, type TestServer } from './support/test-server';

interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface ParsedExposition {
  types: Map<string, string>;
  samples: ParsedSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const FLOAT = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$/;
const SUFFIXES: Record<string, string[]> = { counter: [''], gauge: [''], untyped: [''], summary: ['', '_sum', '_count'], histogram: ['_bucket', '_sum', '_count'] };

/**
 * A strict reader of text exposition 0.0.4, enough to reject what Prometheus would: every
 * line ends with a line feed; HELP and TYPE come once per family, TYPE before its samples;
 * each sample belongs to the family typed last; label values use only \\, \" and \n escapes;
 * values parse as floats; no series appears twice.
 */
function parseExposition(text: string): ParsedExposition {
  if (!text.endsWith('\n')) throw new Error('the exposition does not end with a line feed');
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: ParsedSample[] = [];
  const series = new Set<string>();
  let family: string | null = null;
  text
    .slice(0, -1)
    .split('\n')
    .forEach((line, index) => {
      const fail = (why: string): never => {
        throw new Error(`line ${index + 1} (${JSON.stringify(line)}): ${why}`);
      };
      const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      if (meta) {
        const [, keyword, name, rest] = meta;
        if (!METRIC_NAME.test(name) || METRIC_NAME.exec(name)![0] !== name) fail('bad metric name');
        if (keyword === 'HELP') {
          if (helps.has(name)) fail('second HELP');
          if (!/^(?:[^\\]|\\[\\n])*$/.test(rest)) fail('bad escape in HELP');
          helps.add(name);
        } else {
          if (types.has(name)) fail('second TYPE');
          if (!(rest in SUFFIXES)) fail(`unknown type ${rest}`);
          if (samples.some((s) => ['', '_sum', '_count', '_bucket'].some((suffix) => s.name === `${name}${suffix}`))) fail('TYPE after its samples');
          types.set(name, rest);
          family = name;
        }
        return;
      }
      if (line.startsWith('#')) return;
      let rest = line;
      const name = METRIC_NAME.exec(rest)?.[0] ?? fail('no metric name');
      rest = rest.slice(name.length);
      const labels: Record<string, string> = {};
      if (rest.startsWith('{')) {
        rest = rest.slice(1);
        while (!rest.startsWith('}')) {
          const label = LABEL_NAME.exec(rest)?.[0] ?? fail('bad label name');
          rest = rest.slice(label.length);
          if (!rest.startsWith('="')) fail(`no ="" after label ${label}`);
          rest = rest.slice(2);
          let value = '';
          for (;;) {
            const char = rest[0] ?? fail('unterminated label value');
            rest = rest.slice(1);
            if (char === '"') break;
            if (char !== '\\') {
              value += char;
              continue;
            }
            const escaped = rest[0];
            rest = rest.slice(1);
            if (escaped === '\\' || escaped === '"') value += escaped;
            else if (escaped === 'n') value += '\n';
            else fail(`bad escape \\${escaped}`);
          }
          if (label in labels) fail(`label ${label} twice`);
          labels[label] = value;
          if (rest.startsWith(',')) rest = rest.slice(1);
          else if (!rest.startsWith('}')) fail('no , or } after a label');
        }
        rest = rest.slice(1);
      }
      const value = /^ (\S+)(?: -?\d+)?$/.exec(rest)?.[1] ?? fail('no value');
      if (!FLOAT.test(value)) fail(`value ${value} is not a float`);
      if (family === null || !SUFFIXES[types.get(family)!].some((suffix) => name === `${family}${suffix}`)) fail(`sample outside its family (${family})`);
      const key = JSON.stringify([name, Object.entries(labels).sort()]);
      if (series.has(key)) fail('series twice');
      series.add(key);
      samples.push({ name, labels, value: Number(value.replace('Inf', 'Infinity')) });
    });
  for (const name of types.keys()) if (!helps.has(name)) throw new Error(`${name} has no HELP`);
  return { types, samples };
}

/** The value of the one series with exactly these labels; undefined when there is none. */
function valueOf(exposition: ParsedExposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const matches = exposition.samples.filter(
    (s) => s.name === name && Object.keys(s.labels).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (matches.length > 1) throw new Error(`${matches.length} series of ${name} match ${JSON.stringify(labels)}`);
  return matches[0]?.value;
}

const BACKUP_TIMES = `query ($id: ID!) { backup(id: $id) { id status startedAt createdAt logicalSize storedSize bytesRead } }`;

describe.each<CatalogKind>(['sqlite', 'postgres'])('GET /metrics (%s catalog)', (catalog) => {
  let server: TestServer;
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-metrics-'));
    server = await startTestServer({ catalog });
  });

  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('reports two completed backups of a policy: count, bytes, durations, last success, and an empty queue', async () => {
    const { client } = server;
    const source = join(work, 'source');
    const tree = await writeSampleTree(source);
    const { policyId } = await createDirectoryPolicy(client, `metrics-${catalog}`, source, join(work, 'repository'));
    const policy = `metrics-${catalog}-policy`;
    // A policy that never ran: its series exist at zero, and it has no last success.
    await createDirectoryPolicy(client, `idle-${catalog}`, source, join(work, 'idle-repository'));
    const idlePolicy = `idle-${catalog}-policy`;

    const first = await backupNow(client, policyId);
    expect(first.status).toBe('COMPLETED');
    await appendFile(join(source, tree.smallFile), 'changed between the backups\n');
    const second = await backupNow(client, policyId);
    expect(second.status).toBe('COMPLETED');
    const backups = await Promise.all([first, second].map(async (job) => (await client.ok(BACKUP_TIMES, { id: job.backupId })).backup));
    const sum = (pick: (b: Record<string, any>) => number) => backups.reduce((total, b) => total + pick(b), 0);
    const seconds = (iso: string) => Date.parse(iso) / 1000;

    const response = await fetch(`${server.url}/metrics`, { headers: server.client.headers() });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const metrics = parseExposition(await response.text());

    expect(valueOf(metrics, 'chainvault_backups', { status: 'COMPLETED', policy })).toBe(2);
    for (const status of ['PARTIAL', 'FAILED', 'DELETED', 'RUNNING']) expect(valueOf(metrics, 'chainvault_backups', { status, policy })).toBe(0);
    expect(valueOf(metrics, 'chainvault_last_success_timestamp_seconds', { policy })).toBe(seconds(backups[1].createdAt));

    expect(valueOf(metrics, 'chainvault_backup_bytes_total', { policy, kind: 'logical' })).toBe(sum((b) => b.logicalSize));
    expect(valueOf(metrics, 'chainvault_backup_bytes_total', { policy, kind: 'stored' })).toBe(sum((b) => b.storedSize));
    expect(valueOf(metrics, 'chainvault_backup_bytes_total', { policy, kind: 'read' })).toBe(sum((b) => b.bytesRead));

    expect(metrics.types.get('chainvault_backup_duration_seconds')).toBe('summary');
    expect(valueOf(metrics, 'chainvault_backup_duration_seconds_count', { policy })).toBe(2);
    expect(valueOf(metrics, 'chainvault_backup_duration_seconds_sum', { policy })).toBeCloseTo(sum((b) => seconds(b.createdAt) - seconds(b.startedAt)), 3);
    expect(valueOf(metrics, 'chainvault_last_backup_duration_seconds', { policy })).toBeCloseTo(seconds(backups[1].createdAt) - seconds(backups[1].startedAt), 3);

    expect(valueOf(metrics, 'chainvault_backups', { status: 'COMPLETED', policy: idlePolicy })).toBe(0);
    expect(valueOf(metrics, 'chainvault_backup_bytes_total', { policy: idlePolicy, kind: 'logical' })).toBe(0);
    expect(valueOf(metrics, 'chainvault_last_success_timestamp_seconds', { policy: idlePolicy })).toBeUndefined();

    expect(valueOf(metrics, 'chainvault_job_queue_depth')).toBe(0);
    expect(valueOf(metrics, 'chainvault_jobs_running')).toBe(0);
    expect(valueOf(metrics, 'chainvault_jobs_total', { kind: 'BACKUP', status: 'COMPLETED' })).toBe(2);
    expect(valueOf(metrics, 'chainvault_jobs_total', { kind: 'BACKUP', status: 'FAILED' })).toBe(0);

    expect(valueOf(metrics, 'chainvault_plugins', { status: 'LOADED' })).toBeGreaterThanOrEqual(1);
    const buildInfo = metrics.samples.filter((s) => s.name === 'chainvault_build_info');
    expect(buildInfo).toEqual([{ name: 'chainvault_build_info', labels: { version: expect.stringMatching(/^\d+\.\d+\.\d+/) }, value: 1 }]);
  });
});
