/**
 * Runs queued jobs in this process: claims each with a conditional update (so a job is run
 * once even if several instances see it), within the global, per-node and per-destination
 * limits and the policy's maintenance windows; streams progress and log lines into the
 * catalog; renews its lease while it works; puts a job whose failure may pass (a node
 * restarting) back in the queue with a growing backoff; and takes over the jobs of an instance
 * whose lease ran out. On a SQLite catalog (one instance) every job left RUNNING at start is
 * such a job.
 *
 * A disruptive job (its plugin method stops nodes) is never retried by itself and never taken
 * over while the instance running it lives. When it is cancelled, stopped by a shutdown, fails,
 * or is found interrupted after a crash, the plugin's cleanup runs (the job is CANCELLING
 * meanwhile) with its own grace period, and the log says what it did.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { isPluginError } from '@chainvault/plugin-sdk';
import { In, IsNull, LessThan, LessThanOrEqual, MoreThan, Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import type { JsonMap } from '../catalog/columns';
import { InstanceEntity, JobEntity, JobKind, JobStatus, PolicyEntity, type JobLogLine, type JobProgress } from '../catalog/entities';
import { CHAINVAULT_CONFIG, JOB_DEFAULTS, type ChainvaultConfig } from '../config/chainvault-config';
import { nextWindowStart, windowAt, type MaintenanceWindow } from '../policies/maintenance-window';
import { CLOCK, type Clock } from '../scheduler/clock';
import { JobSkipped, describeFailure } from './failure';
import { JOB_HANDLERS, type CleanupReason, type JobHandler, type JobRun } from './job-handler';
import { JobLogStore, type JobLogWriter } from './job-log';
import { JobService } from './job.service';
import { DestinationBusy } from '../destinations/destination-busy';

const POLL_MS = 1000;
/** How soon a job that met another job's repository lock tries again. */
const LOCK_WAIT_MS = 1000;
const FLUSH_MS = 500;
/** Queued jobs looked at per poll, oldest first, to find one the limits allow. */
const POLL_BATCH = 50;
const MAX_POLL_PAGES = 20;
/**
 * Kinds that may simply run again after a failure that may pass or a dead worker. A restore or
 * an export may have written part of its target, which the next attempt would refuse to touch,
 * so those fail and the operator chooses.
 */
const RETRIED_KINDS = new Set([JobKind.BACKUP, JobKind.VERIFY, JobKind.REPLICATE, JobKind.PRUNE, JobKind.CHECK]);
const SHUTDOWN_GRACE_MS = 10_000;
/** How long a disruptive job's cleanup may take by default (starting a network again). */
const CLEANUP_GRACE_MS = 5 * 60_000;
/** An instance whose heartbeat is older than this is gone (InstanceService beats every 5 s). */
const INSTANCE_ALIVE_MS = 15_000;
/** Statuses of a job an instance holds. */
const HELD = [JobStatus.RUNNING, JobStatus.CANCELLING];

interface ActiveJob {
  controller: AbortController;
  /** Its plugin method stops nodes: never retried, cleaned up after a stop. */
  disruptive: boolean;
  cancelledBy?: string;
  /** Set when another instance took the job over: this worker stops and records nothing more. */
  leaseLost?: boolean;
  progress: JobProgress | null;
  /** Where the rate behind the ETA is measured from: the first update in the current unit. */
  rateBase?: { unit: string; at: number; done: number };
  /** Adds this attempt's lines to the job's log; flushed with the progress. */
  log: JobLogWriter;
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

  private readonly leaseMs: number;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly cleanupGraceMs: number;

  constructor(
    @InjectRepository(JobEntity) private readonly jobs: Repository<JobEntity>,
    @InjectRepository(InstanceEntity) private readonly instances: Repository<InstanceEntity>,
    @InjectRepository(PolicyEntity) private readonly policies: Repository<PolicyEntity>,
    @Inject(JOB_HANDLERS) handlers: JobHandler[],
    @Inject(CHAINVAULT_CONFIG) private readonly config: ChainvaultConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly jobService: JobService,
    private readonly audit: AuditService,
    private readonly jobLog: JobLogStore,
  ) {
    this.leaseMs = config.leaseMs ?? JOB_DEFAULTS.leaseMs;
    this.maxAttempts = config.jobMaxAttempts ?? JOB_DEFAULTS.jobMaxAttempts;
    this.backoffMs = config.retryBackoffMs ?? JOB_DEFAULTS.retryBackoffMs;
    this.cleanupGraceMs = config.cleanupGraceMs ?? CLEANUP_GRACE_MS;
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
    this.timers.push(setInterval(() => void this.renewLeases(), this.leaseMs / 3));
    // Jobs whose lease ran out: another instance's that died, or (on either catalog) one of this
    // instance's whose end could not be recorded.
    const settle = () => this.settleInterruptedJobs('expired-leases').catch((error: Error) => this.logger.error(`settling interrupted jobs failed: ${error.message}`));
    this.timers.push(setInterval(() => void settle(), this.leaseMs / 2));
    void this.poll();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const [id, active] of this.active) {
      if (active.disruptive && !active.controller.signal.aborted) await this.markCancelling(id);
      active.controller.abort(new Error('the server is shutting down'));
    }
    const all = Promise.all([...this.active.values()].map((a) => a.done));
    // A disruptive job's cleanup (starting its nodes again) gets its own grace period.
    const disruptive = [...this.active.values()].some((a) => a.disruptive);
    // Cleared once the jobs end, so a pending grace timer does not keep the process alive.
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (grace = setTimeout(r, disruptive ? this.cleanupGraceMs + SHUTDOWN_GRACE_MS : SHUTDOWN_GRACE_MS)))]);
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
        const next = await this.nextClaimable();
        if (!next) break;
        if (!(await this.claim(next.job))) continue;
        const disruptive = await this.isDisruptive(next.job);
        if (disruptive && next.job.payload.disruptive !== true) {
          // Recorded on the job, so a cancel from any instance knows to wait for the cleanup.
          next.job.payload = { ...next.job.payload, disruptive: true };
          await this.jobs.update({ id: next.job.id }, { payload: next.job.payload });
        }
        this.start(next.job, await this.jobLog.open(next.job.id), next.windowEndsAt, disruptive);
      }
    } catch (error) {
      this.logger.error(`polling for jobs failed: ${(error as Error).message}`);
    } finally {
      this.polling = false;
    }
  }

  /**
   * The oldest queued job that may start now: its backoff or window has come, and a backup
   * stays within the per-node and per-destination limits counted over every instance.
   */
  private async nextClaimable(): Promise<{ job: JobEntity; windowEndsAt?: Date } | null> {
    const now = this.clock.now();
    const load = await this.runningBackupLoad();
    // Page on while the oldest jobs are all held by limits, so they cannot stall the others.
    for (let page = 0; page < MAX_POLL_PAGES; page++) {
      const queued = await this.jobs.find({
        where: [
          { status: JobStatus.QUEUED, notBefore: IsNull() },
          { status: JobStatus.QUEUED, notBefore: LessThanOrEqual(now) },
        ],
        order: { createdAt: 'ASC', id: 'ASC' },
        skip: page * POLL_BATCH,
        take: POLL_BATCH,
      });
      if (queued.length === 0) return null;
      const found = await this.firstStartable(queued, load, now);
      if (found) return found;
    }
    return null;
  }

  private async firstStartable(queued: JobEntity[], load: Awaited<ReturnType<JobWorker['runningBackupLoad']>>, now: Date): Promise<{ job: JobEntity; windowEndsAt?: Date } | null> {
    for (const job of queued) {
      if (job.kind !== JobKind.BACKUP || !job.policyId) return { job };
      const policy = await this.policies.findOneBy({ id: job.policyId });
      if (!policy) return { job };
      if ((load.nodes.get(nodeKey(policy)) ?? 0) >= (this.config.maxJobsPerNode ?? JOB_DEFAULTS.maxJobsPerNode)) continue;
      if ((load.destinations.get(policy.destinationIds[0]) ?? 0) >= (this.config.maxJobsPerDestination ?? JOB_DEFAULTS.maxJobsPerDestination)) continue;
      const blocker = load.running.find((r) => overlaps(r.policy, policy));
      if (blocker) {
        await this.sayWaiting(job, `waiting for job ${blocker.id} (policy ${blocker.policy.name}), which backs up ${blocker.policy.nodeId ? 'a node' : 'the whole network'} of this run`);
        continue;
      }
      const windows = (policy.maintenanceWindows ?? []) as MaintenanceWindow[];
      if (windows.length === 0) return { job };
      const timeZone = policy.schedule?.timeZone ?? 'UTC';
      const open = windowAt(windows, timeZone, now);
      if (open) return { job, windowEndsAt: open.end };
      const next = nextWindowStart(windows, timeZone, now);
      if (policy.schedule?.outsideWindow === 'SKIP') {
        await this.skipQueued(job, `outside policy "${policy.name}"'s maintenance windows (the next opens at ${next.start.toISOString()}), and the policy skips such runs`);
        continue;
      }
      // Outside every window: wait for the next one without holding the queue.
      await this.jobs.update({ id: job.id, status: JobStatus.QUEUED }, { notBefore: next.start });
      this.logger.log(`job ${job.id} waits for policy "${policy.name}"'s maintenance window at ${next.start.toISOString()}`);
    }
    return null;
  }

  /** Ends a queued job as SKIPPED with the reason, unless something else has taken it meanwhile. */
  private async skipQueued(job: JobEntity, reason: string): Promise<void> {
    const updated = await this.jobs.update({ id: job.id, status: JobStatus.QUEUED }, { status: JobStatus.SKIPPED, error: reason, finishedAt: new Date() });
    if (updated.affected !== 1) return;
    await this.jobLog.append(job.id, { at: new Date().toISOString(), level: 'info', message: `skipped: ${reason}` });
    this.jobService.events.emit('changed', job.id);
    this.jobService.events.emit('ended', job.id, JobStatus.SKIPPED);
  }

  /** Says once, in a queued job's progress, what it waits for. */
  private async sayWaiting(job: JobEntity, message: string): Promise<void> {
    if (job.progress?.message === message) return;
    const progress: JobProgress = { ...(job.progress ?? { unit: 'steps', done: 0 }), message, updatedAt: new Date().toISOString() };
    await this.jobs.update({ id: job.id, status: JobStatus.QUEUED }, { progress });
    this.jobService.events.emit('changed', job.id);
  }

  /** Backup jobs running now (over all instances), each with its policy, in the order they were claimed. */
  private async runningBackups(): Promise<{ id: string; policy: PolicyEntity }[]> {
    const running = await this.jobs.find({ where: { status: In(HELD), kind: JobKind.BACKUP }, select: { id: true, policyId: true, startedAt: true } });
    const ids = [...new Set(running.map((j) => j.policyId).filter((id): id is string => id !== null))];
    const policies = new Map((ids.length ? await this.policies.findBy({ id: In(ids) }) : []).map((p) => [p.id, p]));
    return running
      .filter((j) => policies.has(j.policyId!))
      .sort((a, b) => (a.startedAt?.getTime() ?? 0) - (b.startedAt?.getTime() ?? 0) || a.id.localeCompare(b.id))
      .map((j) => ({ id: j.id, policy: policies.get(j.policyId!)! }));
  }

  /** Running backups counted per node (or network) and per primary destination. */
  private async runningBackupLoad(): Promise<{ nodes: Map<string, number>; destinations: Map<string, number>; running: { id: string; policy: PolicyEntity }[] }> {
    const nodes = new Map<string, number>();
    const destinations = new Map<string, number>();
    const running = await this.runningBackups();
    for (const { policy } of running) {
      nodes.set(nodeKey(policy), (nodes.get(nodeKey(policy)) ?? 0) + 1);
      destinations.set(policy.destinationIds[0], (destinations.get(policy.destinationIds[0]) ?? 0) + 1);
    }
    return { nodes, destinations, running };
  }

  /**
   * Takes the job if nobody else did: the update only matches while it is still QUEUED with the
   * attempts seen, so a job another instance claimed, failed and queued again in the meantime is
   * not taken with a stale count. A backup over a per-node or per-destination limit after the
   * claim (two instances claiming at once) is given back by whichever claimed later.
   */
  private async claim(job: JobEntity): Promise<boolean> {
    const now = new Date();
    const where = { id: job.id, status: JobStatus.QUEUED, attempts: job.attempts };
    const claimed = { status: JobStatus.RUNNING, leaseOwner: this.owner, leaseExpiresAt: new Date(now.getTime() + this.leaseMs), startedAt: now, attempts: job.attempts + 1 };
    const taken = this.config.databaseUrl
      ? // PostgreSQL: lock the row, skipping it at once if another instance is claiming it (FOR UPDATE SKIP LOCKED).
        await this.jobs.manager.transaction(async (tx) => {
          const locked = await tx.getRepository(JobEntity).createQueryBuilder('job').setLock('pessimistic_write').setOnLocked('skip_locked').where(where).getOne();
          return locked ? (await tx.getRepository(JobEntity).update(where, claimed)).affected === 1 : false;
        })
      : (await this.jobs.update(where, claimed)).affected === 1;
    if (!taken) return false;
    Object.assign(job, { status: JobStatus.RUNNING, leaseOwner: this.owner, startedAt: now, attempts: job.attempts + 1 });
    if (job.kind === JobKind.BACKUP && job.policyId && !(await this.withinLimits(job))) {
      await this.jobs.update({ id: job.id, leaseOwner: this.owner, status: JobStatus.RUNNING }, { status: JobStatus.QUEUED, leaseOwner: null, leaseExpiresAt: null, startedAt: null, attempts: job.attempts - 1 });
      return false;
    }
    return true;
  }

  /** Whether this job is among the first `limit` running backups (by claim time) on its node and its destination. */
  private async withinLimits(job: JobEntity): Promise<boolean> {
    const running = await this.runningBackups();
    const policy = running.find((r) => r.id === job.id)?.policy;
    if (!policy) return true;
    const among = (sameAs: (other: PolicyEntity) => boolean, limit: number) =>
      running
        .filter((r) => sameAs(r.policy))
        .slice(0, limit)
        .some((r) => r.id === job.id);
    return (
      among((p) => overlaps(p, policy), 1) &&
      among((p) => nodeKey(p) === nodeKey(policy), this.config.maxJobsPerNode ?? JOB_DEFAULTS.maxJobsPerNode) &&
      among((p) => p.destinationIds[0] === policy.destinationIds[0], this.config.maxJobsPerDestination ?? JOB_DEFAULTS.maxJobsPerDestination)
    );
  }


  /** Whether a job runs a plugin method that stops nodes; a job whose policy is gone is not. */
  private async isDisruptive(job: JobEntity): Promise<boolean> {
    try {
      return (await this.handlers.get(job.kind)!.disruptive?.(job)) ?? false;
    } catch {
      return false;
    }
  }

  private async markCancelling(id: string): Promise<void> {
    const updated = await this.jobs.update({ id, status: JobStatus.RUNNING, leaseOwner: this.owner }, { status: JobStatus.CANCELLING }).catch(() => ({ affected: 0 }));
    if (updated.affected === 1) this.jobService.events.emit('changed', id);
  }

  /** `log` continues the job's log: an attempt after a failed or interrupted one adds to the same log. */
  private start(job: JobEntity, log: JobLogWriter, windowEndsAt?: Date, disruptive = false): void {
    const handler = this.handlers.get(job.kind)!;
    const active: ActiveJob = { controller: new AbortController(), disruptive, progress: null, log, dirty: false, done: Promise.resolve() };
    this.active.set(job.id, active);
    const line = (level: JobLogLine['level'], message: string) => {
      active.log.add(level, message);
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
        const updated = await this.jobs.update({ id: job.id, leaseOwner: this.owner }, { backupId });
        if (updated.affected !== 1) throw new Error('this instance no longer holds the job (another instance took it over)');
      },
      saveState: async (state) => {
        job.pluginState = state;
        const updated = await this.jobs.update({ id: job.id, leaseOwner: this.owner }, { pluginState: state });
        if (updated.affected !== 1) throw new Error('this instance no longer holds the job (another instance took it over)');
      },
      windowEndsAt,
    };
    line('info', `started by ${this.owner} (attempt ${job.attempts})`);
    active.done = handler
      .run(run)
      .then(
        (result) => this.finish(job, active, JobStatus.COMPLETED, null, result),
        (error: unknown) => {
          if (active.leaseLost) {
            this.logger.warn(`job ${job.id} (${job.kind}) stopped here: another instance took it over`);
            return;
          }
          if (error instanceof JobSkipped && !active.controller.signal.aborted) {
            line('info', `skipped: ${error.message}`);
            job.backupId = null;
            return this.finish(job, active, JobStatus.SKIPPED, error.message, null);
          }
          if (active.disruptive && !(error instanceof DestinationBusy)) return this.endDisruptive(job, active, error, line);
          if (active.controller.signal.aborted && this.stopping && !active.cancelledBy && RETRIED_KINDS.has(job.kind)) {
            // A shutdown, not a failure: another instance (or this one, restarted) runs it again at once.
            line('warn', `the server ${this.owner} is shutting down; the job goes back to the queue`);
            return this.requeue(job, active.log, 'interrupted by a shutdown', this.clock.now(), active.progress).then(() => undefined);
          }
          if (active.controller.signal.aborted) {
            const why = active.cancelledBy ? `cancelled by ${active.cancelledBy}` : describeFailure(active.controller.signal.reason);
            line('warn', why);
            return this.finish(job, active, active.cancelledBy ? JobStatus.CANCELLED : JobStatus.FAILED, why, null);
          }
          if (error instanceof DestinationBusy) return this.waitForLock(job, active, error);
          const message = describeFailure(error);
          line('error', message);
          if (isPluginError(error) && error.retryable && RETRIED_KINDS.has(job.kind) && job.attempts < this.maxAttempts) {
            const at = this.retryTime(job.attempts);
            line('warn', `attempt ${job.attempts} of ${this.maxAttempts} failed with an error that may pass; retrying at ${at.toISOString()}`);
            return this.requeue(job, active.log, message, at, active.progress).then(async (queued) => {
              // Cancelled while this attempt was failing: the cancel stands.
              if (!queued) await this.finish(job, active, JobStatus.CANCELLED, `cancelled: ${message}`, null);
            });
          }
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

  /**
   * Ends a disruptive job that did not complete: says why, runs the plugin's cleanup so what it
   * stopped runs again (CANCELLING meanwhile, when it was stopped from outside), and records it
   * CANCELLED or FAILED. Never queued again: running it again would stop the nodes again.
   */
  private async endDisruptive(job: JobEntity, active: ActiveJob, error: unknown, line: (level: JobLogLine['level'], message: string) => void): Promise<void> {
    const aborted = active.controller.signal.aborted;
    const reason: CleanupReason = active.cancelledBy ? 'cancelled' : aborted && this.stopping ? 'shutdown' : 'failed';
    const why = active.cancelledBy ? `cancelled by ${active.cancelledBy}` : describeFailure(aborted ? active.controller.signal.reason : error);
    line(reason === 'failed' ? 'error' : 'warn', why);
    if (reason !== 'failed') await this.markCancelling(job.id);
    const cleaned = await this.cleanUp(job, active.log, reason, line);
    const status = reason === 'cancelled' ? JobStatus.CANCELLED : JobStatus.FAILED;
    const notRetried = reason === 'shutdown' ? '; not run again by itself, since its method stops nodes' : '';
    await this.finish(job, active, status, `${why}${notRetried}; ${cleaned}`, null);
  }

  /**
   * Runs a disruptive job's plugin cleanup with a signal of its own that ends with the grace
   * period. Returns what happened, for the job's error; the lines go into the log.
   */
  private async cleanUp(job: JobEntity, log: JobLogWriter, reason: CleanupReason, line: (level: JobLogLine['level'], message: string) => void): Promise<string> {
    const handler = this.handlers.get(job.kind)!;
    if (!handler.cleanup) return 'nothing to clean up';
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`the cleanup did not finish within its grace period of ${Math.round(this.cleanupGraceMs / 1000)} s`)), this.cleanupGraceMs);
    line('info', `cleanup (${reason}): the plugin starts again what the run stopped, within ${Math.round(this.cleanupGraceMs / 1000)} s`);
    // Its own flush: the worker's timers stop at a shutdown, and the cleanup's lines still count.
    const flush = setInterval(() => void log.flush().then(() => this.jobService.events.emit('changed', job.id)).catch(() => undefined), FLUSH_MS);
    try {
      const fresh = await this.jobs.findOneBy({ id: job.id });
      await handler.cleanup(
        {
          job: { ...job, pluginState: fresh?.pluginState ?? job.pluginState },
          signal: controller.signal,
          progress: { update: () => undefined },
          log: { info: (m) => line('info', m), warn: (m) => line('warn', m), error: (m) => line('error', m) },
        },
        reason,
      );
      line('info', 'cleanup finished');
      return 'cleanup ran';
    } catch (error) {
      const message = describeFailure(error);
      line('error', `cleanup failed: ${message}`);
      this.logger.error(`job ${job.id}: cleanup failed: ${message}`);
      return `cleanup FAILED, check the nodes by hand: ${message}`;
    } finally {
      clearTimeout(timer);
      clearInterval(flush);
    }
  }

  private async finish(job: JobEntity, active: ActiveJob, status: JobStatus, error: string | null, result: JsonMap | null): Promise<void> {
    // The last lines go in first, so whoever sees the job ended sees its whole log.
    await active.log.flush().catch((failure: Error) => this.logger.warn(`job ${job.id}: its last log lines could not be written: ${failure.message}`));
    // Only while this instance still holds the job: a job taken over is the new holder's to record.
    const updated = await this.jobs.update(
      { id: job.id, leaseOwner: this.owner },
      {
        status,
        error,
        result,
        progress: active.progress,
        finishedAt: new Date(),
        leaseOwner: null,
        leaseExpiresAt: null,
        backupId: job.backupId,
      },
    );
    if (updated.affected !== 1) {
      this.logger.warn(`job ${job.id} (${job.kind}) ended here as ${status}, but another instance had taken it over; its record stands`);
      return;
    }
    this.jobService.events.emit('changed', job.id);
    this.jobService.events.emit('ended', job.id, status);
    await this.audit.record({ actor: 'system', action: `job.${status.toLowerCase()}`, subjectType: 'job', subjectId: job.id, details: { kind: job.kind, error } });
  }

  /**
   * Puts a job that met another job's lock back in the queue, without counting an attempt, and
   * says on it what it waits for. It is tried again shortly; the lock's own stale rules free a
   * lock whose holder died.
   */
  private async waitForLock(job: JobEntity, active: ActiveJob, busy: DestinationBusy): Promise<void> {
    // The attempt's own lines (its start) would repeat at every try; the wait is said once.
    await active.log.discardOwn().catch(() => undefined);
    if (active.log.lastLine?.message !== busy.message) active.log.add('info', busy.message);
    await active.log.flush().catch(() => undefined);
    const progress: JobProgress = { ...(active.progress ?? { unit: 'bytes', done: 0 }), message: busy.message, updatedAt: new Date().toISOString() };
    const updated = await this.jobs.update(
      { id: job.id, status: JobStatus.RUNNING, leaseOwner: this.owner },
      {
        status: JobStatus.QUEUED,
        progress,
        notBefore: new Date(this.clock.now().getTime() + LOCK_WAIT_MS),
        leaseOwner: null,
        leaseExpiresAt: null,
        startedAt: null,
        backupId: null,
        attempts: job.attempts - 1,
      },
    );
    if (updated.affected === 1) this.jobService.events.emit('changed', job.id);
    // Cancelled while it was trying: the cancel stands.
    else if (active.cancelledBy) await this.finish(job, active, JobStatus.CANCELLED, `cancelled by ${active.cancelledBy}`, null);
  }

  /** The time of the next attempt after `attempts` failed ones: the backoff doubles each time. */
  private retryTime(attempts: number): Date {
    return new Date(this.clock.now().getTime() + this.backoffMs * 2 ** Math.max(0, attempts - 1));
  }

  /**
   * Puts a job back in the queue for another attempt, keeping its log and its last error. Only
   * while it is RUNNING under `holder` (this instance, or the dead one being taken over): a job
   * cancelled or taken over meanwhile stays as it is.
   */
  private async requeue(job: JobEntity, log: JobLogWriter, error: string, notBefore: Date, progress: JobProgress | null, holder: string | null = this.owner): Promise<boolean> {
    // The lines go in while the job is still held, so the next attempt continues after them.
    await log.flush().catch((failure: Error) => this.logger.warn(`job ${job.id}: log lines could not be written: ${failure.message}`));
    const updated = await this.jobs.update(
      { id: job.id, status: JobStatus.RUNNING, leaseOwner: holder === null ? IsNull() : holder },
      { status: JobStatus.QUEUED, error, progress, notBefore, leaseOwner: null, leaseExpiresAt: null, backupId: null },
    );
    if (updated.affected === 1) {
      this.jobService.events.emit('changed', job.id);
      await this.audit.record({ actor: 'system', action: 'job.retry', subjectType: 'job', subjectId: job.id, details: { kind: job.kind, attempts: job.attempts, error, notBefore: notBefore.toISOString() } });
    }
    return updated.affected === 1;
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
      // Only the new lines are written, and only while this instance holds the job.
      const held = await this.jobs.update({ id, status: In(HELD), leaseOwner: this.owner }, { progress: active.progress }).catch(() => ({ affected: 0 }));
      if (held.affected === 1) await active.log.flush().catch(() => (active.dirty = true));
      this.jobService.events.emit('changed', id);
    }
  }

  /**
   * Extends this instance's leases. A job whose row no longer matches (cancelled from another
   * instance, or taken over after renewals failed for a whole lease) is stopped here.
   */
  private async renewLeases(): Promise<void> {
    for (const [id, active] of this.active) {
      try {
        const renewed = await this.jobs.update({ id, leaseOwner: this.owner, status: In(HELD) }, { leaseExpiresAt: new Date(Date.now() + this.leaseMs) });
        if (renewed.affected === 1) {
          // A disruptive job cancelled through another instance is CANCELLING here too: stop it, then clean up.
          if (active.disruptive && !active.cancelledBy && !active.controller.signal.aborted && (await this.jobs.findOneBy({ id }))?.status === JobStatus.CANCELLING) {
            active.cancelledBy = 'a request to another instance';
            active.controller.abort(new Error('cancelled'));
          }
          continue;
        }
        const now = await this.jobs.findOneBy({ id });
        if (now?.status === JobStatus.CANCELLED && now.leaseOwner === this.owner) {
          active.cancelledBy ??= 'a request to another instance';
          active.controller.abort(new Error('cancelled'));
        } else {
          active.leaseLost = true;
          active.controller.abort(new Error('another instance took this job over'));
        }
      } catch {
        // The catalog is unreachable: try again at the next renewal; the lease lasts three of them.
      }
    }
  }

  /** Whether the instance holding a lease still beats (only another instance can; this one is alive). */
  private async holderLives(owner: string | null): Promise<boolean> {
    if (!owner || owner === this.owner || !this.config.databaseUrl) return false;
    return this.instances.existsBy({ id: owner, heartbeatAt: MoreThan(new Date(Date.now() - INSTANCE_ALIVE_MS)) });
  }

  /**
   * A disruptive job whose server died mid-run: never run again, but its plugin's cleanup starts
   * what the run stopped, here, then the job is FAILED. Left alone while the instance holding it
   * lives (its lease ran out, but it may still be cleaning up).
   */
  private async cleanUpInterrupted(job: JobEntity): Promise<void> {
    if (await this.holderLives(job.leaseOwner)) return;
    const taken = await this.jobs.update(
      { id: job.id, status: In(HELD), leaseOwner: job.leaseOwner === null ? IsNull() : job.leaseOwner },
      { status: JobStatus.CANCELLING, leaseOwner: this.owner, leaseExpiresAt: new Date(Date.now() + this.leaseMs) },
    );
    if (taken.affected !== 1) return;
    this.jobService.events.emit('changed', job.id);
    const reason = `interrupted: the server running this job (${job.leaseOwner ?? 'unknown'}) stopped before it finished; not run again by itself, since its method stops nodes`;
    const active: ActiveJob = { controller: new AbortController(), disruptive: true, progress: job.progress, log: await this.jobLog.open(job.id), dirty: true, done: Promise.resolve() };
    const line = (level: JobLogLine['level'], message: string) => {
      active.log.add(level, message);
      active.dirty = true;
    };
    line('error', reason);
    this.logger.warn(`job ${job.id} (${job.kind}) of ${job.leaseOwner} was interrupted; running its plugin's cleanup`);
    this.active.set(job.id, active);
    job.leaseOwner = this.owner;
    active.done = this.cleanUp(job, active.log, 'crashed', line)
      .then(async (cleaned) => {
        // A restore that stopped nodes is recorded FAILED too (its handler says so on the restore).
        if (job.kind === JobKind.RESTORE) await this.handlers.get(job.kind)!.recover(job).catch((error: Error) => line('warn', `the restore could not be marked failed: ${error.message}`));
        return this.finish(job, active, JobStatus.FAILED, `${reason}; ${cleaned}`, null);
      })
      .catch((error: Error) => this.logger.error(`job ${job.id} could not be recorded: ${error.message}`))
      .finally(() => this.active.delete(job.id));
  }

  /**
   * Settles jobs left RUNNING by a process that died. With SQLite (one instance) every RUNNING
   * job found at start is such a job; with PostgreSQL only those whose lease ran out. Work found
   * complete is recorded; otherwise the job is queued again for another attempt (a backup's
   * chunks already stored are reused), unless it has had all its attempts.
   */
  private async settleInterruptedJobs(which: 'all' | 'expired-leases'): Promise<void> {
    const where = which === 'all' ? { status: In(HELD) } : { status: In(HELD), leaseExpiresAt: LessThan(new Date()) };
    for (const job of await this.jobs.find({ where })) {
      if (this.active.has(job.id)) continue;
      if (job.payload.disruptive === true) {
        await this.cleanUpInterrupted(job);
        continue;
      }
      const handler = this.handlers.get(job.kind)!;
      let result: JsonMap | null = null;
      let reason = `interrupted: the server running this job (${job.leaseOwner ?? 'unknown'}) stopped before it finished`;
      try {
        result = await handler.recover(job);
      } catch (error) {
        reason = `interrupted, and recovery failed: ${describeFailure(error)}`;
      }
      const at = new Date().toISOString();
      if (!result && RETRIED_KINDS.has(job.kind) && job.attempts < this.maxAttempts) {
        const notBefore = this.retryTime(job.attempts);
        const log = await this.jobLog.open(job.id);
        log.add('warn', `${reason}; taken over by ${this.owner}, attempt ${job.attempts + 1} of ${this.maxAttempts} from ${notBefore.toISOString()}`, at);
        if (await this.requeue(job, log, reason, notBefore, job.progress, job.leaseOwner)) this.logger.warn(`job ${job.id} (${job.kind}) of ${job.leaseOwner} taken over after its worker stopped`);
        continue;
      }
      if (!result && handler.afterInterruption) reason = `${reason}; ${handler.afterInterruption}`;
      const updated = await this.jobs.update(
        { id: job.id, status: JobStatus.RUNNING, leaseOwner: job.leaseOwner === null ? IsNull() : job.leaseOwner },
        result
          ? { status: JobStatus.COMPLETED, result, finishedAt: new Date(), leaseOwner: null, leaseExpiresAt: null }
          : { status: JobStatus.FAILED, error: reason, finishedAt: new Date(), leaseOwner: null, leaseExpiresAt: null },
      );
      if (updated.affected === 1) {
        // Ended, so no holder writes to its log any more.
        await this.jobLog.append(job.id, { at, level: result ? 'info' : 'error', message: result ? 'the server stopped after the work was complete; recovered on restart' : reason });
        this.jobService.events.emit('ended', job.id, result ? JobStatus.COMPLETED : JobStatus.FAILED);
        this.logger.warn(`job ${job.id} (${job.kind}) ${result ? 'recovered' : 'marked failed'} after an interruption`);
        await this.audit.record({ actor: 'system', action: result ? 'job.recovered' : 'job.interrupted', subjectType: 'job', subjectId: job.id, details: { kind: job.kind } });
      }
    }
  }
}

/**
 * Whether two policies' runs must not run together: a network-scope run covers every node of its
 * network, so it never runs beside another run on that network.
 */
function overlaps(a: PolicyEntity, b: PolicyEntity): boolean {
  if (a.id === b.id) return true;
  if (a.networkId !== b.networkId) return false;
  // Two runs of one node are the per-node limit's business (maxJobsPerNode).
  return !a.nodeId || !b.nodeId;
}

/** What the per-node limit counts: the node of a node-scope policy, the network of a network-scope one. */
function nodeKey(policy: PolicyEntity): string {
  return policy.nodeId ?? `network:${policy.networkId}`;
}
