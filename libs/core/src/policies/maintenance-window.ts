/**
 * Maintenance windows of a policy: weekly periods, given as local wall-clock times in the
 * policy's IANA time zone, e.g. `{ days: ['FRI'], start: '22:00', end: '02:00' }`.
 *
 * - `days` names the (local) weekday on which a window STARTS; a window whose end is not after its
 *   start (`end <= start`) runs past midnight and ends on the next day; `start === end` is 24 h.
 * - The ends of a window are local times turned into real instants, so its real length follows
 *   the clock: 01:00-05:00 lasts 3 hours on a spring-forward night and 5 hours on a fall-back night.
 * - Every wall-clock time maps to one instant, by the same rules `schedule.ts` (croner) uses for
 *   fixed-time jobs:
 *   - a time that does not exist (it falls into a spring-forward gap) is the first instant after
 *     the gap, e.g. 02:30 on the night Berlin springs forward is 03:00 CEST. This holds for the end
 *     of a window as well as for its start; a window lying wholly inside the gap has no length that
 *     day and is skipped (`windowAt` never finds it, `nextWindowStart` passes over it);
 *   - a time that happens twice (fall back) is its first occurrence, for the start and the end
 *     alike. As that mapping never goes backwards, windows that do not overlap on the wall clock
 *     do not overlap in real time either, and a daily 24 h window tiles the days without overlap
 *     (the extra hour of a fall-back day goes to the window running over it).
 * - Windows may overlap; nothing is merged. Every instant is half-open: a window is open at `at`
 *   when `start <= at < end`.
 */
import { Cron } from 'croner';
import { utcOffsetMs, wallClock } from './zoned-time';

export const WEEKDAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** `start` and `end` are 'HH:MM' local times in the policy's time zone. */
export interface MaintenanceWindow {
  days: Weekday[];
  start: string;
  end: string;
}

/** One occurrence of a window, as real instants: open for `start <= t < end`. */
export interface OpenWindow {
  start: Date;
  end: Date;
}

const FIELD = 'maintenanceWindows';
const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;
const ALLOWED_KEYS = ['days', 'start', 'end'];
/** Day-of-week numbers in cron: SUN = 0, MON = 1, ... SAT = 6. */
const CRON_DOW: Record<Weekday, number> = { MON: 1, TUE: 2, WED: 3, THU: 4, FRI: 5, SAT: 6, SUN: 0 };

/**
 * Validates maintenance windows as they come from the API and returns normalised copies: day
 * names upper-cased and in week order (MON first), unknown fields refused. Throws an Error naming
 * the first bad field, what it must be and what it was, e.g.
 * `maintenanceWindows[1].start must be HH:MM (00:00-23:59), got "25:00"`.
 */
export function checkMaintenanceWindows(windows: unknown): MaintenanceWindow[] {
  if (!Array.isArray(windows)) {
    throw new Error(`${FIELD} must be a list of { days, start, end }, got ${show(windows)}`);
  }
  return windows.map((window: unknown, i) => {
    const at = `${FIELD}[${i}]`;
    if (typeof window !== 'object' || window === null || Array.isArray(window)) {
      throw new Error(`${at} must be an object { days, start, end }, got ${show(window)}`);
    }
    const record = window as Record<string, unknown>;
    const unknownKey = Object.keys(record).find((key) => !ALLOWED_KEYS.includes(key));
    if (unknownKey !== undefined) {
      throw new Error(`${at} has an unknown field "${unknownKey}" (a window has only days, start and end)`);
    }
    return { days: checkDays(record.days, `${at}.days`), start: checkTime(record.start, `${at}.start`), end: checkTime(record.end, `${at}.end`) };
  });
}

function checkDays(days: unknown, at: string): Weekday[] {
  const names = WEEKDAYS.join(', ');
  if (!Array.isArray(days) || days.length === 0) {
    throw new Error(`${at} must be a non-empty list of weekdays (${names}), got ${show(days)}`);
  }
  const seen = new Set<Weekday>();
  days.forEach((day: unknown, j) => {
    const name = typeof day === 'string' ? day.trim().toUpperCase() : undefined;
    if (!WEEKDAYS.includes(name as Weekday)) {
      throw new Error(`${at}[${j}] must be one of ${names}, got ${show(day)}`);
    }
    if (seen.has(name as Weekday)) throw new Error(`${at} lists ${name} more than once`);
    seen.add(name as Weekday);
  });
  return WEEKDAYS.filter((day) => seen.has(day));
}

function checkTime(time: unknown, at: string): string {
  if (typeof time !== 'string' || !TIME.test(time)) {
    throw new Error(`${at} must be HH:MM (00:00-23:59), got ${show(time)}`);
  }
  return time;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json.length > 60 ? `${json.slice(0, 57)}...` : json;
  } catch {
    // not JSON (cyclic, bigint): fall through
  }
  return String(value);
}

/**
 * The window open at `at` (`start <= at < end`), with its real start and end; if several are
 * open, the one that ends last; null if none is.
 */
export function windowAt(windows: MaintenanceWindow[], timeZone: string, at: Date): OpenWindow | null {
  let open: OpenWindow | null = null;
  for (const window of windows) {
    // The latest start at or before `at` (previousRuns excludes a run exactly at its reference,
    // hence the millisecond). Only that occurrence needs checking: local end times grow by a day
    // per occurrence and the local-to-instant mapping never goes backwards, so an earlier
    // occurrence of the same window ends no later than this one.
    const [start] = startsCron(window, timeZone).previousRuns(1, new Date(at.getTime() + 1));
    if (!start || start.getTime() > at.getTime()) continue;
    const end = windowEnd(window, timeZone, start);
    if (end.getTime() > at.getTime() && (!open || end.getTime() > open.end.getTime())) open = { start, end };
  }
  return open;
}

/**
 * The next window to start strictly after `after`, with its real start and end (a window open at
 * `after` does not count: that is `windowAt`). If several start at the same instant, the one that
 * ends last. Throws if there are no windows.
 */
export function nextWindowStart(windows: MaintenanceWindow[], timeZone: string, after: Date): OpenWindow {
  if (windows.length === 0) throw new Error('There are no maintenance windows, so none starts next');
  let next: OpenWindow | null = null;
  for (const window of windows) {
    const cron = startsCron(window, timeZone);
    let start = cron.nextRun(after);
    // Skip occurrences with no length (the whole window falls into a spring-forward gap). They
    // are rare (at most a couple a year), so a few tries are plenty.
    for (let tries = 0; start && tries < 8; tries++) {
      const end = windowEnd(window, timeZone, start);
      if (end.getTime() > start.getTime()) {
        const better =
          !next ||
          start.getTime() < next.start.getTime() ||
          (start.getTime() === next.start.getTime() && end.getTime() > next.end.getTime());
        if (better) next = { start, end };
        break;
      }
      start = cron.nextRun(start);
    }
  }
  if (!next) throw new Error(`No maintenance window starts after ${after.toISOString()} in ${timeZone}`);
  return next;
}

/** Fires at the window's starts: `M H * * <days>` in the zone (croner's fixed-time DST rules). */
function startsCron(window: MaintenanceWindow, timeZone: string): Cron {
  const [hour, minute] = hoursMinutes(window.start);
  const dows = window.days.map((day) => CRON_DOW[day]).join(',');
  return new Cron(`${minute} ${hour} * * ${dows}`, { timezone: timeZone, paused: true });
}

/** The real end of the occurrence starting at `start`: the local end time that day, or the next. */
function windowEnd(window: MaintenanceWindow, timeZone: string, start: Date): Date {
  const [startHour, startMinute] = hoursMinutes(window.start);
  const [endHour, endMinute] = hoursMinutes(window.end);
  const pastMidnight = endHour * 60 + endMinute <= startHour * 60 + startMinute;
  // The local date of the start. A start moved out of a gap stays on its day (croner moves it only
  // within the same day), so this is the date the window was meant to start on.
  const local = wallClock(timeZone, start.getTime());
  const endDay = new Date(Date.UTC(local.year, local.month - 1, local.day + (pastMidnight ? 1 : 0)));
  return new Date(
    localToInstant(timeZone, endDay.getUTCFullYear(), endDay.getUTCMonth() + 1, endDay.getUTCDate(), endHour, endMinute),
  );
}

function hoursMinutes(time: string): [number, number] {
  const [hours, minutes] = time.split(':').map(Number);
  return [hours!, minutes!];
}

// --- Wall clock <-> instant, with Intl ---------------------------------------------------------

/** UTC offset of the zone at instant `ms`, in milliseconds (local = instant + offset). */
const offsetAt = (timeZone: string, ms: number): number => utcOffsetMs(timeZone, ms);

/**
 * The instant (ms) at which the zone's clocks show the given local time. A time that happens twice
 * (fall back) gives its first occurrence; a time that does not happen (spring forward) gives the
 * first instant after the gap, i.e. the moment the clocks jump. Same rules as croner's fixed-time
 * jobs, so window starts (from croner) and ends (from here) agree.
 */
function localToInstant(timeZone: string, year: number, month: number, day: number, hour: number, minute: number): number {
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  const DAY = 86_400_000;
  // Offsets in force around that time; real offsets are within +-14 h, transitions rarer than daily.
  const offsets = [...new Set([offsetAt(timeZone, wall - DAY), offsetAt(timeZone, wall), offsetAt(timeZone, wall + DAY)])];
  const candidates = offsets.map((offset) => wall - offset).sort((a, b) => a - b);
  const exact = candidates.find((ms) => ms + offsetAt(timeZone, ms) === wall);
  if (exact !== undefined) return exact;
  // In a gap: the clocks jump from before `wall` to after it somewhere between the candidates.
  // Find the first second at which they show a time past `wall`.
  let before = Math.floor(candidates[0]! / 1000); // shows a time before `wall`
  let after = Math.ceil(candidates[candidates.length - 1]! / 1000); // shows a time after `wall`
  while (after - before > 1) {
    const mid = Math.floor((before + after) / 2);
    if (mid * 1000 + offsetAt(timeZone, mid * 1000) > wall) after = mid;
    else before = mid;
  }
  return after * 1000;
}
