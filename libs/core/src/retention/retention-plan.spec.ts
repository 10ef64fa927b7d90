import { NO_RULE_MATCHED, planRetention, type RetentionCandidate, type RetentionDecision } from './retention-plan';

const UTC = { timeZone: 'UTC' };

/** A completed, unverified, unpinned backup with no dependency, unless told otherwise. */
function backup(id: string, createdAt: string, extra: Partial<RetentionCandidate> = {}): RetentionCandidate {
  return { id, createdAt: new Date(createdAt), pinned: false, verification: 'UNVERIFIED', status: 'COMPLETED', dependsOnId: null, ...extra };
}

const keptIds = (plan: RetentionDecision[]) => plan.filter((d) => d.keep).map((d) => d.id);
const reasonsById = (plan: RetentionDecision[]) => Object.fromEntries(plan.map((d) => [d.id, d.reasons]));

describe('a simulated history: a backup every 6 hours from mid-September to the end of March', () => {
  // 2025-09-16T00 to 2026-03-31T18 (UTC), ids like '2026-03-31T18': 197 days, 788 backups.
  const history: RetentionCandidate[] = [];
  for (let t = Date.parse('2025-09-16T00:00:00Z'); t <= Date.parse('2026-03-31T18:00:00Z'); t += 6 * 3_600_000) {
    const iso = new Date(t).toISOString();
    history.push(backup(iso.slice(0, 13), iso));
  }
  const rules = { keepLast: 5, keepDaily: 14, keepWeekly: 8, keepMonthly: 6 };

  // What each rule keeps, worked out by hand from the calendar (2026-03-31 is a Tuesday).
  const last = ['2026-03-31T18', '2026-03-31T12', '2026-03-31T06', '2026-03-31T00', '2026-03-30T18'];
  const daily = Array.from({ length: 14 }, (_, i) => `2026-03-${String(31 - i).padStart(2, '0')}T18`); // 31st back to 18th
  // The last backup of each ISO week: this week's Tuesday, then the seven Sundays before it.
  const weekly = ['2026-03-31T18', '2026-03-29T18', '2026-03-22T18', '2026-03-15T18', '2026-03-08T18', '2026-03-01T18', '2026-02-22T18', '2026-02-15T18'];
  // The last backup of each month; September is the seventh month back, so it keeps nothing.
  const monthly = ['2026-03-31T18', '2026-02-28T18', '2026-01-31T18', '2025-12-31T18', '2025-11-30T18', '2025-10-31T18'];

  const plan = planRetention(history, rules, UTC);

  it('keeps exactly the union of what the rules match', () => {
    expect(history).toHaveLength(788);
    const expected = [...new Set([...last, ...daily, ...weekly, ...monthly])].sort().reverse();
    expect(keptIds(plan)).toEqual(expected);
    expect(keptIds(plan)).toHaveLength(27);
  });

  it('lists every reason that keeps a backup, naming the bucket', () => {
    const reasons = reasonsById(plan);
    expect(reasons['2026-03-31T18']).toEqual(['last 1', 'daily 2026-03-31', 'weekly 2026-W14', 'monthly 2026-03', 'newest not known corrupt']);
    expect(reasons['2026-03-30T18']).toEqual(['last 5', 'daily 2026-03-30']);
    expect(reasons['2026-03-29T18']).toEqual(['daily 2026-03-29', 'weekly 2026-W13']);
    expect(reasons['2026-02-15T18']).toEqual(['weekly 2026-W07']);
    expect(reasons['2025-10-31T18']).toEqual(['monthly 2025-10']);
  });

  it('deletes everything else, saying it matched no rule', () => {
    const deleted = plan.filter((d) => !d.keep);
    expect(deleted).toHaveLength(788 - 27);
    for (const decision of deleted) expect(decision.reasons).toEqual([NO_RULE_MATCHED]);
    expect(reasonsById(plan)['2025-09-30T18']).toEqual([NO_RULE_MATCHED]);
  });

  it('returns one decision per backup, newest first', () => {
    expect(plan.map((d) => d.id)).toEqual(history.map((b) => b.id).reverse());
  });
});

describe('calendar buckets in the policy time zone', () => {
  // 23:30 and 00:30 UTC: the 4th and the 5th in UTC, both the evening of the 4th in New York.
  const aroundMidnightUtc = [backup('early', '2026-03-03T15:00:00Z'), backup('before', '2026-03-04T23:30:00Z'), backup('after', '2026-03-05T00:30:00Z')];

  it('counts days in UTC when the policy is in UTC', () => {
    const reasons = reasonsById(planRetention(aroundMidnightUtc, { keepDaily: 2 }, UTC));
    expect(reasons).toEqual({ after: ['daily 2026-03-05', 'newest not known corrupt'], before: ['daily 2026-03-04'], early: [NO_RULE_MATCHED] });
  });

  it('counts days in New York when the policy is in New York', () => {
    const reasons = reasonsById(planRetention(aroundMidnightUtc, { keepDaily: 2 }, { timeZone: 'America/New_York' }));
    expect(reasons).toEqual({ after: ['daily 2026-03-04', 'newest not known corrupt'], before: [NO_RULE_MATCHED], early: ['daily 2026-03-03'] });
  });

  it('makes one daily bucket of the 23-hour day Berlin springs forward (2026-03-29)', () => {
    const backups = [
      backup('28th-late', '2026-03-28T22:30:00Z'), // 23:30 CET, the 28th
      backup('29th-early', '2026-03-28T23:30:00Z'), // 00:30 CET, the 29th
      backup('29th-late', '2026-03-29T21:30:00Z'), // 23:30 CEST, the 29th
      backup('30th-early', '2026-03-29T22:30:00Z'), // 00:30 CEST, the 30th
    ];
    const reasons = reasonsById(planRetention(backups, { keepDaily: 10 }, { timeZone: 'Europe/Berlin' }));
    expect(reasons).toEqual({
      '30th-early': ['daily 2026-03-30', 'newest not known corrupt'],
      '29th-late': ['daily 2026-03-29'],
      '29th-early': [NO_RULE_MATCHED],
      '28th-late': ['daily 2026-03-28'],
    });
  });

  it('makes one daily bucket of the 25-hour day New York falls back (2026-11-01)', () => {
    const backups = [
      backup('31st-late', '2026-11-01T03:30:00Z'), // 23:30 EDT, 31 October
      backup('1st-early', '2026-11-01T04:30:00Z'), // 00:30 EDT, 1 November
      backup('1st-late', '2026-11-02T04:30:00Z'), // 23:30 EST, 1 November
      backup('2nd-early', '2026-11-02T05:30:00Z'), // 00:30 EST, 2 November
    ];
    const reasons = reasonsById(planRetention(backups, { keepDaily: 10 }, { timeZone: 'America/New_York' }));
    expect(reasons).toEqual({
      '2nd-early': ['daily 2026-11-02', 'newest not known corrupt'],
      '1st-late': ['daily 2026-11-01'],
      '1st-early': [NO_RULE_MATCHED],
      '31st-late': ['daily 2026-10-31'],
    });
  });

  it('counts the hour repeated when New York falls back as two hours', () => {
    const backups = [
      backup('first-1:10', '2026-11-01T05:10:00Z'), // 01:10 EDT
      backup('first-1:40', '2026-11-01T05:40:00Z'), // 01:40 EDT
      backup('second-1:10', '2026-11-01T06:10:00Z'), // 01:10 EST
      backup('second-1:40', '2026-11-01T06:40:00Z'), // 01:40 EST
      backup('2:10', '2026-11-01T07:10:00Z'), // 02:10 EST
    ];
    const reasons = reasonsById(planRetention(backups, { keepHourly: 3 }, { timeZone: 'America/New_York' }));
    expect(reasons).toEqual({
      '2:10': ['hourly 2026-11-01T02-05:00', 'newest not known corrupt'],
      'second-1:40': ['hourly 2026-11-01T01-05:00'],
      'second-1:10': [NO_RULE_MATCHED],
      'first-1:40': ['hourly 2026-11-01T01-04:00'],
      'first-1:10': [NO_RULE_MATCHED],
    });
  });

  it('numbers ISO weeks across a new year (2026 has 53 weeks) and buckets years locally', () => {
    const backups = [
      backup('mon-28-dec', '2026-12-28T12:00:00Z'),
      backup('sun-3-jan', '2027-01-03T12:00:00Z'),
      backup('mon-4-jan', '2027-01-04T12:00:00Z'),
    ];
    expect(reasonsById(planRetention(backups, { keepWeekly: 5 }, UTC))).toEqual({
      'mon-4-jan': ['weekly 2027-W01', 'newest not known corrupt'],
      'sun-3-jan': ['weekly 2026-W53'],
      'mon-28-dec': [NO_RULE_MATCHED],
    });
    // Both in 2026 in UTC; in Tokyo (UTC+9) 23:00 on 31 December, then 08:00 on 1 January 2027.
    const newYear = [backup('tokyo-2026', '2026-12-31T14:00:00Z'), backup('tokyo-2027', '2026-12-31T23:00:00Z')];
    expect(keptIds(planRetention(newYear, { keepYearly: 2 }, UTC)).length).toBe(1);
    expect(reasonsById(planRetention(newYear, { keepYearly: 2 }, { timeZone: 'Asia/Tokyo' }))).toEqual({
      'tokyo-2027': ['yearly 2027', 'newest not known corrupt'],
      'tokyo-2026': ['yearly 2026'],
    });
  });

  it('refuses an unknown time zone', () => {
    expect(() => planRetention([], { keepDaily: 1 }, { timeZone: 'Mars/Olympus_Mons' })).toThrow(/unknown time zone "Mars\/Olympus_Mons"/);
  });
});

describe('keepWithin', () => {
  it('measures from the newest backup, not from the clock, so a stopped policy keeps its last backups', () => {
    // Years in the past: measured from now, nothing would be within two days.
    const backups = [
      backup('newest', '2020-01-10T12:00:00Z'),
      backup('exactly-2d', '2020-01-08T12:00:00Z'),
      backup('just-older', '2020-01-08T11:59:59Z'),
    ];
    expect(reasonsById(planRetention(backups, { keepWithin: '2d' }, UTC))).toEqual({
      newest: ['within 2d', 'newest not known corrupt'],
      'exactly-2d': ['within 2d'],
      'just-older': [NO_RULE_MATCHED],
    });
  });

  it('subtracts calendar months and years, clamped to the end of the month', () => {
    const month = [backup('newest', '2026-03-31T10:00:00Z'), backup('28-feb', '2026-02-28T10:00:00Z'), backup('before', '2026-02-28T09:59:00Z')];
    expect(keptIds(planRetention(month, { keepWithin: '1m' }, UTC))).toEqual(['newest', '28-feb']);
    const year = [backup('leap-day', '2024-02-29T12:00:00Z'), backup('year-before', '2023-02-28T12:00:00Z'), backup('before', '2023-02-28T11:00:00Z')];
    expect(keptIds(planRetention(year, { keepWithin: '1y' }, UTC))).toEqual(['leap-day', 'year-before']);
  });

  it('keeps hours and weeks as fixed lengths', () => {
    const backups = [backup('newest', '2026-03-29T12:00:00Z'), backup('12h', '2026-03-29T00:00:00Z'), backup('13h', '2026-03-28T23:00:00Z'), backup('1w', '2026-03-22T12:00:00Z')];
    expect(keptIds(planRetention(backups, { keepWithin: '12h' }, UTC))).toEqual(['newest', '12h']);
    expect(keptIds(planRetention(backups, { keepWithin: '1w' }, UTC))).toEqual(['newest', '12h', '13h', '1w']);
  });

  it.each(['30', 'd', '1.5d', '30D', '30 d', ' 30d', '-1d', '0d', '10min', '1M', ''])('refuses the duration %j', (duration) => {
    expect(() => planRetention([backup('a', '2026-01-01T00:00:00Z')], { keepWithin: duration }, UTC)).toThrow(/keepWithin must be a duration/);
  });
});

describe('safety', () => {
  it('never deletes the last verified-good backup, even when no rule keeps it', () => {
    const backups = [
      backup('corrupt', '2026-03-04T00:00:00Z', { verification: 'CORRUPT' }),
      backup('unverified', '2026-03-03T00:00:00Z'),
      backup('verified', '2026-03-02T00:00:00Z', { verification: 'VERIFIED' }),
      backup('older-verified', '2026-03-01T00:00:00Z', { verification: 'VERIFIED' }),
    ];
    expect(reasonsById(planRetention(backups, { keepLast: 1 }, UTC))).toEqual({
      // A corrupt backup still counts for the rules.
      corrupt: ['last 1'],
      unverified: [NO_RULE_MATCHED],
      verified: ['last verified good'],
      'older-verified': [NO_RULE_MATCHED],
    });
  });

  it('keeps the newest backup not known corrupt when none is verified', () => {
    const backups = [
      backup('corrupt-1', '2026-03-04T00:00:00Z', { verification: 'CORRUPT' }),
      backup('corrupt-2', '2026-03-03T00:00:00Z', { verification: 'CORRUPT' }),
      backup('unverified-1', '2026-03-02T00:00:00Z'),
      backup('unverified-2', '2026-03-01T00:00:00Z'),
    ];
    expect(reasonsById(planRetention(backups, { keepLast: 1 }, UTC))).toEqual({
      'corrupt-1': ['last 1'],
      'corrupt-2': [NO_RULE_MATCHED],
      'unverified-1': ['newest not known corrupt'],
      'unverified-2': [NO_RULE_MATCHED],
    });
  });

  it('keeps the newest backup when every one is corrupt, so nothing deletes them all', () => {
    const backups = [backup('old', '2026-03-01T00:00:00Z', { verification: 'CORRUPT' }), backup('new', '2026-03-02T00:00:00Z', { verification: 'CORRUPT' })];
    expect(reasonsById(planRetention(backups, { keepLast: 0 }, UTC))).toEqual({ new: ['newest, all corrupt'], old: [NO_RULE_MATCHED] });
  });

  it('keeps what the safety backup depends on', () => {
    const backups = [
      backup('base', '2026-03-01T00:00:00Z'),
      backup('verified', '2026-03-02T00:00:00Z', { verification: 'VERIFIED', dependsOnId: 'base' }),
      backup('newest', '2026-03-03T00:00:00Z'),
    ];
    expect(reasonsById(planRetention(backups, { keepLast: 1 }, UTC))).toEqual({
      newest: ['last 1'],
      verified: ['last verified good'],
      base: ['needed by verified'],
    });
  });
});

describe('dependencies', () => {
  it('keeps the whole chain a kept backup continues, A <- B <- C <- D', () => {
    const backups = [
      backup('Z', '2026-02-28T00:00:00Z'),
      backup('A', '2026-03-01T00:00:00Z'),
      backup('B', '2026-03-02T00:00:00Z', { dependsOnId: 'A' }),
      backup('C', '2026-03-03T00:00:00Z', { dependsOnId: 'B' }),
      backup('D', '2026-03-04T00:00:00Z', { dependsOnId: 'C' }),
    ];
    expect(reasonsById(planRetention(backups, { keepLast: 1 }, UTC))).toEqual({
      D: ['last 1', 'newest not known corrupt'],
      C: ['needed by D'],
      B: ['needed by C'],
      A: ['needed by B'],
      Z: [NO_RULE_MATCHED],
    });
  });

  it('names every kept backup that needs a shared base, and ignores a dependency outside the plan', () => {
    const backups = [
      backup('base', '2026-03-01T00:00:00Z', { dependsOnId: 'another-policys-backup' }),
      backup('E', '2026-03-02T00:00:00Z', { dependsOnId: 'base' }),
      backup('F', '2026-03-03T00:00:00Z', { dependsOnId: 'base' }),
    ];
    expect(reasonsById(planRetention(backups, { keepLast: 2 }, UTC))).toEqual({
      F: ['last 1', 'newest not known corrupt'],
      E: ['last 2'],
      base: ['needed by F', 'needed by E'],
    });
  });

  it('does not keep a dependency whose dependants are all deleted', () => {
    const backups = [backup('A', '2026-03-01T00:00:00Z'), backup('B', '2026-03-02T00:00:00Z', { dependsOnId: 'A' }), backup('C', '2026-03-03T00:00:00Z')];
    expect(keptIds(planRetention(backups, { keepLast: 1 }, UTC))).toEqual(['C']);
  });
});

describe('rules and input', () => {
  const three = [backup('old', '2026-03-01T00:00:00Z'), backup('mid', '2026-03-02T00:00:00Z'), backup('new', '2026-03-03T00:00:00Z')];

  it('always keeps pinned backups', () => {
    const backups = [backup('pinned-old', '2025-01-01T00:00:00Z', { pinned: true }), backup('old', '2025-06-01T00:00:00Z'), backup('new', '2026-03-03T00:00:00Z')];
    expect(reasonsById(planRetention(backups, { keepLast: 1 }, UTC))).toEqual({
      new: ['last 1', 'newest not known corrupt'],
      old: [NO_RULE_MATCHED],
      'pinned-old': ['pinned'],
    });
  });

  it('keeps everything when no rule is set', () => {
    for (const rules of [{}, { keepLast: undefined, keepWithin: undefined }]) {
      const plan = planRetention(three, rules, UTC);
      expect(plan.every((d) => d.keep)).toBe(true);
      expect(reasonsById(plan)).toEqual({ new: ['no retention rules', 'newest not known corrupt'], mid: ['no retention rules'], old: ['no retention rules'] });
    }
  });

  it('treats a rule of 0 as keeping nothing: only the safety backup is left', () => {
    const rules = { keepLast: 0, keepHourly: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0, keepYearly: 0 };
    expect(reasonsById(planRetention(three, rules, UTC))).toEqual({ new: ['newest not known corrupt'], mid: [NO_RULE_MATCHED], old: [NO_RULE_MATCHED] });
  });

  it.each([-1, 1.5, Number.NaN])('refuses a count of %p', (count) => {
    expect(() => planRetention(three, { keepDaily: count }, UTC)).toThrow(/keepDaily must be a whole number/);
  });

  it('gives the same plan whatever the input order', () => {
    const backups = Array.from({ length: 40 }, (_, i) =>
      backup(`b${String(i).padStart(2, '0')}`, new Date(Date.parse('2026-01-01T00:00:00Z') + i * 7 * 3_600_000).toISOString(), { dependsOnId: i % 3 === 0 ? null : `b${String(i - 1).padStart(2, '0')}` }),
    );
    const rules = { keepLast: 2, keepDaily: 3, keepWeekly: 2 };
    const inOrder = planRetention(backups, rules, UTC);
    const reversed = planRetention([...backups].reverse(), rules, UTC);
    const interleaved = planRetention([...backups.filter((_, i) => i % 2 === 1), ...backups.filter((_, i) => i % 2 === 0)], rules, UTC);
    expect(reversed).toEqual(inOrder);
    expect(interleaved).toEqual(inOrder);
    expect(inOrder[0].id).toBe('b39');
  });

  it('breaks a tie on createdAt by id, the greater id counting as newer', () => {
    const tied = [backup('a', '2026-03-01T00:00:00Z'), backup('b', '2026-03-01T00:00:00Z')];
    for (const backups of [tied, [...tied].reverse()]) {
      expect(planRetention(backups, { keepLast: 1 }, UTC).map((d) => [d.id, d.keep])).toEqual([
        ['b', true],
        ['a', false],
      ]);
    }
  });

  it('plans nothing for no backups, and refuses a backup listed twice', () => {
    expect(planRetention([], { keepLast: 3 }, UTC)).toEqual([]);
    expect(() => planRetention([...three, three[0]], { keepLast: 3 }, UTC)).toThrow(/backup old is listed twice/);
  });
});
