/**
 * The retention plan of one backup policy: which of its backups to keep and which to delete,
 * with every reason for each. Pure: no I/O, no clock; the same input always gives the same plan.
 *
 * Rules (as an operator sets them on the policy; close to restic's `forget`):
 * - No rule set at all (every field undefined or null) keeps everything: 'no retention rules'.
 *   A count of 0 means that rule keeps nothing.
 * - keepLast n keeps the n newest backups: 'last 1' is the newest, 'last 2' the next, and so on.
 * - keepHourly/Daily/Weekly/Monthly/Yearly n walk the backups newest first; each distinct
 *   calendar bucket keeps its newest backup, until n buckets have been kept. Buckets without
 *   backups do not count. Buckets are local calendar fields in the policy's IANA time zone, so a
 *   daylight-saving day is still one day. Reasons name the bucket: 'daily 2026-03-04',
 *   'weekly 2026-W10' (ISO week, Monday start, ISO week-year), 'monthly 2026-03', 'yearly 2026',
 *   'hourly 2026-03-04T05+01:00'. An hourly bucket carries its UTC offset, because the hour
 *   repeated when clocks fall back is two real hours and must read as two buckets.
 * - keepWithin d (`<whole number from 1><unit>`, unit h, d, w, m for months or y; the same grammar
 *   the policy service accepts, anything else throws) keeps every backup created at or after the
 *   newest backup's createdAt minus d, measured from the newest backup and not from the clock,
 *   so a policy whose backups stopped does not lose its last ones. The subtraction is in UTC:
 *   h, d and w are fixed 1, 24 and 168 hours; m and y are calendar months and years, the day
 *   clamped to the month's end (1m before 31 March is 28 or 29 February, same time of day).
 *   Reason: 'within 30d'.
 * - Pinned backups are kept: 'pinned'.
 * - Safety: the newest VERIFIED backup is kept ('last verified good'); when none is verified,
 *   the newest that is not CORRUPT ('newest not known corrupt'); when every backup is corrupt,
 *   the newest one anyway ('newest, all corrupt'), so a plan never deletes every backup.
 * - What a kept backup depends on (`dependsOn`, or the older single `dependsOnId`) is kept
 *   transitively, a PARTIAL backup's as any other's, each link with 'needed by <id of the
 *   kept backup that depends on it>'. A dependency that is not among the candidates (another
 *   policy's, or already deleted) is not this plan's to decide and is ignored.
 * - CORRUPT backups count for the rules like any other. The status (COMPLETED or PARTIAL) does
 *   not change any decision: both are usable backups in the catalog.
 *
 * Each decision lists every reason that keeps it, in the order above. A backup to delete has the
 * single reason 'matched no rule', so a plan shown to an operator always says why. Decisions are
 * newest first whatever the input order; backups with the same createdAt are ordered by id, the
 * greater id counting as the newer (as the catalog lists backups).
 */
import type { RetentionRules } from '../catalog/entities/policy.entity';
import { utcOffsetMs, wallClock } from '../policies/zoned-time';

export interface RetentionCandidate {
  id: string;
  createdAt: Date;
  pinned: boolean;
  verification: 'UNVERIFIED' | 'VERIFIED' | 'CORRUPT';
  status: 'COMPLETED' | 'PARTIAL';
  dependsOnId: string | null;
  /** Every backup this one needs (plugin API 2); when absent, `dependsOnId` alone. */
  dependsOn?: string[];
}

/** Why a backup is kept, e.g. 'last 3', 'daily 2026-03-04', 'within 30d', 'pinned', 'needed by <id>'. */
export type KeepReason = string;

export interface RetentionDecision {
  id: string;
  createdAt: Date;
  keep: boolean;
  /** Every reason to keep it; [NO_RULE_MATCHED] when it is to be deleted. */
  reasons: KeepReason[];
}

export interface RetentionOptions {
  /** The policy's IANA time zone, in which the calendar buckets are counted. */
  timeZone: string;
}

/** The only reason of a backup the plan deletes. */
export const NO_RULE_MATCHED = 'matched no rule';

/** Plans the retention of one policy's backups; throws an Error on invalid rules or input. */
export function planRetention(backups: RetentionCandidate[], rules: RetentionRules, options: RetentionOptions): RetentionDecision[] {
  const checked = checkRules(rules);
  const calendar = localCalendar(options.timeZone);
  checkCandidates(backups);

  const sorted = [...backups].sort(newestFirst);
  const reasons = new Map<string, KeepReason[]>(sorted.map((b) => [b.id, []]));
  const keepFor = (backup: RetentionCandidate, reason: KeepReason) => reasons.get(backup.id)!.push(reason);

  if (checked.none) {
    for (const backup of sorted) keepFor(backup, 'no retention rules');
  } else {
    if (checked.keepLast !== undefined) {
      sorted.slice(0, checked.keepLast).forEach((backup, index) => keepFor(backup, `last ${index + 1}`));
    }
    const buckets: [number | undefined, (fields: LocalFields) => string][] = [
      [checked.keepHourly, hourlyBucket],
      [checked.keepDaily, dailyBucket],
      [checked.keepWeekly, weeklyBucket],
      [checked.keepMonthly, monthlyBucket],
      [checked.keepYearly, yearlyBucket],
    ];
    for (const [count, bucketOf] of buckets) {
      if (count === undefined) continue;
      for (const [backup, bucket] of newestPerBucket(sorted, count, (b) => bucketOf(calendar(b.createdAt)))) keepFor(backup, bucket);
    }
    if (checked.keepWithin !== undefined && sorted.length > 0) {
      const cutoff = subtractDuration(sorted[0].createdAt, checked.keepWithin);
      for (const backup of sorted) {
        if (backup.createdAt.getTime() >= cutoff) keepFor(backup, `within ${checked.keepWithin.text}`);
      }
    }
  }

  for (const backup of sorted) if (backup.pinned) keepFor(backup, 'pinned');
  keepSafetyBackup(sorted, keepFor);
  keepDependencies(sorted, reasons);

  return sorted.map((backup) => {
    const kept = reasons.get(backup.id)!;
    return { id: backup.id, createdAt: new Date(backup.createdAt.getTime()), keep: kept.length > 0, reasons: kept.length > 0 ? kept : [NO_RULE_MATCHED] };
  });
}

// ---- rules -------------------------------------------------------------------------------

type DurationUnit = 'h' | 'd' | 'w' | 'm' | 'y';

interface Duration {
  amount: number;
  unit: DurationUnit;
  /** As the operator wrote it, for the reason text. */
  text: string;
}

interface CheckedRules extends Omit<RetentionRules, 'keepWithin'> {
  /** True when no rule is set at all: keep everything. */
  none: boolean;
  keepWithin?: Duration;
}

const COUNT_RULES = ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'] as const;

/** The grammar the policy service validates: a whole number from 1 and one unit letter. */
const DURATION = /^([1-9][0-9]*)([hdwmy])$/;

/** Rules come from a JSON column and the API, where an unset rule may also be null. */
function isUnset(value: unknown): value is undefined | null {
  return value === undefined || value === null;
}

function checkRules(rules: RetentionRules): CheckedRules {
  const checked: CheckedRules = { none: true };
  for (const key of COUNT_RULES) {
    const value: unknown = rules[key];
    if (isUnset(value)) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw new Error(`retention rule ${key} must be a whole number of 0 or more, got ${String(value)}`);
    }
    checked[key] = value;
    checked.none = false;
  }
  const within: unknown = rules.keepWithin;
  if (!isUnset(within)) {
    checked.keepWithin = parseDuration(within);
    checked.none = false;
  }
  return checked;
}

function parseDuration(text: unknown): Duration {
  const match = typeof text === 'string' ? DURATION.exec(text) : null;
  if (!match) {
    throw new Error(`retention rule keepWithin must be a duration such as 12h, 30d, 8w, 6m (months) or 1y, got ${JSON.stringify(text)}`);
  }
  return { amount: Number(match[1]), unit: match[2] as DurationUnit, text: match[0] };
}

const HOUR_MS = 3_600_000;

/**
 * The earliest instant still within `duration` before `from`, in UTC (see the module comment).
 * A duration reaching before the first representable date gives -Infinity: everything is within.
 */
function subtractDuration(from: Date, duration: Duration): number {
  const fixedHours: Partial<Record<DurationUnit, number>> = { h: 1, d: 24, w: 168 };
  const hours = fixedHours[duration.unit];
  let cutoff: number;
  if (hours !== undefined) {
    cutoff = from.getTime() - duration.amount * hours * HOUR_MS;
  } else {
    const months = duration.unit === 'y' ? duration.amount * 12 : duration.amount;
    const monthIndex = from.getUTCFullYear() * 12 + from.getUTCMonth() - months;
    const year = Math.floor(monthIndex / 12);
    const month = monthIndex - year * 12;
    const day = Math.min(from.getUTCDate(), daysInMonth(year, month));
    const date = new Date(from.getTime());
    // setUTCFullYear, unlike Date.UTC, does not read years 0 to 99 as 1900 to 1999.
    date.setUTCFullYear(year, month, day);
    cutoff = date.getTime();
  }
  return Number.isNaN(cutoff) ? -Infinity : cutoff;
}

function daysInMonth(year: number, month: number): number {
  const date = new Date(0);
  // Day 0 of the next month is the last day of this one.
  date.setUTCFullYear(year, month + 1, 0);
  return date.getUTCDate();
}

// ---- candidates and order ----------------------------------------------------------------

function checkCandidates(backups: RetentionCandidate[]): void {
  const ids = new Set<string>();
  for (const backup of backups) {
    if (ids.has(backup.id)) throw new Error(`backup ${backup.id} is listed twice`);
    ids.add(backup.id);
    if (!(backup.createdAt instanceof Date) || Number.isNaN(backup.createdAt.getTime())) {
      throw new Error(`backup ${backup.id} has no valid createdAt`);
    }
  }
}

/** Newest first; on the same createdAt, the greater id first. Plain code-unit order, not locale order. */
function newestFirst(a: RetentionCandidate, b: RetentionCandidate): number {
  const byTime = b.createdAt.getTime() - a.createdAt.getTime();
  if (byTime !== 0) return byTime;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Walking newest first, the newest backup of each bucket until `count` buckets are kept. */
function newestPerBucket(sorted: RetentionCandidate[], count: number, bucketOf: (backup: RetentionCandidate) => string): [RetentionCandidate, string][] {
  const kept: [RetentionCandidate, string][] = [];
  const seen = new Set<string>();
  for (const backup of sorted) {
    if (seen.size >= count) break;
    const bucket = bucketOf(backup);
    if (seen.has(bucket)) continue;
    seen.add(bucket);
    kept.push([backup, bucket]);
  }
  return kept;
}

// ---- safety and dependencies -------------------------------------------------------------

/** Keeps the backup a restore would fall back on, so no plan deletes the last good one, or all. */
function keepSafetyBackup(sorted: RetentionCandidate[], keepFor: (backup: RetentionCandidate, reason: KeepReason) => void): void {
  const verified = sorted.find((b) => b.verification === 'VERIFIED');
  if (verified) return keepFor(verified, 'last verified good');
  const notCorrupt = sorted.find((b) => b.verification !== 'CORRUPT');
  if (notCorrupt) return keepFor(notCorrupt, 'newest not known corrupt');
  if (sorted.length > 0) keepFor(sorted[0], 'newest, all corrupt');
}

/** Keeps what kept backups need to be restored, following their dependencies to the end. */
function keepDependencies(sorted: RetentionCandidate[], reasons: Map<string, KeepReason[]>): void {
  const byId = new Map(sorted.map((b) => [b.id, b]));
  const dependenciesOf = (backup: RetentionCandidate): RetentionCandidate[] => {
    const ids = backup.dependsOn ?? (backup.dependsOnId === null ? [] : [backup.dependsOnId]);
    return [...new Set(ids)].map((id) => byId.get(id)).filter((d): d is RetentionCandidate => d !== undefined && d !== backup);
  };

  // First the whole set to keep (the visited set also ends a malformed cycle)...
  const kept = new Set(sorted.filter((b) => reasons.get(b.id)!.length > 0).map((b) => b.id));
  const toFollow = sorted.filter((b) => kept.has(b.id));
  for (let backup = toFollow.pop(); backup; backup = toFollow.pop()) {
    for (const dependency of dependenciesOf(backup)) {
      if (kept.has(dependency.id)) continue;
      kept.add(dependency.id);
      toFollow.push(dependency);
    }
  }
  // ...then one reason per kept dependant, newest dependant first, whatever the walk's order.
  for (const backup of sorted) {
    if (!kept.has(backup.id)) continue;
    for (const dependency of dependenciesOf(backup)) reasons.get(dependency.id)!.push(`needed by ${backup.id}`);
  }
}

// ---- calendar buckets in the policy time zone ----------------------------------------------

interface LocalFields {
  year: number;
  /** 1 to 12. */
  month: number;
  day: number;
  /** 0 to 23. */
  hour: number;
  /** Local time minus UTC, in minutes: +60 in Berlin in winter, -300 in New York. */
  offsetMinutes: number;
}

/** Reads an instant's local calendar fields in an IANA time zone; throws on an unknown zone. */
function localCalendar(timeZone: string): (instant: Date) => LocalFields {
  try {
    wallClock(timeZone, 0);
  } catch {
    throw new Error(`unknown time zone ${JSON.stringify(timeZone)}`);
  }
  return (instant) => {
    const { year, month, day, hour } = wallClock(timeZone, instant);
    return { year, month, day, hour, offsetMinutes: Math.round(utcOffsetMs(timeZone, instant) / 60_000) };
  };
}

const pad = (value: number, width = 2) => String(value).padStart(width, '0');

function dateText(fields: LocalFields): string {
  return `${pad(fields.year, 4)}-${pad(fields.month)}-${pad(fields.day)}`;
}

function offsetText(offsetMinutes: number): string {
  const sign = offsetMinutes < 0 ? '-' : '+';
  const minutes = Math.abs(offsetMinutes);
  return `${sign}${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

function hourlyBucket(fields: LocalFields): string {
  return `hourly ${dateText(fields)}T${pad(fields.hour)}${offsetText(fields.offsetMinutes)}`;
}

function dailyBucket(fields: LocalFields): string {
  return `daily ${dateText(fields)}`;
}

/** ISO 8601 week: weeks start on Monday, and week 1 is the one holding the year's first Thursday. */
function weeklyBucket(fields: LocalFields): string {
  const DAY_MS = 24 * HOUR_MS;
  const date = new Date(0);
  date.setUTCFullYear(fields.year, fields.month - 1, fields.day);
  const mondayBased = (date.getUTCDay() + 6) % 7;
  // The Thursday of the same week decides the week-year.
  const thursday = new Date(date.getTime() + (3 - mondayBased) * DAY_MS);
  const weekYear = thursday.getUTCFullYear();
  const januaryFirst = new Date(0);
  januaryFirst.setUTCFullYear(weekYear, 0, 1);
  const week = Math.floor((thursday.getTime() - januaryFirst.getTime()) / (7 * DAY_MS)) + 1;
  return `weekly ${pad(weekYear, 4)}-W${pad(week)}`;
}

function monthlyBucket(fields: LocalFields): string {
  return `monthly ${pad(fields.year, 4)}-${pad(fields.month)}`;
}

function yearlyBucket(fields: LocalFields): string {
  return `yearly ${pad(fields.year, 4)}`;
}
