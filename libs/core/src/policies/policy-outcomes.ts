/**
 * How each policy last ended, for an overview of every policy: its newest completed backup and
 * its newest failed backup job, for a whole page of policies in one grouped query each (not one
 * query per policy).
 */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { BackupEntity, BackupStatus, JobEntity, JobKind, JobStatus, PolicyEntity } from '../catalog/entities';

export interface PolicyOutcome {
  at: Date;
  jobId: string | null;
  backupId: string | null;
  error: string | null;
}

/** SQLite takes at most 32,766 bound values in one statement; far more policies than a page are asked for in chunks. */
const CHUNK = 5_000;

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

@Injectable()
export class PolicyOutcomes {
  constructor(
    @InjectRepository(JobEntity) private readonly jobs: Repository<JobEntity>,
    @InjectRepository(PolicyEntity) private readonly policies: Repository<PolicyEntity>,
  ) {}

  /**
   * The newest completed backup of each policy that has one: per policy, the backups index
   * (policy, created) is read from its newest end until a completed one, so the cost follows the
   * number of policies, not of backups.
   */
  async lastSuccesses(policyIds: string[]): Promise<Map<string, PolicyOutcome>> {
    const found = new Map<string, PolicyOutcome>();
    for (const ids of chunks([...new Set(policyIds)])) {
      if (ids.length === 0) continue;
      const newest = 'SELECT n.id FROM backup n WHERE n.policy_id = p.id AND n.status = :completed ORDER BY n.created_at DESC LIMIT 1';
      const rows: { policyId: string; backupId: string; at: string; jobId: string | null }[] = await this.policies
        .createQueryBuilder('p')
        .withDeleted()
        .innerJoin(BackupEntity, 'b', `b.id = (${newest})`)
        .select('p.id', 'policyId')
        .addSelect('b.id', 'backupId')
        .addSelect('b.created_at', 'at')
        .addSelect('b.job_id', 'jobId')
        .where('p.id IN (:...ids)', { ids, completed: BackupStatus.COMPLETED })
        .getRawMany();
      for (const row of rows) found.set(row.policyId, { at: new Date(row.at), backupId: row.backupId, jobId: row.jobId, error: null });
    }
    return found;
  }

  /** The newest failed backup job of each policy that has one, with its error. */
  async lastFailures(policyIds: string[]): Promise<Map<string, PolicyOutcome>> {
    const found = new Map<string, PolicyOutcome>();
    for (const ids of chunks([...new Set(policyIds)])) {
      if (ids.length === 0) continue;
      const newest = this.jobs
        .createQueryBuilder('n')
        .select('n.policy_id', 'policy_id')
        .addSelect('MAX(n.finished_at)', 'at')
        .where('n.policy_id IN (:...ids)')
        .andWhere('n.kind = :backup')
        .andWhere('n.status = :failed')
        .groupBy('n.policy_id');
      const rows = await this.jobs
        .createQueryBuilder('j')
        .innerJoin(`(${newest.getQuery()})`, 'newest', 'newest.policy_id = j.policy_id AND newest.at = j.finished_at')
        .where('j.kind = :backup')
        .andWhere('j.status = :failed')
        .setParameters({ ids, backup: JobKind.BACKUP, failed: JobStatus.FAILED })
        .getMany();
      for (const j of rows) found.set(j.policyId!, { at: j.finishedAt!, backupId: j.backupId, jobId: j.id, error: j.error });
    }
    return found;
  }
}
