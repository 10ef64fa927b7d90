/** Jobs in the catalog: created here, claimed and run by the JobWorker. */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { In, Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { JobEntity, JobKind, JobStatus } from '../catalog/entities';
import { ChainvaultError } from '../errors/chainvault.errors';

export const TERMINAL_JOB_STATUSES = [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.SKIPPED];

export interface NewJob {
  kind: JobKind;
  policyId?: string | null;
  backupId?: string | null;
  restoreId?: string | null;
  payload?: Record<string, unknown>;
  /** The schedule fire this job is for (unique per policy). */
  scheduledFor?: Date | null;
  notBefore?: Date | null;
  /** A job recorded as SKIPPED (a fire while the previous run still runs) carries its reason as `error`. */
  status?: JobStatus.QUEUED | JobStatus.SKIPPED;
  error?: string | null;
  /** When the job was created; the scheduler passes its clock's time. */
  createdAt?: Date;
}

@Injectable()
export class JobService {
  /**
   * Emits `queued` when a job is created, `cancel` (with its id) when one is cancelled, and
   * `changed` (with its id) when a job this process runs records progress or ends, and `ended`
   * (with its id and status) when this process records a job's end.
   */
  readonly events = new EventEmitter();

  constructor(
    @InjectRepository(JobEntity) private readonly jobs: Repository<JobEntity>,
    private readonly audit: AuditService,
  ) {}

  async create(input: NewJob, actor: string): Promise<JobEntity> {
    const job = this.jobs.create({
      id: randomUUID(),
      kind: input.kind,
      status: input.status ?? JobStatus.QUEUED,
      policyId: input.policyId ?? null,
      backupId: input.backupId ?? null,
      restoreId: input.restoreId ?? null,
      payload: input.payload ?? {},
      progress: null,
      log: [],
      error: input.error ?? null,
      result: null,
      attempts: 0,
      leaseOwner: null,
      leaseExpiresAt: null,
      createdAt: input.createdAt ?? new Date(),
      startedAt: null,
      finishedAt: input.status === JobStatus.SKIPPED ? (input.createdAt ?? new Date()) : null,
      scheduledFor: input.scheduledFor ?? null,
      notBefore: input.notBefore ?? null,
    });
    await this.jobs.insert(job);
    await this.audit.record({ actor, action: `job.create`, subjectType: 'job', subjectId: job.id, details: { kind: job.kind, policyId: job.policyId, backupId: job.backupId } });
    this.events.emit('queued', job.id);
    return job;
  }

  async get(id: string): Promise<JobEntity> {
    const job = await this.jobs.findOneBy({ id });
    if (!job) throw ChainvaultError.notFound('job', id);
    return job;
  }

  list(statuses?: JobStatus[] | null): Promise<JobEntity[]> {
    return this.jobs.find({ where: statuses?.length ? { status: In(statuses) } : {}, order: { createdAt: 'DESC' }, take: 500 });
  }

  /** An unfinished backup job of the policy, if any: a policy never runs twice at once. */
  findActiveBackup(policyId: string): Promise<JobEntity | null> {
    return this.jobs.findOne({ where: { policyId, kind: JobKind.BACKUP, status: In([JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.CANCELLING]) } });
  }

  /**
   * The job now, then again each time it changes, until it has ended. Changes of jobs run by
   * this process arrive at once; a job run by another instance is read every two seconds.
   */
  async *follow(id: string, signal?: AbortSignal): AsyncGenerator<JobEntity> {
    let job = await this.get(id);
    yield job;
    while (!TERMINAL_JOB_STATUSES.includes(job.status) && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.events.off('changed', onChange);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const onChange = (changed: string) => changed === id && done();
        const timer = setTimeout(done, 2000);
        this.events.on('changed', onChange);
        signal?.addEventListener('abort', done, { once: true });
      });
      job = await this.get(id);
      yield job;
    }
  }

  async cancel(id: string, actor: string): Promise<JobEntity> {
    const job = await this.get(id);
    if (TERMINAL_JOB_STATUSES.includes(job.status)) throw ChainvaultError.conflict(`job ${id} already ended (${job.status}); there is nothing to cancel`);
    if (job.status === JobStatus.CANCELLING) throw ChainvaultError.conflict(`job ${id} is already being cancelled: its plugin is starting again what it stopped`);
    if (job.status === JobStatus.QUEUED) {
      const result = await this.jobs.update({ id, status: JobStatus.QUEUED }, { status: JobStatus.CANCELLED, finishedAt: new Date(), error: `cancelled by ${actor} before it started` });
      if (result.affected === 0) return this.cancel(id, actor);
    } else if (job.payload.disruptive === true) {
      // A run that stops nodes ends only after its cleanup has started them again: CANCELLING until then.
      const result = await this.jobs.update({ id, status: JobStatus.RUNNING }, { status: JobStatus.CANCELLING, error: `cancelled by ${actor}` });
      if (result.affected === 0) return this.cancel(id, actor);
      this.events.emit('cancel', id, actor);
      this.events.emit('changed', id);
    } else {
      // Recorded in the catalog, so the instance running it (this one or another) stops it: at once here, at its next lease renewal elsewhere.
      const result = await this.jobs.update({ id, status: JobStatus.RUNNING }, { status: JobStatus.CANCELLED, error: `cancelled by ${actor}`, finishedAt: new Date() });
      if (result.affected === 0) return this.cancel(id, actor);
      this.events.emit('cancel', id, actor);
    }
    await this.audit.record({ actor, action: 'job.cancel', subjectType: 'job', subjectId: id });
    return this.get(id);
  }
}
