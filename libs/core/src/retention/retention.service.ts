/**
 * Applies a policy's retention rules: plans with planRetention (which never lets go of a pinned
 * backup, the last verified good one, or a segment a kept backup continues), deletes what the
 * plan lets go newest first (a backup is deleted before the one it depends on), then queues a
 * prune of every destination that held them so their data is actually freed. A dry run only
 * plans. Runs after each backup, on the scheduler's sweep and through `applyRetention`.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { BackupService, dependencyIds } from '../backups/backup.service';
import { BackupEntity, BackupReplicaEntity, BackupStatus, JobKind, JobStatus, PolicyEntity, type RetentionRules } from '../catalog/entities';
import { ChainvaultError } from '../errors/chainvault.errors';
import { JobService } from '../jobs/job.service';
import { OneAtATime } from '../one-at-a-time';
import { CLOCK, type Clock } from '../scheduler/clock';
import { planRetention, type RetentionCandidate } from './retention-plan';

export interface RetentionOutcome {
  backupId: string;
  createdAt: Date;
  keep: boolean;
  reasons: string[];
  /** Why a backup the plan let go is still there (pinned meanwhile, in use by a job). */
  error?: string;
}

export interface RetentionReport {
  policyId: string;
  dryRun: boolean;
  evaluatedAt: Date;
  /** Newest first. */
  decisions: RetentionOutcome[];
  deleted: string[];
  pruneJobIds: string[];
}

function hasRules(rules: RetentionRules): boolean {
  return Object.values(rules ?? {}).some((value) => value !== undefined && value !== null);
}

@Injectable()
export class RetentionService {
  private readonly logger = new Logger('retention');
  /** One application per policy at a time in this process; a second request waits for the first. */
  private readonly perPolicy = new OneAtATime<RetentionReport>();

  constructor(
    @InjectRepository(PolicyEntity) private readonly policies: Repository<PolicyEntity>,
    @InjectRepository(BackupEntity) private readonly backups: Repository<BackupEntity>,
    @InjectRepository(BackupReplicaEntity) private readonly replicas: Repository<BackupReplicaEntity>,
    private readonly backupService: BackupService,
    private readonly jobs: JobService,
    private readonly audit: AuditService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  apply(policyId: string, options: { dryRun: boolean; actor: string }): Promise<RetentionReport> {
    return this.perPolicy.run(policyId, () => this.applyNow(policyId, options));
  }

  /**
   * Deletes every backup of a policy that is being deleted with its backups, newest first, and
   * queues a prune of each destination that held them. Refused, with nothing deleted, while one
   * of them is pinned. Backups that cannot go (in use, needed by another policy's backup) are
   * named in the report's decisions.
   */
  deleteAllOf(policy: PolicyEntity, actor: string): Promise<RetentionReport> {
    return this.perPolicy.run(policy.id, async () => {
      const rows = await this.backups.find({ where: { policyId: policy.id, status: In([BackupStatus.COMPLETED, BackupStatus.PARTIAL, BackupStatus.FAILED]) }, order: { createdAt: 'DESC' } });
      const pinned = rows.filter((b) => b.pinned);
      if (pinned.length) throw ChainvaultError.conflict(`policy "${policy.name}" has ${pinned.length} pinned backup(s) (${pinned.map((b) => b.id).join(', ')}); unpin them, or delete the policy without its backups`);
      const decisions: RetentionOutcome[] = rows.map((b) => ({ backupId: b.id, createdAt: b.createdAt, keep: false, reasons: ['its policy is deleted with its backups'] }));
      const report: RetentionReport = { policyId: policy.id, dryRun: false, evaluatedAt: this.clock.now(), decisions, deleted: [], pruneJobIds: [] };
      await this.deleteAndPrune(policy, decisions, rows, report, actor);
      return report;
    });
  }

  /** Applies the rules of every policy that has some. */
  async sweep(actor: string): Promise<RetentionReport[]> {
    const reports: RetentionReport[] = [];
    for (const policy of await this.policies.find()) {
      if (!hasRules(policy.retention)) continue;
      try {
        reports.push(await this.apply(policy.id, { dryRun: false, actor }));
      } catch (error) {
        this.logger.error(`policy "${policy.name}": retention failed: ${(error as Error).message}`);
      }
    }
    return reports;
  }

  private async applyNow(policyId: string, { dryRun, actor }: { dryRun: boolean; actor: string }): Promise<RetentionReport> {
    const policy = await this.policies.findOneBy({ id: policyId });
    if (!policy) throw ChainvaultError.notFound('policy', policyId);
    const rows = await this.backups.find({ where: { policyId, status: In([BackupStatus.COMPLETED, BackupStatus.PARTIAL]) } });
    const candidates: RetentionCandidate[] = rows.map((b) => ({
      id: b.id,
      createdAt: b.createdAt,
      pinned: b.pinned,
      verification: b.verification,
      status: b.status as RetentionCandidate['status'],
      dependsOnId: b.dependsOnId,
      dependsOn: dependencyIds(b),
    }));
    const plan = planRetention(candidates, policy.retention ?? {}, { timeZone: policy.schedule?.timeZone ?? 'UTC' });
    const decisions: RetentionOutcome[] = plan.map((d) => ({ backupId: d.id, createdAt: d.createdAt, keep: d.keep, reasons: d.reasons }));
    const report: RetentionReport = { policyId, dryRun, evaluatedAt: this.clock.now(), decisions, deleted: [], pruneJobIds: [] };
    if (dryRun) return report;

    await this.deleteAndPrune(policy, decisions.filter((d) => !d.keep), rows, report, actor);
    if (report.deleted.length > 0) {
      await this.audit.record({ actor, action: 'retention.apply', subjectType: 'policy', subjectId: policy.id, details: { deleted: report.deleted, pruneJobIds: report.pruneJobIds } });
    }
    return report;
  }

  /** Deletes the backups decided against, newest first, and queues a prune of every destination that held one. */
  private async deleteAndPrune(policy: PolicyEntity, going: RetentionOutcome[], rows: BackupEntity[], report: RetentionReport, actor: string): Promise<void> {
    const destinations = new Set<string>();
    // Newest first: a backup goes before the one it continues, which the catalog requires.
    for (const decision of going) {
      const backup = rows.find((b) => b.id === decision.backupId)!;
      const copies = await this.replicas.findBy({ backupId: backup.id });
      try {
        await this.backupService.delete(backup.id, actor);
        report.deleted.push(backup.id);
        destinations.add(backup.destinationId);
        for (const copy of copies) destinations.add(copy.destinationId);
      } catch (error) {
        decision.error = (error as Error).message;
        this.logger.warn(`policy "${policy.name}": backup ${backup.id} stays for now: ${decision.error}`);
      }
    }
    for (const destinationId of destinations) {
      const running = (await this.jobs.list([JobStatus.QUEUED])).find((j) => j.kind === JobKind.PRUNE && j.payload.destinationId === destinationId && !j.payload.dryRun);
      if (running) continue; // a queued prune will see these deletions too
      const job = await this.jobs.create({ kind: JobKind.PRUNE, payload: { destinationId, dryRun: false, reason: `retention of policy ${policy.name}` } }, actor);
      report.pruneJobIds.push(job.id);
    }
  }
}
