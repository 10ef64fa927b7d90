import { RateMeter, formatAmount, formatBytes, formatDuration, plainProgressLine, progressBar, progressLine } from './job-progress';

describe('job progress formatting', () => {
  it('formats bytes, counts, rates and durations as a person reads them', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
    expect(formatAmount('blocks', 1234567)).toBe('1,234,567 blocks');
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(187)).toBe('3:07');
    expect(formatDuration(3723)).toBe('1:02:03');
  });

  it('draws a bar for the fraction done, clamped', () => {
    expect(progressBar(0.5, 10)).toBe('[#####.....]');
    expect(progressBar(0, 4)).toBe('[....]');
    expect(progressBar(1.7, 4)).toBe('[####]');
  });

  it('shows done of total, percent, rate and time left when the total is known', () => {
    const line = progressLine('RUNNING', { unit: 'bytes', done: 512 * 1024 ** 2, total: 2048 * 1024 ** 2, message: 'packing' }, 64 * 1024 ** 2, 110);
    expect(line).toBe('running  [########......................]  25%  512.0 MiB / 2.0 GiB  64.0 MiB/s  ETA 24s  packing');
  });

  it("prefers the server's time left, and shows blocks without a bar when the total is unknown", () => {
    expect(progressLine('RUNNING', { unit: 'blocks', done: 1000, total: 4000, etaSeconds: 90 }, 10, 80)).toContain('1,000 / 4,000 blocks  10 blocks/s  ETA 1:30');
    expect(progressLine('RUNNING', { unit: 'blocks', done: 1500 }, 250, 80)).toBe('running  1,500 blocks  250 blocks/s');
  });

  it('leaves out the time left once everything is done', () => {
    expect(progressLine('COMPLETED', { unit: 'bytes', done: 1024, total: 1024, etaSeconds: 0 }, 512, 80)).toBe('completed  [##########] 100%  1.0 KiB / 1.0 KiB  512 B/s');
  });

  it('fits the line to the terminal', () => {
    const line = progressLine('RUNNING', { unit: 'files', done: 3, total: 10, message: 'x'.repeat(200) }, null, 60);
    expect(line.length).toBeLessThanOrEqual(59);
    expect(line.endsWith('…')).toBe(true);
  });

  it('writes plain lines without a bar for logs', () => {
    expect(plainProgressLine('RUNNING', { unit: 'bytes', done: 1024, total: 4096 }, null)).toBe('  running: 25% 1.0 KiB / 4.0 KiB');
  });

  it('measures the rate over the recent samples, and starts over when a retry counts from zero', () => {
    const meter = new RateMeter(10_000);
    expect(meter.perSecond()).toBeNull();
    meter.add(0, 0);
    meter.add(1000, 100);
    expect(meter.perSecond()).toBe(100);
    meter.add(20_000, 100);
    meter.add(21_000, 100);
    // The fast start is out of the window: the job stalls, and the rate says so.
    expect(meter.perSecond()).toBe(0);
    meter.add(22_000, 10);
    expect(meter.perSecond()).toBeNull();
  });
});
