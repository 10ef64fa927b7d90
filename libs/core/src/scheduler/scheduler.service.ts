/**
 * Turns policy schedules into backup jobs. On every tick (an interval registered with
 * @nestjs/schedule), each enabled policy's fires since its last one are found in its time zone;
 * the latest becomes one job, keyed by policy and fire time, so several instances ticking
 * together still create it once. Fires missed while every instance was down are caught up by
 * that one job, which says so. A fire while the policy's previous run is still queued or running
 * is recorded as a SKIPPED job with the reason. Jitter and maintenance windows only move when
 * the job may start, never which fire it answers.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import { Repository } from 'typeorm';
import { JobEntity, JobKind, JobStatus, PolicyEntity } from '../catalog/entities';
import { uniqueViolation } from '../catalog/unique-violation';
import { CHAINVAULT_CONFIG, JOB_DEFAULTS, type ChainvaultConfig } from '../config/chainvault-config';
import { JobService } from '../jobs/job.service';
import { nextWindowStart, windowAt, type MaintenanceWindow } from '../policies/maintenance-window';
import { fireTimesBetween } from '../policies/schedule';
import { RetentionService } from '../retention/retention.service';
import { CLOCK, type Clock } from './clock';

/** More missed fires than this are counted as "at least" (a years-old policy back from the dead). */
const MAX_COUNTED_FIRES = 10_000;
const RETENTION_SWEEP_MS = 60 * 60 * 1000;

export type FireOutcome = 'queued' | 'skipped' | 'taken';

export interface FireRecord {
  policyId: string;
  fire: Date;
  outcome: FireOutcome;
  /** Fires before `fire` that were missed and are answered by this one run. */
  missed: number;
  jobId?: string;
}

@Injectable()
export class SchedulerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('scheduler');
  private ticking: Promise<FireRecord[]> | null = null;
  private lastSweep = 0;

  constructor(
    @Inject(CHAINVAULT_CONFIG) private readonly config: ChainvaultConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @InjectRepository(PolicyEntity) private readonly policies: Repository<PolicyEntity>,
    @InjectRepository(JobEntity) private readonly jobRows: Repository<JobEntity>,
    private readonly jobs: JobService,
    private readonly retention: RetentionService,
    private readonly registry: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    const every = this.config.schedulerTickMs ?? JOB_DEFAULTS.schedulerTickMs;
    this.registry.addInterval('chainvault-scheduler', setInterval(() => void this.tick().catch((e: Error) => this.logger.error(`tick failed: ${e.message}`)), every));
    // The first tick on start catches up what was missed while no instance ran.
    void this.tick().catch((e: Error) => this.logger.error(`tick failed: ${e.message}`));
  }

  onApplicationShutdown(): void {
    if (this.registry.doesExist('interval', 'chainvault-scheduler')) this.registry.deleteInterval('chainvault-scheduler');
  }

  /** One pass over every policy; ticks never overlap in one process. Returns what each due fire became. */
  async tick(): Promise<FireRecord[]> {
    if (this.ticking) return this.ticking;
    this.ticking = this.tickOnce().finally(() => (this.ticking = null));
    return this.ticking;
  }

  private async tickOnce(): Promise<FireRecord[]> {
    const now = this.clock.now();
    const records: FireRecord[] = [];
    for (const policy of await this.policies.findBy({ enabled: true })) {
      if (!policy.schedule) continue;
      try {
        const record = await this.fire(policy, now);
        if (record) records.push(record);
      } catch (error) {
        this.logger.error(`policy "${policy.name}": scheduling failed: ${(error as Error).message}`);
      }
    }
    if (now.getTime() - this.lastSweep >= RETENTION_SWEEP_MS) {
      this.lastSweep = now.getTime();
      await this.retention.sweep('scheduler').catch((error: Error) => this.logger.error(`retention sweep failed: ${error.message}`));
    }
    return records;
  }

  /** The fire a policy owes at `now`, if any, made into a job (or a skip record). */
  private async fire(policy: PolicyEntity, now: Date): Promise<FireRecord | null> {
    const schedule = policy.schedule!;
    const last = await this.lastScheduledFire(policy.id);
    const since = [last, policy.scheduleFrom, policy.createdAt].filter((d): d is Date => d instanceof Date).reduce((a, b) => (a > b ? a : b));
    const fires = fireTimesBetween(schedule, since, now, MAX_COUNTED_FIRES);
    if (fires.length === 0) return null;
    const fire = fires[fires.length - 1];
    const missed = fires.length - 1;
    const base = { policyId: policy.id, fire, missed };

    const active = await this.jobs.findActiveBackup(policy.id);
    if (active) return this.skip(policy, fire, missed, `skipped: the previous run of policy "${policy.name}" (job ${active.id}) is still ${active.status.toLowerCase()}`);

    const notBefore = this.startTime(policy, fire);
    const payload: Record<string, unknown> = { trigger: 'schedule', fire: fire.toISOString() };
    if (missed > 0) {
      payload.catchUp = { missedFires: missed, firstMissed: fires[0].toISOString(), counted: fires.length >= MAX_COUNTED_FIRES ? 'at least' : 'exactly' };
    }
    try {
      const job = await this.jobs.create({ kind: JobKind.BACKUP, policyId: policy.id, scheduledFor: fire, notBefore, payload, createdAt: now }, 'scheduler');
      if (missed > 0) this.logger.warn(`policy "${policy.name}": ${missed} fire(s) missed since ${fires[0].toISOString()} are caught up by one run (job ${job.id})`);
      return { ...base, outcome: 'queued', jobId: job.id };
    } catch (error) {
      const index = uniqueViolation(error);
      if (index?.includes('scheduled_for') || index === 'uq_job_policy_fire') return { ...base, outcome: 'taken' };
      if (index) {
        // Another instance queued a run of this policy between our check and our insert.
        const raced = await this.jobs.findActiveBackup(policy.id);
        return this.skip(policy, fire, missed, `skipped: the previous run of policy "${policy.name}" (job ${raced?.id ?? 'unknown'}) is still queued or running`);
      }
      throw error;
    }
  }

  private async skip(policy: PolicyEntity, fire: Date, missed: number, reason: string): Promise<FireRecord> {
    const base = { policyId: policy.id, fire, missed };
    try {
      const job = await this.jobs.create(
        { kind: JobKind.BACKUP, policyId: policy.id, scheduledFor: fire, status: JobStatus.SKIPPED, error: reason, payload: { trigger: 'schedule', fire: fire.toISOString() }, createdAt: this.clock.now() },
        'scheduler',
      );
      this.logger.warn(`policy "${policy.name}": the fire at ${fire.toISOString()} is ${reason}`);
      return { ...base, outcome: 'skipped', jobId: job.id };
    } catch (error) {
      if (uniqueViolation(error)) return { ...base, outcome: 'taken' };
      throw error;
    }
  }

  /** The fire plus the policy's jitter, moved to the next maintenance window when it falls outside one. */
  private startTime(policy: PolicyEntity, fire: Date): Date | null {
    const jitterSeconds = policy.schedule?.jitterSeconds ?? 0;
    let start = fire;
    if (jitterSeconds > 0) {
      // The same fire always gets the same delay, whichever instance computes it.
      const spread = createHash('sha256').update(`${policy.id}@${fire.toISOString()}`).digest().readUInt32BE(0) % (jitterSeconds * 1000);
      start = new Date(fire.getTime() + spread);
    }
    const windows = (policy.maintenanceWindows ?? []) as MaintenanceWindow[];
    if (windows.length > 0 && !windowAt(windows, policy.schedule!.timeZone, start)) start = nextWindowStart(windows, policy.schedule!.timeZone, start).start;
    return start.getTime() === fire.getTime() ? null : start;
  }

  private async lastScheduledFire(policyId: string): Promise<Date | null> {
    const row = await this.jobRows
      .createQueryBuilder('job')
      .select('MAX(job.scheduled_for)', 'last')
      .where('job.policy_id = :policyId', { policyId })
      .getRawOne<{ last: string | null }>();
    return row?.last ? new Date(row.last) : null;
  }
}
