import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One line of a job's log. Lines are only ever added (and the oldest dropped past a limit), never rewritten. */
@Entity('job_log')
export class JobLogLineEntity {
  @PrimaryColumn({ name: 'job_id', type: 'varchar', length: 36, primaryKeyConstraintName: 'pk_job_log' })
  jobId!: string;

  /** The line's place in the job's log, over every attempt: 1, 2, 3 … */
  @PrimaryColumn({ type: 'integer', primaryKeyConstraintName: 'pk_job_log' })
  seq!: number;

  /** ISO-8601 UTC, as the line was written (kept as text: lines moved from older catalogs keep theirs exactly). */
  @Column({ type: 'varchar', length: 24 })
  at!: string;

  @Column({ type: 'varchar', length: 8 })
  level!: 'info' | 'warn' | 'error';

  @Column({ type: 'text' })
  message!: string;
}
