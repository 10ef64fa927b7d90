/**
 * Runs queued jobs in this process: claims each with a conditional update (so a job is run
 * once even if two workers see it), streams progress and log lines into the catalog, and on
 * start settles the jobs a dead process left RUNNING.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { LessThan, Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import type { JsonMap } from '../catalog/columns';
import { JobEntity, JobKind, JobStatus, type JobLogLine, type JobProgress } from '../catalog/entities';
import { CHAINVAULT_CONFIG, type ChainvaultConfig } from '../config/chainvault-config';
import { describeFailure } from './failure';
import { JOB_HANDLERS, type JobHandler, type JobRun } from './job-handler';
import { JobService } from './job.service';

const POLL_MS = 1000;
const FLUSH_MS = 500;
const LEASE_MS = 30_000;
const MAX_LOG_LINES = 1000;
const SHUTDOWN_GRACE_MS = 10_000;

interface ActiveJob {
  controller: AbortController;
  cancelledBy?: string;
  progress: JobProgress | null;
  /** Where the rate behind the ETA is measured from: the first update in the current unit. */
  rateBase?: { unit: string; at: number; done: number };
  log: JobLogLine[];
  dirty: boolean;
  done: Promise<void>;
}

/** Seconds left at the rate seen so far in this unit; unknown without a total or before a second has passed. */
export function estimateSeconds(base: { at: number; done: number }, now: number, done: number, total: number | undefined): number | undefined {
  const elapsed = (now - base.at) / 1000;
  const rate = (done - base.done) / elapsed;
  if (total === undefined || elapsed < 1 || !(rate > 0)) return undefined;
  return Math.max(0, Math.round((total - done) / rate));
}

@Injectable()
export class JobWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('jobs');
  /** Identifies this process in job leases. */
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly handlers = new Map<JobKind, JobHandler>();
  private readonly active = new Map<string, ActiveJob>();
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private polling = false;

  constructor(
    @InjectRepository(JobEntity) private readonly jobs: Repository<JobEntity>,
    @Inject(JOB_HANDLERS) handlers: JobHandler[],
    @Inject(CHAINVAULT_CONFIG) private readonly config: ChainvaultConfig,
    private readonly jobService: JobService,
    private readonly audit: AuditService,
  ) {
    for (const handler of handlers) {
      if (this.handlers.has(handler.kind)) throw new Error(`two handlers for job kind ${handler.kind}`);
      this.handlers.set(handler.kind, handler);
    }
    const missing = Object.values(JobKind).filter((kind) => !this.handlers.has(kind));
    if (missing.length > 0) throw new Error(`no handler for job kind ${missing.join(', ')}`);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.settleInterruptedJobs(this.config.databaseUrl ? 'expired-leases' : 'all');
    this.jobService.events.on('queued', () => void this.poll());
    this.jobService.events.on('cancel', (id: string, actor: string) => this.cancelActive(id, actor));
    this.timers.push(setInterval(() => void this.poll(), POLL_MS));
    this.timers.push(setInterval(() => void this.flushAll(), FLUSH_MS));
    this.timers.push(setInterval(() => void this.renewLeases(), LEASE_MS / 3));
    if (this.config.databaseUrl) this.timers.push(setInterval(() => void this.settleInterruptedJobs('expired-leases'), LEASE_MS / 2));
    void this.poll();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const [, active] of this.active) active.controller.abort(new Error('the server is shutting down'));
    const all = Promise.all([...this.active.values()].map((a) => a.done));
    // Cleared once the jobs end, so a pending grace timer does not keep the process alive.
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (grace = setTimeout(r, SHUTDOWN_GRACE_MS)))]);
    clearTimeout(grace);
  }

  /** Waits until no job runs in this worker (for tests and orderly shutdown). */
  async idle(): Promise<void> {
    while (this.active.size > 0) await Promise.all([...this.active.values()].map((a) => a.done));
  }

  private async poll(): Promise<void> {
    if (this.polling || this.stopping) return;
    this.polling = true;
    try {
      while (!this.stopping && this.active.size < this.config.jobConcurrency) {
        const next = await this.jobs.findOne({ where: { status: JobStatus.QUEUED }, order: { createdAt: 'ASC' } });
        if (!next) break;
        if (await this.claim(next)) this.start(next);
      }
    } catch (error) {
      this.logger.error(`polling for jobs failed: ${(error as Error).message}`);
    } finally {
      this.polling = false;
    }
  }

  /** Takes the job if nobody else did: the update only matches while it is still QUEUED. */
  private async claim(job: JobEntity): Promise<boolean> {
    const now = new Date();
    const result = await this.jobs.update(
      { id: job.id, status: JobStatus.QUEUED },
      { status: JobStatus.RUNNING, leaseOwner: this.owner, leaseExpiresAt: new Date(now.getTime() + LEASE_MS), startedAt: now, attempts: job.attempts + 1 },
    );
    if (result.affected !== 1) return false;
    Object.assign(job, { status: JobStatus.RUNNING, leaseOwner: this.owner, startedAt: now, attempts: job.attempts + 1 });
    return true;
  }

  private start(job: JobEntity): void {
    const handler = this.handlers.get(job.kind)!;
    const active: ActiveJob = { controller: new AbortController(), progress: null, log: [], dirty: false, done: Promise.resolve() };
    this.active.set(job.id, active);
    const line = (level: JobLogLine['level'], message: string) => {
      active.log.push({ at: new Date().toISOString(), level, message });
      if (active.log.length > MAX_LOG_LINES) active.log.splice(0, active.log.length - MAX_LOG_LINES);
      active.dirty = true;
    };
    const run: JobRun = {
      job,
      signal: active.controller.signal,
      progress: {
        update: (p) => {
          const now = Date.now();
          if (active.rateBase?.unit !== p.unit) active.rateBase = { unit: p.unit, at: now, done: p.done };
          active.progress = { unit: p.unit, done: p.done, total: p.total, message: p.message, etaSeconds: estimateSeconds(active.rateBase, now, p.done, p.total), updatedAt: new Date(now).toISOString() };
          active.dirty = true;
        },
      },
      log: { info: (m) => line('info', m), warn: (m) => line('warn', m), error: (m) => line('error', m) },
      assignBackup: async (backupId) => {
        job.backupId = backupId;
        await this.jobs.update({ id: job.id }, { backupId });
      },
    };
    line('info', `started by ${this.owner} (attempt ${job.attempts})`);
    active.done = handler
      .run(run)
      .then(
        (result) => this.finish(job, active, JobStatus.COMPLETED, null, result),
        (error: unknown) => {
          if (active.controller.signal.aborted) {
            const why = active.cancelledBy ? `cancelled by ${active.cancelledBy}` : describeFailure(active.controller.signal.reason);
            line('warn', why);
            return this.finish(job, active, active.cancelledBy ? JobStatus.CANCELLED : JobStatus.FAILED, why, null);
          }
          const message = describeFailure(error);
          line('error', message);
          if (!(error as { expected?: boolean })?.expected) this.logger.warn(`job ${job.id} (${job.kind}) failed: ${message}`);
          return this.finish(job, active, JobStatus.FAILED, message, null);
        },
      )
      .catch((error: unknown) => this.logger.error(`job ${job.id} could not be recorded: ${(error as Error).message}`))
      .finally(() => {
        this.active.delete(job.id);
        void this.poll();
      });
  }

  private async finish(job: JobEntity, active: ActiveJob, status: JobStatus, error: string | null, result: JsonMap | null): Promise<void> {
    await this.jobs.update(
      { id: job.id },
      {
        status,
        error,
        result,
        progress: active.progress,
        log: active.log,
        finishedAt: new Date(),
        leaseOwner: null,
        leaseExpiresAt: null,
        backupId: job.backupId,
      },
    );
    this.jobService.events.emit('changed', job.id);
    await this.audit.record({ actor: 'system', action: `job.${status.toLowerCase()}`, subjectType: 'job', subjectId: job.id, details: { kind: job.kind, error } });
  }

  private cancelActive(id: string, actor: string): void {
    const active = this.active.get(id);
    if (!active) return;
    active.cancelledBy = actor;
    active.controller.abort(new Error(`cancelled by ${actor}`));
  }

  private async flushAll(): Promise<void> {
    for (const [id, active] of this.active) {
      if (!active.dirty) continue;
      active.dirty = false;
      await this.jobs.update({ id, status: JobStatus.RUNNING }, { progress: active.progress, log: active.log }).catch(() => undefined);
      this.jobService.events.emit('changed', id);
    }
  }

  private async renewLeases(): Promise<void> {
    for (const id of this.active.keys()) {
      await this.jobs.update({ id, leaseOwner: this.owner }, { leaseExpiresAt: new Date(Date.now() + LEASE_MS) }).catch(() => undefined);
    }
  }

  /**
   * Settles jobs left RUNNING by a process that died. With SQLite (one instance) every RUNNING
   * job found at start is such a job; with PostgreSQL only those whose lease ran out.
   */
  private async settleInterruptedJobs(which: 'all' | 'expired-leases'): Promise<void> {
    const where = which === 'all' ? { status: JobStatus.RUNNING } : { status: JobStatus.RUNNING, leaseExpiresAt: LessThan(new Date()) };
    for (const job of await this.jobs.find({ where })) {
      if (this.active.has(job.id)) continue;
      const handler = this.handlers.get(job.kind)!;
      let result: JsonMap | null = null;
      let reason = 'interrupted: the server running this job stopped before it finished';
      try {
        result = await handler.recover(job);
      } catch (error) {
        reason = `interrupted, and recovery failed: ${describeFailure(error)}`;
      }
      const log = [...job.log, { at: new Date().toISOString(), level: (result ? 'info' : 'error') as JobLogLine['level'], message: result ? 'the server stopped after the work was complete; recovered on restart' : reason }];
      const updated = await this.jobs.update(
        { id: job.id, status: JobStatus.RUNNING },
        result
          ? { status: JobStatus.COMPLETED, result, log, finishedAt: new Date(), leaseOwner: null, leaseExpiresAt: null }
          : { status: JobStatus.FAILED, error: reason, log, finishedAt: new Date(), leaseOwner: null, leaseExpiresAt: null },
      );
      if (updated.affected === 1) {
        this.logger.warn(`job ${job.id} (${job.kind}) ${result ? 'recovered' : 'marked failed'} after an interruption`);
        await this.audit.record({ actor: 'system', action: result ? 'job.recovered' : 'job.interrupted', subjectType: 'job', subjectId: job.id, details: { kind: job.kind } });
      }
    }
  }
}
