/**
 * How a job's progress reads on a terminal: amounts (bytes or blocks), the rate seen lately,
 * the time left, and a bar when the total is known. Pure functions, so they are tested alone.
 */

export interface ProgressReport {
  unit: string;
  done: number;
  total?: number | null;
  message?: string | null;
  /** The server's estimate, when it has one. */
  etaSeconds?: number | null;
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

function formatCount(amount: number): string {
  return Math.round(amount).toLocaleString('en-US');
}

/** `1.2 GiB` for bytes, `12,345 blocks` for anything counted. */
export function formatAmount(unit: string, amount: number): string {
  return unit === 'bytes' ? formatBytes(amount) : `${formatCount(amount)} ${unit}`;
}

export function formatRate(unit: string, perSecond: number): string {
  return unit === 'bytes' ? `${formatBytes(perSecond)}/s` : `${perSecond >= 10 ? Math.round(perSecond).toLocaleString('en-US') : perSecond.toFixed(1)} ${unit}/s`;
}

/** `42s`, `3:07`, `1:02:03`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${minutes}:${rest}`;
}

/** `[########............]` for a fraction between 0 and 1. */
export function progressBar(fraction: number, width: number): string {
  const clamped = Math.min(1, Math.max(0, fraction));
  const filled = Math.round(clamped * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/**
 * The rate over the last `windowMs` of samples: a stall shows as a falling rate instead of
 * being averaged away by a fast start.
 */
export class RateMeter {
  private readonly samples: { at: number; done: number }[] = [];

  constructor(private readonly windowMs = 10_000) {}

  add(at: number, done: number): void {
    const last = this.samples[this.samples.length - 1];
    // A job retried from the start counts from zero again.
    if (last && done < last.done) this.samples.length = 0;
    this.samples.push({ at, done });
    while (this.samples.length > 2 && at - this.samples[0].at > this.windowMs) this.samples.shift();
  }

  /** Units per second, or null before two samples a moment apart. */
  perSecond(): number | null {
    if (this.samples.length < 2) return null;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const seconds = (last.at - first.at) / 1000;
    return seconds > 0 ? (last.done - first.done) / seconds : null;
  }
}

/** The parts of a progress line, without the bar: `1.2 GiB / 2.6 GiB  35.2 MiB/s  ETA 0:41`. */
function progressFacts(progress: ProgressReport, rate: number | null): string[] {
  const known = typeof progress.total === 'number' && progress.total > 0;
  const of = () => (progress.unit === 'bytes' ? `${formatBytes(progress.done)} / ${formatBytes(progress.total as number)}` : `${formatCount(progress.done)} / ${formatAmount(progress.unit, progress.total as number)}`);
  const facts = [known ? of() : formatAmount(progress.unit, progress.done)];
  if (rate !== null && rate > 0) facts.push(formatRate(progress.unit, rate));
  const eta = typeof progress.etaSeconds === 'number' ? progress.etaSeconds : known && rate ? ((progress.total as number) - progress.done) / rate : null;
  if (known && progress.done < (progress.total as number) && eta !== null && Number.isFinite(eta)) facts.push(`ETA ${formatDuration(eta)}`);
  return facts;
}

/**
 * The one line redrawn on a terminal, at most `columns` wide:
 * `running [#####.....]  45%  1.2 GiB / 2.6 GiB  35.2 MiB/s  ETA 0:41  packing`.
 */
export function progressLine(status: string, progress: ProgressReport, rate: number | null, columns = 80): string {
  const parts = [status.toLowerCase()];
  if (typeof progress.total === 'number' && progress.total > 0) {
    const fraction = progress.done / progress.total;
    parts.push(`${progressBar(fraction, Math.max(10, Math.min(30, columns - 70)))} ${String(Math.floor(Math.min(1, fraction) * 100)).padStart(3)}%`);
  }
  parts.push(...progressFacts(progress, rate));
  if (progress.message) parts.push(progress.message);
  const line = parts.join('  ');
  const width = Math.max(20, columns - 1);
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

/** The line printed when stderr is not a terminal (a log, CI): the same facts, no bar. */
export function plainProgressLine(status: string, progress: ProgressReport, rate: number | null): string {
  const known = typeof progress.total === 'number' && progress.total > 0;
  const percent = known ? ` ${Math.floor(Math.min(1, progress.done / (progress.total as number)) * 100)}%` : '';
  return `  ${status.toLowerCase()}:${percent} ${progressFacts(progress, rate).join(', ')}${progress.message ? ` (${progress.message})` : ''}`;
}
