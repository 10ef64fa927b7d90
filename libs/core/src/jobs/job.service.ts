/** Jobs in the catalog: created here, claimed and run by the JobWorker. */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { In, Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { JobEntity, JobKind, JobStatus } from '../catalog/entities';
import { ChainvaultError } from '../errors/chainvault.errors';

/** Which jobs a page holds; every given condition must hold. */
export interface JobFilter {
  statuses?: JobStatus[] | null;
  kinds?: JobKind[] | null;
  policyId?: string | null;
  /** Jobs of the node's policies and backups, and restores onto it. */
  nodeId?: string | null;
  /** Created at or after this time. */
  since?: Date | null;
}

export interface JobPage {
  items: JobEntity[];
  endCursor: string | null;
  hasNextPage: boolean;
}

export const JOB_PAGE_DEFAULT = 100;
export const JOB_PAGE_MAX = 1000;

/** An opaque position in the newest-first list of jobs (created_at DESC, id DESC). */
export function jobCursor(job: Pick<JobEntity, 'createdAt' | 'id'>): string {
  return Buffer.from(`${job.createdAt.toISOString()}|${job.id}`).toString('base64url');
}

function decodeJobCursor(cursor: string): { createdAt: string; id: string } | null {
  const [createdAt, id, extra] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (extra !== undefined || !createdAt || !id || !/^\d{4}-\d\d-\d\dT/.test(createdAt) || Number.isNaN(Date.parse(createdAt))) return null;
  return { createdAt: new Date(createdAt).toISOString(), id };
}

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

  /** Every job in these statuses, newest first: for the server's own checks of its queue. The API pages with `page`. */
  list(statuses?: JobStatus[] | null): Promise<JobEntity[]> {
    return this.jobs.find({ where: statuses?.length ? { status: In(statuses) } : {}, order: { createdAt: 'DESC', id: 'DESC' } });
  }

  /**
   * One page of jobs, newest first, in a stable order (created_at, then id, both descending) so
   * that jobs created while a client pages do not shift the pages it has still to read. `after`
   * is the cursor of the last job of the previous page, or simply that job's id.
   */
  async page(filter: JobFilter = {}, first: number = JOB_PAGE_DEFAULT, after?: string | null): Promise<JobPage> {
    if (!Number.isInteger(first) || first < 1 || first > JOB_PAGE_MAX) throw ChainvaultError.badInput(`first must be between 1 and ${JOB_PAGE_MAX}, got ${first}`);
    const query = this.filtered(filter);
    if (after) {
      const position = await this.position(after);
      query.andWhere('(j.created_at < :afterAt OR (j.created_at = :afterAt AND j.id < :afterId))', { afterAt: position.createdAt, afterId: position.id });
    }
    const rows = await query.orderBy('j.created_at', 'DESC').addOrderBy('j.id', 'DESC').take(first + 1).getMany();
    const items = rows.slice(0, first);
    return { items, endCursor: items.length ? jobCursor(items[items.length - 1]) : null, hasNextPage: rows.length > first };
  }

  /** How many jobs the filter matches, over all pages. */
  count(filter: JobFilter = {}): Promise<number> {
    return this.filtered(filter).getCount();
  }

  private filtered(filter: JobFilter) {
    const query = this.jobs.createQueryBuilder('j');
    if (filter.statuses?.length) query.andWhere('j.status IN (:...statuses)', { statuses: filter.statuses });
    if (filter.kinds?.length) query.andWhere('j.kind IN (:...kinds)', { kinds: filter.kinds });
    if (filter.policyId) query.andWhere('j.policy_id = :policyId', { policyId: filter.policyId });
    if (filter.since) {
      if (Number.isNaN(filter.since.getTime())) throw ChainvaultError.badInput('since: not a valid date-time; give an ISO-8601 time such as 2026-12-01T00:00:00Z');
      query.andWhere('j.created_at >= :since', { since: filter.since.toISOString() });
    }
    if (filter.nodeId) {
      query.andWhere(
        `(j.policy_id IN (SELECT p.id FROM policy p WHERE p.node_id = :nodeId)
          OR j.backup_id IN (SELECT b.id FROM backup b WHERE b.node_id = :nodeId)
          OR j.restore_id IN (SELECT r.id FROM restore r WHERE r.target_node_id = :nodeId OR r.target_node_ids LIKE :quotedNodeId))`,
        { nodeId: filter.nodeId, quotedNodeId: `%"${filter.nodeId}"%` },
      );
    }
    return query;
  }

  /** Where a page starts: after the job a cursor names, or after the job with that id. */
  private async position(after: string): Promise<{ createdAt: string; id: string }> {
    const cursor = decodeJobCursor(after);
    if (cursor) return cursor;
    const job = await this.jobs.findOne({ where: { id: after }, select: { id: true, createdAt: true } });
    if (!job) throw ChainvaultError.badInput(`after: "${after}" is neither the id of a job nor a cursor this API returned; pass the id of the last job of the previous page or its pageInfo.endCursor`);
    return { createdAt: job.createdAt.toISOString(), id: job.id };
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
