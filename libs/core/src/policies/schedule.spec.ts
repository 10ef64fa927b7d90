import { SchedulePreset } from '../catalog/entities';
import { checkCron, fireTimesBetween, nextFireTimes } from './schedule';

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

describe('schedules in a time zone', () => {
  it('runs a daily 02:30 once on the day Berlin springs forward (02:30 does not exist: it runs at 03:00)', () => {
    const runs = nextFireTimes({ cron: '30 2 * * *', timeZone: 'Europe/Berlin' }, new Date('2026-03-28T00:00:00Z'), 3);
    expect(iso(runs)).toEqual(['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
  });

  it('runs a daily 02:30 once on the day Berlin falls back (02:30 happens twice)', () => {
    const runs = nextFireTimes({ cron: '30 2 * * *', timeZone: 'Europe/Berlin' }, new Date('2026-10-24T00:00:00Z'), 3);
    expect(iso(runs)).toEqual(['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('keeps HOURLY at one run per real hour through a fall-back night', () => {
    const runs = nextFireTimes({ preset: SchedulePreset.HOURLY, timeZone: 'America/New_York' }, new Date('2026-11-01T04:30:00Z'), 4);
    expect(iso(runs)).toEqual(['2026-11-01T05:00:00.000Z', '2026-11-01T06:00:00.000Z', '2026-11-01T07:00:00.000Z', '2026-11-01T08:00:00.000Z']);
  });

  it('evaluates presets in the policy time zone', () => {
    const from = new Date('2026-07-01T00:00:00Z');
    expect(iso(nextFireTimes({ preset: SchedulePreset.DAILY, timeZone: 'Asia/Tokyo' }, from, 1))).toEqual(['2026-07-01T15:00:00.000Z']);
    expect(iso(nextFireTimes({ preset: SchedulePreset.FOUR_TIMES_DAILY, timeZone: 'UTC' }, from, 4))).toEqual([
      '2026-07-01T06:00:00.000Z',
      '2026-07-01T12:00:00.000Z',
      '2026-07-01T18:00:00.000Z',
      '2026-07-02T00:00:00.000Z',
    ]);
    expect(iso(nextFireTimes({ preset: SchedulePreset.THREE_TIMES_DAILY, timeZone: 'America/Los_Angeles' }, from, 3))).toEqual([
      '2026-07-01T07:00:00.000Z',
      '2026-07-01T15:00:00.000Z',
      '2026-07-01T23:00:00.000Z',
    ]);
  });

  it('refuses an expression that never fires', () => {
    expect(() => checkCron('0 0 31 2 *', 'UTC')).toThrow(/never fires/);
    expect(() => checkCron('0 */6 * * *', 'Europe/Berlin')).not.toThrow();
  });
});

describe('fireTimesBetween', () => {
  const hourly = { preset: SchedulePreset.HOURLY, timeZone: 'Europe/Berlin' };

  it('lists the fires after one instant up to and including another, oldest first', () => {
    const fires = fireTimesBetween(hourly, new Date('2026-03-01T10:00:00Z'), new Date('2026-03-01T13:00:00Z'), 100);
    expect(fires.map((f) => f.toISOString())).toEqual(['2026-03-01T11:00:00.000Z', '2026-03-01T12:00:00.000Z', '2026-03-01T13:00:00.000Z']);
  });

  it('keeps the latest fires when there are more than asked for', () => {
    const fires = fireTimesBetween(hourly, new Date('2026-01-01T00:00:00Z'), new Date('2026-03-01T13:30:00Z'), 5);
    expect(fires.map((f) => f.toISOString())).toEqual(['2026-03-01T09:00:00.000Z', '2026-03-01T10:00:00.000Z', '2026-03-01T11:00:00.000Z', '2026-03-01T12:00:00.000Z', '2026-03-01T13:00:00.000Z']);
  });

  it('gives nothing before the first fire, and one daily fire across a spring-forward night', () => {
    expect(fireTimesBetween(hourly, new Date('2026-03-01T10:00:00Z'), new Date('2026-03-01T10:59:59Z'), 10)).toEqual([]);
    const daily = { cron: '30 2 * * *', timeZone: 'Europe/Berlin' };
    // 02:30 does not exist on 2026-03-29 in Berlin: that day's run is at 03:00 local (01:00 UTC).
    const fires = fireTimesBetween(daily, new Date('2026-03-28T00:00:00Z'), new Date('2026-03-30T12:00:00Z'), 10);
    expect(fires.map((f) => f.toISOString())).toEqual(['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
  });
});
