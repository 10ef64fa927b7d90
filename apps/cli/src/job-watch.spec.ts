import { JobWatch } from './job-watch';

function output(isTTY: boolean) {
  const written: string[] = [];
  return { out: { isTTY, columns: 100, write: (s: string) => written.push(s) > 0 }, written };
}

/** Back to the start of the line, and clear it. */
const CLEAR = '\r\x1b[K';

const attemptFailed = [
  { at: 't1', level: 'info', message: 'started (attempt 1)' },
  { at: 't2', level: 'error', message: 'ENOENT: no such file or directory, scandir /srv/gone' },
  { at: 't3', level: 'warn', message: 'attempt 1 of 3 failed with an error that may pass; retrying at …' },
];

describe('JobWatch', () => {
  it('prints each warning and error of the log once, as it appears', () => {
    const { out, written } = output(false);
    const watch = new JobWatch(out, true, () => 0);
    watch.update({ status: 'RUNNING', log: attemptFailed.slice(0, 2) });
    watch.update({ status: 'QUEUED', log: attemptFailed });
    watch.update({ status: 'FAILED', log: [...attemptFailed, { at: 't4', level: 'error', message: 'ENOENT again' }] });
    expect(written).toEqual(['  error: ENOENT: no such file or directory, scandir /srv/gone\n', '  warn: attempt 1 of 3 failed with an error that may pass; retrying at …\n', '  error: ENOENT again\n']);
  });

  it('redraws one line on a terminal and prints log lines above it', () => {
    const { out, written } = output(true);
    let now = 0;
    const watch = new JobWatch(out, true, () => now);
    watch.update({ status: 'RUNNING', progress: { unit: 'bytes', done: 0, total: 1024 ** 2 } });
    now = 1000;
    watch.update({ status: 'RUNNING', progress: { unit: 'bytes', done: 512 * 1024, total: 1024 ** 2 }, log: [attemptFailed[1]] });
    watch.end();
    expect(written[0].startsWith(CLEAR)).toBe(true);
    expect(written[0].slice(CLEAR.length)).toMatch(/^running {2}\[\.+\] {3}0% {2}0 B \/ 1\.0 MiB$/);
    expect(written[1]).toBe(`${CLEAR}  error: ENOENT: no such file or directory, scandir /srv/gone\n`);
    expect(written[2].startsWith(CLEAR)).toBe(true);
    expect(written[2].slice(CLEAR.length)).toMatch(/^running {2}\[#+\.+\] {2}50% {2}512\.0 KiB \/ 1\.0 MiB {2}512\.0 KiB\/s {2}ETA 1s$/);
    expect(written[3]).toBe('\n');
  });

  it('prints plain progress lines no more than every few seconds off a terminal', () => {
    const { out, written } = output(false);
    let now = 0;
    const watch = new JobWatch(out, true, () => now);
    for (; now < 10_000; now += 500) watch.update({ status: 'RUNNING', progress: { unit: 'blocks', done: now } });
    expect(written).toHaveLength(2);
    expect(written[0]).toBe('  running: 0 blocks\n');
  });

  it('shows no progress for --json, only the log', () => {
    const { out, written } = output(true);
    const watch = new JobWatch(out, false, () => 0);
    watch.update({ status: 'RUNNING', progress: { unit: 'blocks', done: 5 }, log: attemptFailed });
    watch.end();
    expect(written).toHaveLength(2);
  });
});
