import { describeRetention, formatInZone, mergeRetention, parsePreset, parseRuleCount, parseRuleDuration, parseWindow, scheduleInput } from './policy-input';

describe('policy flags', () => {
  it('reads maintenance windows with ranges, lists, wrap-around and every day', () => {
    expect(parseWindow('MON-FRI 01:00-05:00')).toEqual({ days: ['MON', 'TUE', 'WED', 'THU', 'FRI'], start: '01:00', end: '05:00' });
    expect(parseWindow('sat,sun 22:00-2:00')).toEqual({ days: ['SAT', 'SUN'], start: '22:00', end: '02:00' });
    expect(parseWindow('FRI-MON 23:00-04:00').days).toEqual(['MON', 'FRI', 'SAT', 'SUN']);
    expect(parseWindow('* 00:00-06:00').days).toHaveLength(7);
  });

  it('refuses a window it cannot read, saying the shape', () => {
    expect(() => parseWindow('MON-FRI')).toThrow(/a window is "DAYS HH:MM-HH:MM", e.g. "MON-FRI 01:00-05:00"/);
    expect(() => parseWindow('MON-FRY 01:00-05:00')).toThrow(/"FRY" in "MON-FRY 01:00-05:00" is not a weekday; use MON, TUE/);
    expect(() => parseWindow('MON 25:00-05:00')).toThrow(/"25:00" .* is not a time HH:MM/);
  });

  it('reads presets in any case and refuses unknown ones by listing the known', () => {
    expect(parsePreset('twice-daily')).toBe('TWICE_DAILY');
    expect(() => parsePreset('weekly')).toThrow(/use HOURLY, DAILY, TWICE_DAILY, THREE_TIMES_DAILY, FOUR_TIMES_DAILY/);
  });

  it('reads retention rules, "none" dropping one', () => {
    expect(parseRuleCount('7')).toBe(7);
    expect(parseRuleCount('none')).toBe('none');
    expect(() => parseRuleCount('-1')).toThrow(/whole number/);
    expect(parseRuleDuration('30d')).toBe('30d');
    expect(() => parseRuleDuration('30 days')).toThrow(/12h, 30d, 8w, 6m \(months\) or 1y/);
    expect(mergeRetention({ keepLast: 7, keepDaily: 3, keepWeekly: null }, { keepDaily: 14, keepLast: 'none' })).toEqual({ keepDaily: 14 });
    expect(describeRetention({ keepDaily: 14, keepWithin: '30d' })).toBe('keep-daily 14, keep-within 30d');
    expect(describeRetention({ keepLast: null })).toMatch(/^none/);
  });

  it('builds a schedule over the current one: a preset replaces a cron, the time zone is kept', () => {
    expect(scheduleInput({})).toBeUndefined();
    expect(scheduleInput({ cron: '30 2 * * *', timeZone: 'Europe/Berlin' })).toEqual({ cron: '30 2 * * *', timeZone: 'Europe/Berlin' });
    const current = { preset: null, cron: '30 2 * * *', timeZone: 'Europe/Berlin', jitterSeconds: null, outsideWindow: 'WAIT' };
    expect(scheduleInput({ preset: 'HOURLY' }, current)).toEqual({ preset: 'HOURLY', timeZone: 'Europe/Berlin', outsideWindow: 'WAIT' });
    expect(scheduleInput({ timeZone: 'Asia/Tokyo', outsideWindow: 'skip' }, current)).toEqual({ cron: '30 2 * * *', timeZone: 'Asia/Tokyo', outsideWindow: 'SKIP' });
    expect(() => scheduleInput({ timeZone: 'UTC' })).toThrow(/no schedule yet: give --preset .* or --cron/);
    expect(() => scheduleInput({ preset: 'DAILY', cron: '* * * * *' })).toThrow(/--preset or --cron, not both/);
  });

  it("shows an instant on the policy's wall clock", () => {
    expect(formatInZone(new Date('2026-07-01T00:30:00Z'), 'Europe/Berlin')).toBe('Wed 2026-07-01 02:30 GMT+2');
    expect(formatInZone(new Date('2026-12-01T15:00:00Z'), 'UTC')).toBe('Tue 2026-12-01 15:00 UTC');
  });
});
