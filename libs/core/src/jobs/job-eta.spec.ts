import { estimateSeconds } from './job.worker';

describe('the ETA of a job', () => {
  const base = { at: 0, done: 0 };

  it('is the work left at the rate seen since the first update in the unit', () => {
    // 2,000 of 10,000 blocks in 4 s: 500 blocks/s, 8,000 left.
    expect(estimateSeconds(base, 4_000, 2_000, 10_000)).toBe(16);
    // Measured from where the unit began, not from zero: 1,000 done at the start, 1,000 more in 2 s.
    expect(estimateSeconds({ at: 1_000, done: 1_000 }, 3_000, 2_000, 10_000)).toBe(16);
  });

  it('is unknown without a total, before a second has passed, or with no progress yet', () => {
    expect(estimateSeconds(base, 4_000, 2_000, undefined)).toBeUndefined();
    expect(estimateSeconds(base, 900, 2_000, 10_000)).toBeUndefined();
    expect(estimateSeconds(base, 4_000, 0, 10_000)).toBeUndefined();
  });

  it('is never negative once the total is passed', () => {
    expect(estimateSeconds(base, 4_000, 12_000, 10_000)).toBe(0);
  });
});
