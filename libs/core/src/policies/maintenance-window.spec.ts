import { checkMaintenanceWindows, nextWindowStart, windowAt, type MaintenanceWindow, type OpenWindow } from './maintenance-window';

const iso = (window: OpenWindow | null) => window && { start: window.start.toISOString(), end: window.end.toISOString() };
const at = (instant: string) => new Date(instant);
const HOUR = 3_600_000;
const hours = (window: OpenWindow) => (window.end.getTime() - window.start.getTime()) / HOUR;

describe('windowAt', () => {
  // Tuesday 2026-06-16, Berlin on CEST (UTC+2): 09:00-17:00 local is 07:00Z-15:00Z.
  const tuesdays: MaintenanceWindow[] = [{ days: ['TUE'], start: '09:00', end: '17:00' }];
  const open = { start: '2026-06-16T07:00:00.000Z', end: '2026-06-16T15:00:00.000Z' };

  it('finds a weekday window in Europe/Berlin open from its start (inclusive) to its end (exclusive)', () => {
    expect(iso(windowAt(tuesdays, 'Europe/Berlin', at('2026-06-16T06:59:59.999Z')))).toBeNull();
    expect(iso(windowAt(tuesdays, 'Europe/Berlin', at('2026-06-16T07:00:00.000Z')))).toEqual(open);
    expect(iso(windowAt(tuesdays, 'Europe/Berlin', at('2026-06-16T07:00:00.500Z')))).toEqual(open);
    expect(iso(windowAt(tuesdays, 'Europe/Berlin', at('2026-06-16T14:59:59.999Z')))).toEqual(open);
    expect(iso(windowAt(tuesdays, 'Europe/Berlin', at('2026-06-16T15:00:00.000Z')))).toBeNull();
  });

  it('is closed at the same time of day on other weekdays, and follows the zone offset in winter', () => {
    expect(windowAt(tuesdays, 'Europe/Berlin', at('2026-06-15T10:00:00Z'))).toBeNull(); // Monday
    expect(windowAt(tuesdays, 'Europe/Berlin', at('2026-06-17T10:00:00Z'))).toBeNull(); // Wednesday
    // Tuesday 2026-01-13 on CET (UTC+1): 09:00-17:00 local is 08:00Z-16:00Z.
    expect(windowAt(tuesdays, 'Europe/Berlin', at('2026-01-13T07:59:59Z'))).toBeNull();
    expect(iso(windowAt(tuesdays, 'Europe/Berlin', at('2026-01-13T15:59:59Z')))).toEqual({
      start: '2026-01-13T08:00:00.000Z',
      end: '2026-01-13T16:00:00.000Z',
    });
  });

  it('keeps a window past midnight (FRI 22:00-02:00) open into Saturday, until 02:00 local', () => {
    const fridayNights: MaintenanceWindow[] = [{ days: ['FRI'], start: '22:00', end: '02:00' }];
    const friday = { start: '2026-06-19T20:00:00.000Z', end: '2026-06-20T00:00:00.000Z' };
    expect(windowAt(fridayNights, 'Europe/Berlin', at('2026-06-19T19:59:59.999Z'))).toBeNull(); // FRI 21:59:59.999
    expect(iso(windowAt(fridayNights, 'Europe/Berlin', at('2026-06-19T20:00:00Z')))).toEqual(friday); // FRI 22:00
    expect(iso(windowAt(fridayNights, 'Europe/Berlin', at('2026-06-19T23:30:00Z')))).toEqual(friday); // SAT 01:30
    expect(windowAt(fridayNights, 'Europe/Berlin', at('2026-06-20T00:00:00Z'))).toBeNull(); // SAT 02:00
    // The days name the day a window starts: the night from Thursday into Friday is not one.
    expect(windowAt(fridayNights, 'Europe/Berlin', at('2026-06-18T23:30:00Z'))).toBeNull(); // FRI 01:30
  });

  it('takes start === end as 24 hours', () => {
    const mondays: MaintenanceWindow[] = [{ days: ['MON'], start: '06:00', end: '06:00' }];
    const monday = { start: '2026-06-15T06:00:00.000Z', end: '2026-06-16T06:00:00.000Z' };
    expect(iso(windowAt(mondays, 'UTC', at('2026-06-15T06:00:00Z')))).toEqual(monday);
    expect(iso(windowAt(mondays, 'UTC', at('2026-06-16T05:59:59.999Z')))).toEqual(monday);
    expect(windowAt(mondays, 'UTC', at('2026-06-16T06:00:00Z'))).toBeNull();
    expect(windowAt(mondays, 'UTC', at('2026-06-15T05:59:59.999Z'))).toBeNull();
    // On consecutive days the windows follow each other.
    const twoDays: MaintenanceWindow[] = [{ days: ['MON', 'TUE'], start: '06:00', end: '06:00' }];
    expect(iso(windowAt(twoDays, 'UTC', at('2026-06-16T06:00:00Z')))).toEqual({
      start: '2026-06-16T06:00:00.000Z',
      end: '2026-06-17T06:00:00.000Z',
    });
  });

  it('returns the window ending last when several are open', () => {
    const windows: MaintenanceWindow[] = [
      { days: ['MON'], start: '08:00', end: '10:00' },
      { days: ['MON'], start: '09:00', end: '12:00' },
      { days: ['MON'], start: '07:00', end: '09:30' },
      { days: ['SUN'], start: '20:00', end: '08:00' },
    ];
    for (const list of [windows, [...windows].reverse()]) {
      expect(iso(windowAt(list, 'UTC', at('2026-06-15T06:00:00Z')))).toEqual({ start: '2026-06-14T20:00:00.000Z', end: '2026-06-15T08:00:00.000Z' });
      expect(iso(windowAt(list, 'UTC', at('2026-06-15T07:30:00Z')))).toEqual({ start: '2026-06-15T07:00:00.000Z', end: '2026-06-15T09:30:00.000Z' });
      expect(iso(windowAt(list, 'UTC', at('2026-06-15T09:15:00Z')))).toEqual({ start: '2026-06-15T09:00:00.000Z', end: '2026-06-15T12:00:00.000Z' });
      expect(windowAt(list, 'UTC', at('2026-06-15T12:00:00Z'))).toBeNull();
    }
  });

  it('finds nothing without windows', () => {
    expect(windowAt([], 'UTC', at('2026-06-15T06:00:00Z'))).toBeNull();
  });
});

describe('nextWindowStart', () => {
  // Europe/Berlin in June is UTC+2. Week of Monday 2026-06-15.
  const windows: MaintenanceWindow[] = [
    { days: ['MON', 'WED'], start: '02:00', end: '04:00' },
    { days: ['FRI'], start: '22:00', end: '02:00' },
    { days: ['SAT'], start: '10:00', end: '12:00' },
  ];

  it('finds the next of several windows, strictly after the instant, wrapping to next week', () => {
    for (const list of [windows, [...windows].reverse()]) {
      const next = (after: string) => iso(nextWindowStart(list, 'Europe/Berlin', at(after)));
      // Exactly at Monday's start: that one does not count, Wednesday's is next.
      expect(next('2026-06-15T00:00:00Z')).toEqual({ start: '2026-06-17T00:00:00.000Z', end: '2026-06-17T02:00:00.000Z' });
      expect(next('2026-06-14T23:59:59.999Z')).toEqual({ start: '2026-06-15T00:00:00.000Z', end: '2026-06-15T02:00:00.000Z' });
      // Inside Wednesday's window: Friday night's is next, ending on Saturday.
      expect(next('2026-06-17T01:00:00Z')).toEqual({ start: '2026-06-19T20:00:00.000Z', end: '2026-06-20T00:00:00.000Z' });
      expect(next('2026-06-19T21:00:00Z')).toEqual({ start: '2026-06-20T08:00:00.000Z', end: '2026-06-20T10:00:00.000Z' });
      // After Saturday's, the week starts over with Monday's.
      expect(next('2026-06-20T10:00:00Z')).toEqual({ start: '2026-06-22T00:00:00.000Z', end: '2026-06-22T02:00:00.000Z' });
    }
  });

  it('prefers the window ending last when two start together', () => {
    const sameStart: MaintenanceWindow[] = [
      { days: ['MON'], start: '08:00', end: '09:00' },
      { days: ['MON'], start: '08:00', end: '11:00' },
      { days: ['MON'], start: '08:00', end: '10:00' },
    ];
    expect(iso(nextWindowStart(sameStart, 'UTC', at('2026-06-14T00:00:00Z')))).toEqual({ start: '2026-06-15T08:00:00.000Z', end: '2026-06-15T11:00:00.000Z' });
  });

  it('works in UTC', () => {
    const thursdays: MaintenanceWindow[] = [{ days: ['THU'], start: '23:30', end: '00:15' }];
    const thursday = { start: '2026-06-18T23:30:00.000Z', end: '2026-06-19T00:15:00.000Z' };
    expect(iso(nextWindowStart(thursdays, 'UTC', at('2026-06-15T00:00:00Z')))).toEqual(thursday);
    expect(iso(windowAt(thursdays, 'UTC', at('2026-06-19T00:14:59Z')))).toEqual(thursday);
    expect(windowAt(thursdays, 'UTC', at('2026-06-19T00:15:00Z'))).toBeNull();
  });

  it('refuses to look for a window when there is none', () => {
    expect(() => nextWindowStart([], 'UTC', at('2026-06-15T00:00:00Z'))).toThrow(/no maintenance windows/);
  });
});

describe('daylight-saving changes', () => {
  const sundayNights: MaintenanceWindow[] = [{ days: ['SUN'], start: '01:00', end: '04:00' }];

  it('makes 01:00-04:00 two real hours on the night New York springs forward (2026-03-08)', () => {
    // 01:00 EST = 06:00Z; 02:00 EST jumps to 03:00 EDT; 04:00 EDT = 08:00Z.
    const window = nextWindowStart(sundayNights, 'America/New_York', at('2026-03-07T12:00:00Z'));
    expect(iso(window)).toEqual({ start: '2026-03-08T06:00:00.000Z', end: '2026-03-08T08:00:00.000Z' });
    expect(hours(window)).toBe(2);
    expect(iso(windowAt(sundayNights, 'America/New_York', at('2026-03-08T07:59:59.999Z')))).toEqual(iso(window));
    expect(windowAt(sundayNights, 'America/New_York', at('2026-03-08T08:00:00Z'))).toBeNull();
  });

  it('makes 01:00-04:00 four real hours on the night New York falls back (2026-11-01)', () => {
    // 01:00 EDT = 05:00Z (the first 01:00); 02:00 EDT goes back to 01:00 EST; 04:00 EST = 09:00Z.
    const window = nextWindowStart(sundayNights, 'America/New_York', at('2026-10-31T12:00:00Z'));
    expect(iso(window)).toEqual({ start: '2026-11-01T05:00:00.000Z', end: '2026-11-01T09:00:00.000Z' });
    expect(hours(window)).toBe(4);
    // Open through the repeated hour (01:30 EST, the second 01:30) and until 04:00 EST.
    expect(iso(windowAt(sundayNights, 'America/New_York', at('2026-11-01T06:30:00Z')))).toEqual(iso(window));
    expect(iso(windowAt(sundayNights, 'America/New_York', at('2026-11-01T08:59:59.999Z')))).toEqual(iso(window));
    expect(windowAt(sundayNights, 'America/New_York', at('2026-11-01T09:00:00Z'))).toBeNull();
    // The Sunday after is three hours again (EST: 01:00 = 06:00Z).
    expect(iso(nextWindowStart(sundayNights, 'America/New_York', window.start))).toEqual({
      start: '2026-11-08T06:00:00.000Z',
      end: '2026-11-08T09:00:00.000Z',
    });
  });

  it('is three real hours on every other Sunday of the year', () => {
    const lengths = new Map<string, number>();
    let after = at('2026-01-01T00:00:00Z');
    for (;;) {
      const window = nextWindowStart(sundayNights, 'America/New_York', after);
      if (window.start.getTime() >= Date.parse('2027-01-01T00:00:00Z')) break;
      lengths.set(window.start.toISOString().slice(0, 10), hours(window));
      expect(iso(windowAt(sundayNights, 'America/New_York', window.start))).toEqual(iso(window));
      after = window.start;
    }
    expect(lengths.size).toBe(52);
    expect([...lengths].filter(([, length]) => length !== 3)).toEqual([
      ['2026-03-08', 2],
      ['2026-11-01', 4],
    ]);
  });

  it('ends a window whose end does not exist (spring forward) at the first instant after the gap', () => {
    // Berlin 2026-03-29: 02:00 CET (01:00Z) jumps to 03:00 CEST. 02:30 does not exist.
    const endInGap: MaintenanceWindow[] = [{ days: ['SUN'], start: '00:30', end: '02:30' }];
    expect(iso(nextWindowStart(endInGap, 'Europe/Berlin', at('2026-03-28T00:00:00Z')))).toEqual({
      start: '2026-03-28T23:30:00.000Z',
      end: '2026-03-29T01:00:00.000Z',
    });
    // A start in the gap moves there too (as in croner, and schedule.ts).
    const startInGap: MaintenanceWindow[] = [{ days: ['SUN'], start: '02:30', end: '04:00' }];
    expect(iso(nextWindowStart(startInGap, 'Europe/Berlin', at('2026-03-28T00:00:00Z')))).toEqual({
      start: '2026-03-29T01:00:00.000Z',
      end: '2026-03-29T02:00:00.000Z',
    });
  });

  it('skips a window lying wholly inside the gap that night', () => {
    const inGap: MaintenanceWindow[] = [{ days: ['SUN'], start: '02:00', end: '02:45' }];
    expect(windowAt(inGap, 'Europe/Berlin', at('2026-03-29T01:00:00Z'))).toBeNull();
    expect(iso(nextWindowStart(inGap, 'Europe/Berlin', at('2026-03-28T00:00:00Z')))).toEqual({
      start: '2026-04-05T00:00:00.000Z',
      end: '2026-04-05T00:45:00.000Z',
    });
  });

  it('ends a window whose end happens twice (fall back) at its first occurrence', () => {
    // Berlin 2026-10-25: 03:00 CEST (01:00Z) goes back to 02:00 CET. 02:30 happens at 00:30Z and 01:30Z.
    const endTwice: MaintenanceWindow[] = [{ days: ['SUN'], start: '00:00', end: '02:30' }];
    const window = { start: '2026-10-24T22:00:00.000Z', end: '2026-10-25T00:30:00.000Z' };
    expect(iso(nextWindowStart(endTwice, 'Europe/Berlin', at('2026-10-24T00:00:00Z')))).toEqual(window);
    expect(windowAt(endTwice, 'Europe/Berlin', at('2026-10-25T01:15:00Z'))).toBeNull(); // the second 02:15
  });

  it('lets daily 24 h windows follow each other through a fall-back day, the long day getting 25 h', () => {
    const daily: MaintenanceWindow[] = [{ days: ['SAT', 'SUN'], start: '01:30', end: '01:30' }];
    const saturday = nextWindowStart(daily, 'America/New_York', at('2026-10-30T00:00:00Z'));
    expect(iso(saturday)).toEqual({ start: '2026-10-31T05:30:00.000Z', end: '2026-11-01T05:30:00.000Z' });
    const sunday = nextWindowStart(daily, 'America/New_York', saturday.start);
    expect(iso(sunday)).toEqual({ start: '2026-11-01T05:30:00.000Z', end: '2026-11-02T06:30:00.000Z' });
    expect(hours(sunday)).toBe(25);
    expect(iso(windowAt(daily, 'America/New_York', at('2026-11-01T06:00:00Z')))).toEqual(iso(sunday));
  });
});

describe('checkMaintenanceWindows', () => {
  const good = { days: ['MON'], start: '01:00', end: '03:00' };
  const fails = (windows: unknown) => () => checkMaintenanceWindows(windows);

  it('returns normalised copies: weekday names upper-case and in week order', () => {
    const input = [{ days: ['sun', ' fri ', 'MON'], start: '22:00', end: '02:00' }, good];
    const checked = checkMaintenanceWindows(input);
    expect(checked).toEqual([
      { days: ['MON', 'FRI', 'SUN'], start: '22:00', end: '02:00' },
      { days: ['MON'], start: '01:00', end: '03:00' },
    ]);
    expect(checked[1]).not.toBe(input[1]);
    expect(checked[1]!.days).not.toBe(good.days);
    expect(checkMaintenanceWindows([])).toEqual([]);
  });

  it('wants a list of objects', () => {
    expect(fails({ days: ['MON'] })).toThrow(new Error('maintenanceWindows must be a list of { days, start, end }, got {"days":["MON"]}'));
    expect(fails(undefined)).toThrow(new Error('maintenanceWindows must be a list of { days, start, end }, got nothing'));
    expect(fails([good, null])).toThrow(new Error('maintenanceWindows[1] must be an object { days, start, end }, got null'));
    expect(fails([['MON']])).toThrow(new Error('maintenanceWindows[0] must be an object { days, start, end }, got ["MON"]'));
    expect(fails([{ ...good, timeZone: 'UTC' }])).toThrow(
      new Error('maintenanceWindows[0] has an unknown field "timeZone" (a window has only days, start and end)'),
    );
  });

  it('explains bad days', () => {
    const list = 'MON, TUE, WED, THU, FRI, SAT, SUN';
    expect(fails([{ ...good, days: [] }])).toThrow(new Error(`maintenanceWindows[0].days must be a non-empty list of weekdays (${list}), got []`));
    expect(fails([{ start: '01:00', end: '02:00' }])).toThrow(new Error(`maintenanceWindows[0].days must be a non-empty list of weekdays (${list}), got nothing`));
    expect(fails([{ ...good, days: 'MON' }])).toThrow(new Error(`maintenanceWindows[0].days must be a non-empty list of weekdays (${list}), got "MON"`));
    expect(fails([good, { ...good, days: ['MON', 'Funday'] }])).toThrow(new Error(`maintenanceWindows[1].days[1] must be one of ${list}, got "Funday"`));
    expect(fails([{ ...good, days: [1] }])).toThrow(new Error(`maintenanceWindows[0].days[0] must be one of ${list}, got 1`));
    expect(fails([{ ...good, days: ['MON', 'TUE', 'mon'] }])).toThrow(new Error('maintenanceWindows[0].days lists MON more than once'));
  });

  it('explains bad start and end times', () => {
    expect(fails([good, { ...good, start: '25:00' }])).toThrow(new Error('maintenanceWindows[1].start must be HH:MM (00:00-23:59), got "25:00"'));
    expect(fails([{ ...good, start: '9:00' }])).toThrow(new Error('maintenanceWindows[0].start must be HH:MM (00:00-23:59), got "9:00"'));
    expect(fails([{ ...good, start: 900 }])).toThrow(new Error('maintenanceWindows[0].start must be HH:MM (00:00-23:59), got 900'));
    expect(fails([{ ...good, end: '24:00' }])).toThrow(new Error('maintenanceWindows[0].end must be HH:MM (00:00-23:59), got "24:00"'));
    expect(fails([{ ...good, end: '12:60' }])).toThrow(new Error('maintenanceWindows[0].end must be HH:MM (00:00-23:59), got "12:60"'));
    expect(fails([{ days: ['MON'], start: '01:00' }])).toThrow(new Error('maintenanceWindows[0].end must be HH:MM (00:00-23:59), got nothing'));
    expect(checkMaintenanceWindows([{ days: ['MON'], start: '00:00', end: '23:59' }])).toHaveLength(1);
  });
});
