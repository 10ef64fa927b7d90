/**
 * What `--wait` shows while a job runs, on stderr: a live bar redrawn on one line on a
 * terminal, plain lines otherwise (logs, CI), and every warning or error of the job's log as
 * it appears, so each failed attempt is seen when it fails and not only at the end.
 */
import { RateMeter, plainProgressLine, progressLine, type ProgressReport } from './job-progress';

export interface WatchedJob {
  status: string;
  progress?: (ProgressReport & { updatedAt?: string }) | null;
  log?: { at: string; level: string; message: string }[];
}

/** A plain progress line at most this often, unless its message changes. */
const PLAIN_EVERY_MS = 5_000;

export class JobWatch {
  private readonly rate = new RateMeter();
  private logSeen = 0;
  private barShown = false;
  private lastPlain = { at: -Infinity, message: '' as string | null | undefined };

  constructor(
    private readonly out: Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean; columns?: number } = process.stderr,
    /** False for --json: the log's warnings still go to stderr, the progress does not. */
    private readonly showProgress = true,
    private readonly now: () => number = Date.now,
  ) {}

  /** Shows what is new in this poll of the job. */
  update(job: WatchedJob): void {
    const log = job.log ?? [];
    // A log shorter than before was rewritten: nothing of it is new.
    if (log.length < this.logSeen) this.logSeen = log.length;
    for (const line of log.slice(this.logSeen)) {
      if (line.level === 'warn' || line.level === 'error') this.printLine(`  ${line.level}: ${line.message}`);
    }
    this.logSeen = log.length;
    if (!this.showProgress || !job.progress) return;
    this.rate.add(this.now(), job.progress.done);
    const perSecond = this.rate.perSecond();
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[K${progressLine(job.status, job.progress, perSecond, this.out.columns || 80)}`);
      this.barShown = true;
      return;
    }
    const at = this.now();
    if (job.progress.message !== this.lastPlain.message || at - this.lastPlain.at >= PLAIN_EVERY_MS) {
      this.out.write(`${plainProgressLine(job.status, job.progress, perSecond)}\n`);
      this.lastPlain = { at, message: job.progress.message };
    }
  }

  /** Leaves the last bar where it is and moves below it. */
  end(): void {
    if (this.barShown) this.out.write('\n');
    this.barShown = false;
  }

  private printLine(text: string): void {
    // Over the bar, which the next update draws again below the line.
    this.out.write(this.barShown ? `\r\x1b[K${text}\n` : `${text}\n`);
    this.barShown = false;
  }
}
