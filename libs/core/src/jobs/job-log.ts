/**
 * A job's log in the catalog, one row a line: a running job adds only its new lines, and the
 * log survives retries and a takeover by another instance, which continues it after its last line.
 */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, LessThanOrEqual, MoreThanOrEqual, Repository } from 'typeorm';
import { JobLogLineEntity, type JobLogLine } from '../catalog/entities';

/** A job keeps its last this many lines; older ones are dropped as new ones come. */
export const MAX_LOG_LINES = 1000;
/** Lines written per INSERT, well within every catalog's limit on bound parameters. */
const INSERT_BATCH = 100;

const toLine = (row: JobLogLineEntity): JobLogLine => ({ at: row.at, level: row.level, message: row.message });

@Injectable()
export class JobLogStore {
  constructor(@InjectRepository(JobLogLineEntity) private readonly lines: Repository<JobLogLineEntity>) {}

  /** The logs of several jobs in one query, each in order; a job without lines has none in the map. */
  async forJobs(jobIds: readonly string[]): Promise<Map<string, JobLogLine[]>> {
    const logs = new Map<string, JobLogLine[]>();
    if (jobIds.length === 0) return logs;
    for (const row of await this.lines.find({ where: { jobId: In([...jobIds]) }, order: { jobId: 'ASC', seq: 'ASC' } })) {
      if (!logs.has(row.jobId)) logs.set(row.jobId, []);
      logs.get(row.jobId)!.push(toLine(row));
    }
    return logs;
  }

  async forJob(jobId: string): Promise<JobLogLine[]> {
    return (await this.lines.find({ where: { jobId }, order: { seq: 'ASC' } })).map(toLine);
  }

  /** A writer that continues the job's log after its last line. */
  async open(jobId: string): Promise<JobLogWriter> {
    const last = await this.lines.findOne({ where: { jobId }, order: { seq: 'DESC' } });
    return new JobLogWriter(this.lines, jobId, (last?.seq ?? 0) + 1, last ? toLine(last) : null);
  }

  /** Adds lines to a job's log at once (a job settled without running here). */
  async append(jobId: string, ...lines: JobLogLine[]): Promise<void> {
    const writer = await this.open(jobId);
    for (const line of lines) writer.add(line.level, line.message, line.at);
    await writer.flush();
  }
}

/** One holder's way of adding to a job's log: lines wait in memory until `flush` inserts them. */
export class JobLogWriter {
  private pending: JobLogLineEntity[] = [];
  private readonly lastBefore: JobLogLine | null;

  constructor(
    private readonly lines: Repository<JobLogLineEntity>,
    readonly jobId: string,
    private nextSeq: number,
    private last: JobLogLine | null,
  ) {
    this.startSeq = nextSeq;
    this.lastBefore = last;
  }

  /** Where this writer began: the lines from here on are its own. */
  readonly startSeq: number;

  add(level: JobLogLine['level'], message: string, at = new Date().toISOString()): void {
    this.pending.push(Object.assign(new JobLogLineEntity(), { jobId: this.jobId, seq: this.nextSeq++, at, level, message }));
    this.last = { at, level, message };
  }

  /** The newest line, written or still waiting. */
  get lastLine(): JobLogLine | null {
    return this.last;
  }

  /** Inserts the waiting lines (kept for the next flush if the catalog refuses them) and drops lines past the limit. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    for (let i = 0; i < batch.length; i += INSERT_BATCH) {
      try {
        await this.lines.insert(batch.slice(i, i + INSERT_BATCH));
      } catch (error) {
        // Each INSERT is whole or nothing: the lines not in yet wait for the next flush.
        this.pending = [...batch.slice(i), ...this.pending];
        throw error;
      }
    }
    const newest = this.nextSeq - 1;
    if (newest > MAX_LOG_LINES) await this.lines.delete({ jobId: this.jobId, seq: LessThanOrEqual(newest - MAX_LOG_LINES) });
  }

  /** Takes back every line this writer added, written or not: the log is as it was when it began. */
  async discardOwn(): Promise<void> {
    this.pending = [];
    await this.lines.delete({ jobId: this.jobId, seq: MoreThanOrEqual(this.startSeq) });
    this.nextSeq = this.startSeq;
    this.last = this.lastBefore;
  }
}
