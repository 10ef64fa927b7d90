/**
 * A policy's schedule, maintenance windows and retention rules as typed on a command line,
 * turned into the API's inputs; on update, merged with what the policy has, so one flag
 * changes one thing. Pure functions: tested alone.
 */
import { InvalidArgumentError } from 'commander';
import { CliError } from './api-client';

export const WEEKDAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] as const;
export const PRESETS = ['HOURLY', 'DAILY', 'TWICE_DAILY', 'THREE_TIMES_DAILY', 'FOUR_TIMES_DAILY'] as const;

export interface WindowInput {
  days: string[];
  start: string;
  end: string;
}

export interface ScheduleInput {
  preset?: string | null;
  cron?: string | null;
  timeZone?: string | null;
  jitterSeconds?: number | null;
  outsideWindow?: string | null;
}

const COUNT_RULES = ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'] as const;
export type RetentionInput = Partial<Record<(typeof COUNT_RULES)[number], number>> & { keepWithin?: string };
/** Drops a rule on update (a parser cannot give null: commander turns it into ''). */
export const DROP_RULE = 'none';
/** A retention flag: a number (or duration), or `none` to drop that rule. */
export type RuleChange = number | string;

export interface ScheduleOptions {
  preset?: string;
  cron?: string;
  timeZone?: string;
  jitter?: number;
  outsideWindow?: string;
}

const TIME = /^([01]?\d|2[0-3]):([0-5]\d)$/;

/** `MON`, `mon`: the day's name; anything else refused naming the days. */
function weekday(text: string, spec: string): number {
  const index = WEEKDAYS.indexOf(text.trim().toUpperCase() as (typeof WEEKDAYS)[number]);
  if (index < 0) throw new InvalidArgumentError(`"${text}" in "${spec}" is not a weekday; use ${WEEKDAYS.join(', ')}`);
  return index;
}

/**
 * A maintenance window: `DAYS HH:MM-HH:MM`, DAYS a comma list of weekdays and ranges
 * (`MON-FRI`, `SAT,SUN`, `FRI-MON` wraps over the weekend) or `*` for every day. The days are
 * those the window starts on; an end at or before the start runs past midnight.
 */
export function parseWindow(spec: string): WindowInput {
  const match = /^\s*(\S+)\s+(\S+)-(\S+)\s*$/.exec(spec);
  const shape = `a window is "DAYS HH:MM-HH:MM", e.g. "MON-FRI 01:00-05:00" or "SAT,SUN 22:00-02:00" or "* 00:00-06:00"`;
  if (!match) throw new InvalidArgumentError(`"${spec}": ${shape}`);
  const [, daysText, start, end] = match;
  for (const time of [start, end]) if (!TIME.test(time)) throw new InvalidArgumentError(`"${time}" in "${spec}" is not a time HH:MM (00:00-23:59); ${shape}`);
  const days = new Set<number>();
  if (daysText === '*') WEEKDAYS.forEach((_, i) => days.add(i));
  else
    for (const part of daysText.split(',')) {
      const [from, to, extra] = part.split('-');
      if (extra !== undefined || !from) throw new InvalidArgumentError(`"${part}" in "${spec}" is not a weekday or a range such as MON-FRI`);
      const first = weekday(from, spec);
      const last = to === undefined ? first : weekday(to, spec);
      for (let day = first; ; day = (day + 1) % 7) {
        days.add(day);
        if (day === last) break;
      }
    }
  const pad = (time: string) => time.padStart(5, '0');
  return { days: WEEKDAYS.filter((_, i) => days.has(i)), start: pad(start), end: pad(end) };
}

/** `MON-FRI 01:00-05:00` again, for showing a window. */
export function describeWindow(window: WindowInput): string {
  return `${window.days.join(',')} ${window.start}-${window.end}`;
}

export function parsePreset(text: string): string {
  const preset = text.trim().toUpperCase().replace(/-/g, '_');
  if (!(PRESETS as readonly string[]).includes(preset)) throw new InvalidArgumentError(`"${text}" is not a preset; use ${PRESETS.join(', ')}`);
  return preset;
}

/** A count rule on update: a whole number, or `none` to drop the rule. */
export function parseRuleCount(text: string): RuleChange {
  if (text.trim().toLowerCase() === DROP_RULE) return DROP_RULE;
  if (!/^\d+$/.test(text.trim())) throw new InvalidArgumentError(`takes a whole number (or "none" to drop the rule), got "${text}"`);
  return Number(text);
}

/** `--keep-within`: a duration such as 12h, 30d, 8w, 6m (months) or 1y, or `none` on update. */
export function parseRuleDuration(text: string): RuleChange {
  if (text.trim().toLowerCase() === DROP_RULE) return DROP_RULE;
  if (!/^[1-9]\d*[hdwmy]$/.test(text.trim())) throw new InvalidArgumentError(`takes a duration such as 12h, 30d, 8w, 6m (months) or 1y, got "${text}"`);
  return text.trim();
}

/** The retention flags given, as `{ keepLast: 7, keepDaily: 'none' }`. */
export function retentionChanges(o: Record<string, unknown>): Record<string, RuleChange> {
  const changes: Record<string, RuleChange> = {};
  for (const rule of [...COUNT_RULES, 'keepWithin'] as const) if (o[rule] !== undefined) changes[rule] = o[rule] as RuleChange;
  return changes;
}

/** The rules after the changes: those not named are kept; `none` drops one. */
export function mergeRetention(current: Record<string, unknown> | null | undefined, changes: Record<string, RuleChange>): RetentionInput {
  const merged: Record<string, unknown> = {};
  for (const [rule, value] of Object.entries({ ...(current ?? {}), ...changes })) if (value !== null && value !== undefined && value !== DROP_RULE) merged[rule] = value;
  return merged as RetentionInput;
}

/**
 * The schedule input for the flags, over the policy's current schedule on update: a preset
 * replaces a cron and the other way round; the time zone, jitter and outside-window rule are
 * kept unless given. Undefined when no schedule flag was given.
 */
export function scheduleInput(o: ScheduleOptions, current: ScheduleInput | null = null): ScheduleInput | undefined {
  if (o.preset && o.cron) throw new CliError('give --preset or --cron, not both');
  const given = [o.preset, o.cron, o.timeZone, o.jitter, o.outsideWindow].some((v) => v !== undefined);
  if (!given) return undefined;
  const base: ScheduleInput = {};
  for (const [key, value] of Object.entries(current ?? {})) if (value !== null && value !== undefined) (base as Record<string, unknown>)[key] = value;
  if (o.preset) {
    base.preset = o.preset;
    delete base.cron;
  }
  if (o.cron) {
    base.cron = o.cron;
    delete base.preset;
  }
  if (o.timeZone !== undefined) base.timeZone = o.timeZone;
  if (o.jitter !== undefined) base.jitterSeconds = o.jitter;
  if (o.outsideWindow !== undefined) base.outsideWindow = o.outsideWindow.toUpperCase();
  if (!base.preset && !base.cron) throw new CliError(`the policy has no schedule yet: give --preset (${PRESETS.join(', ')}) or --cron "<expression>" with ${o.timeZone !== undefined ? '--time-zone' : 'these flags'}`);
  return base;
}

/** `Wed 2026-12-02 01:00 CET`: an instant as the wall clock of `timeZone` reads it. */
export function formatInZone(at: Date, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short' })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.weekday} ${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${parts.timeZoneName}`;
}

/** `cron "30 2 * * *" in Europe/Berlin`, `DAILY in UTC`, or `no schedule (runs by hand)`. */
export function describeSchedule(schedule: ScheduleInput | null | undefined): string {
  if (!schedule) return 'no schedule (runs by hand)';
  const what = schedule.cron ? `cron "${schedule.cron}"` : String(schedule.preset);
  const extras = [schedule.jitterSeconds ? `jitter ${schedule.jitterSeconds}s` : '', schedule.outsideWindow === 'SKIP' ? 'skipped outside windows' : ''].filter(Boolean);
  return `${what} in ${schedule.timeZone ?? 'UTC'}${extras.length ? ` (${extras.join(', ')})` : ''}`;
}

export function describeRetention(retention: Record<string, unknown> | null | undefined): string {
  const rules = Object.entries(retention ?? {}).filter(([, v]) => v !== null && v !== undefined);
  if (!rules.length) return 'none (every backup kept until deleted)';
  return rules.map(([rule, value]) => `${rule.replace(/^keep/, 'keep-').toLowerCase()} ${String(value)}`).join(', ');
}
