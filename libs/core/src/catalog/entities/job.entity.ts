import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { IdColumn, JsonColumn, TimestampColumn, type JsonMap } from '../columns';

export enum JobKind {
  BACKUP = 'BACKUP',
  RESTORE = 'RESTORE',
  VERIFY = 'VERIFY',
  EXPORT = 'EXPORT',
  REPLICATE = 'REPLICATE',
  PRUNE = 'PRUNE',
  CHECK = 'CHECK',
}

export enum JobStatus {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  /** A disruptive job stopped by a cancel or a shutdown, whose plugin cleanup (starting its nodes again) still runs. */
  CANCELLING = 'CANCELLING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
  SKIPPED = 'SKIPPED',
}

export interface JobProgress {
  unit: 'bytes' | 'blocks' | 'files' | 'steps';
  done: number;
  total?: number;
  message?: string;
  /** Seconds until `total` is reached at the rate seen so far, when both are known. */
  etaSeconds?: number;
  updatedAt: string;
}

export interface JobLogLine {
  at: string;
  level: 'info' | 'warn' | 'error';
  message: string;
}

/** A unit of work that survives restarts: what to do, how far it got, and how it ended. */
@Entity('job')
@Index('ix_job_status_created', ['status', 'createdAt'])
@Index('ix_job_created', ['createdAt', 'id'])
@Index('ix_job_backup', ['backupId'])
@Index('uq_job_policy_fire', ['policyId', 'scheduledFor'], { unique: true })
@Index('uq_job_active_backup', ['policyId'], { unique: true, where: "kind = 'BACKUP' AND status IN ('QUEUED', 'RUNNING', 'CANCELLING')" })
export class JobEntity {
  @PrimaryColumn({ type: 'varchar', length: 36, primaryKeyConstraintName: 'pk_job' })
  id!: string;

  @Column({ type: 'varchar', length: 16 })
  kind!: JobKind;

  @Column({ type: 'varchar', length: 16 })
  status!: JobStatus;

  @IdColumn({ name: 'policy_id', nullable: true })
  policyId!: string | null;

  /** The backup this job produces (BACKUP), reads (RESTORE, EXPORT) or checks (VERIFY). */
  @IdColumn({ name: 'backup_id', nullable: true })
  backupId!: string | null;

  @IdColumn({ name: 'restore_id', nullable: true })
  restoreId!: string | null;

  @JsonColumn()
  payload!: JsonMap;

  @JsonColumn({ nullable: true })
  progress!: JobProgress | null;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  @JsonColumn({ nullable: true })
  result!: JsonMap | null;

  /** What a disruptive plugin run saved for its cleanup (the nodes it stopped). */
  @JsonColumn({ name: 'plugin_state', nullable: true })
  pluginState!: JsonMap | null;

  @Column({ type: 'integer' })
  attempts!: number;

  /** Which server instance runs the job, and until when its claim holds. */
  @Column({ name: 'lease_owner', type: 'varchar', length: 64, nullable: true })
  leaseOwner!: string | null;

  @TimestampColumn({ name: 'lease_expires_at', nullable: true })
  leaseExpiresAt!: Date | null;

  @TimestampColumn({ name: 'created_at' })
  createdAt!: Date;

  /** The schedule fire this job was created for; null for jobs asked for by someone. */
  @TimestampColumn({ name: 'scheduled_for', nullable: true })
  scheduledFor!: Date | null;

  /** Not claimed before this time (a retry's backoff, the next maintenance window). */
  @TimestampColumn({ name: 'not_before', nullable: true })
  notBefore!: Date | null;

  @TimestampColumn({ name: 'started_at', nullable: true })
  startedAt!: Date | null;

  @TimestampColumn({ name: 'finished_at', nullable: true })
  finishedAt!: Date | null;
}
