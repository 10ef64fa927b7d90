/**
 * When a policy's schedule fires: presets and cron expressions evaluated in the policy's IANA
 * time zone. Across daylight-saving changes a daily run is neither skipped (a time that does
 * not exist runs at the first time after the gap) nor doubled (a time that happens twice runs
 * once), while hourly runs stay one per real hour.
 */
import { Cron } from 'croner';
import { SchedulePreset, type PolicySchedule } from '../catalog/entities';

/** The cron expression behind each preset. */
export const PRESET_CRON: Record<SchedulePreset, string> = {
  [SchedulePreset.HOURLY]: '0 * * * *',
  [SchedulePreset.DAILY]: '0 0 * * *',
  [SchedulePreset.TWICE_DAILY]: '0 0,12 * * *',
  [SchedulePreset.THREE_TIMES_DAILY]: '0 0,8,16 * * *',
  [SchedulePreset.FOUR_TIMES_DAILY]: '0 0,6,12,18 * * *',
};

export function scheduleCron(schedule: PolicySchedule): string {
  return schedule.preset ? PRESET_CRON[schedule.preset] : schedule.cron!;
}

/** Throws an Error saying why, if the expression cannot be scheduled in the time zone. */
export function checkCron(expression: string, timeZone: string): void {
  const cron = new Cron(expression, { timezone: timeZone, paused: true });
  if (!cron.nextRun(new Date())) throw new Error(`"${expression}" never fires`);
}

/** The next `count` fire times after `from`. */
export function nextFireTimes(schedule: PolicySchedule, from: Date, count: number): Date[] {
  return new Cron(scheduleCron(schedule), { timezone: schedule.timeZone, paused: true }).nextRuns(count, from);
}

/**
 * The fires after `after` up to and including `until`, oldest first, at most `max` of them: when
 * there are more, the oldest are left out, so the last one is always the latest fire due.
 */
export function fireTimesBetween(schedule: PolicySchedule, after: Date, until: Date, max: number): Date[] {
  const cron = new Cron(scheduleCron(schedule), { timezone: schedule.timeZone, paused: true });
  const fires: Date[] = [];
  for (let next = cron.nextRun(after); next && next <= until; next = cron.nextRun(next)) {
    if (fires.length === max) {
      // More than `max`: the latest ones, counted back from `until` (previousRuns leaves out a fire at the reference itself).
      return cron.previousRuns(max, new Date(until.getTime() + 1)).reverse();
    }
    fires.push(next);
  }
  return fires;
}
