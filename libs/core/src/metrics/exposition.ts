/**
 * The Prometheus text exposition format, version 0.0.4, written by hand: the format is a few
 * lines of rules, and a client library would bring in-process registries and counters that
 * chainvault deliberately does not keep (every value is read from the catalog at scrape time).
 *
 * Reference: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */

/** What GET /metrics answers with; Prometheus picks its text parser by the `version` parameter. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge' | 'summary' | 'untyped';

/** The series a summary without quantiles consists of, after the family name. */
export type SummarySuffix = '_sum' | '_count';

export interface MetricSample {
  /** Only for summaries: `_sum` or `_count`, appended to the family name. */
  suffix?: SummarySuffix;
  /** Label names and values, written in this order. */
  labels?: Readonly<Record<string, string>>;
  value: number;
}

/** One metric: its HELP and TYPE lines, then its samples, all together as the format requires. */
export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: readonly MetricSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A label value inside double quotes: backslash, double quote and line feed are escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: only backslash and line feed are escaped (a double quote stays as it is). */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value as Prometheus parses it (Go's ParseFloat, plus `+Inf`, `-Inf` and `NaN`). */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function formatLabels(labels: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(labels).map(([name, value]) => {
    // `__`-prefixed names are reserved for Prometheus itself.
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`"${name}" is not a valid label name`);
    return `${name}="${escapeLabelValue(value)}"`;
  });
  return pairs.length > 0 ? `{${pairs.join(',')}}` : '';
}

/**
 * The exposition text of the families, in the order given, each family's samples in the order
 * given. Throws on what Prometheus would reject or misread (a bad name, a family listed twice,
 * the same series twice, a suffix outside a summary): those are bugs in the caller, and a
 * scrape that fails loudly beats one that silently drops series.
 */
export function formatExposition(families: readonly MetricFamily[]): string {
  const seenFamilies = new Set<string>();
  const lines: string[] = [];
  for (const family of families) {
    if (!METRIC_NAME.test(family.name)) throw new Error(`"${family.name}" is not a valid metric name`);
    if (seenFamilies.has(family.name)) throw new Error(`metric family ${family.name} is listed twice`);
    seenFamilies.add(family.name);
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    const seenSeries = new Set<string>();
    for (const sample of family.samples) {
      if (sample.suffix && family.type !== 'summary') throw new Error(`${family.name} is a ${family.type}; only a summary has ${sample.suffix} samples`);
      const series = `${family.name}${sample.suffix ?? ''}${formatLabels(sample.labels ?? {})}`;
      // The same labels in another order are the same series.
      const identity = JSON.stringify([sample.suffix ?? '', Object.entries(sample.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
      if (seenSeries.has(identity)) throw new Error(`series ${series} appears twice`);
      seenSeries.add(identity);
      lines.push(`${series} ${formatValue(sample.value)}`);
    }
  }
  // Every line, the last one included, ends with a line feed.
  return lines.map((line) => `${line}\n`).join('');
}
