/**
 * Copies of backups in the further destinations of their policy: what each holds, and the
 * jobs that copy a backup there (after each backup, and to back-fill a destination added later).
 */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { In, Repository } from 'typeorm';
import { BackupEntity, BackupReplicaEntity, BackupStatus, JobKind, JobStatus, ReplicaState, type PolicyEntity } from '../catalog/entities';
import { JobEntity } from '../catalog/entities';
import { JobService } from '../jobs/job.service';

@Injectable()
export class BackupReplicas {
  constructor(
    @InjectRepository(BackupReplicaEntity) private readonly replicas: Repository<BackupReplicaEntity>,
    @InjectRepository(BackupEntity) private readonly backups: Repository<BackupEntity>,
    @InjectRepository(JobEntity) private readonly jobEntities: Repository<JobEntity>,
    private readonly jobs: JobService,
  ) {}

  forBackup(backupId: string): Promise<BackupReplicaEntity[]> {
    return this.replicas.find({ where: { backupId }, order: { destinationId: 'ASC' } });
  }

  /** The copies of several backups in one query, by destination within each backup. */
  forBackups(backupIds: readonly string[]): Promise<BackupReplicaEntity[]> {
    if (backupIds.length === 0) return Promise.resolve([]);
    return this.replicas.find({ where: { backupId: In([...backupIds]) }, order: { backupId: 'ASC', destinationId: 'ASC' } });
  }

  async record(backupId: string, destinationId: string, state: ReplicaState, details: { error?: string | null; bytesSent?: number | null } = {}): Promise<void> {
    const existing = await this.replicas.findOneBy({ backupId, destinationId });
    const values = { state, updatedAt: new Date(), error: details.error ?? null, bytesSent: details.bytesSent ?? null };
    if (existing) await this.replicas.update({ id: existing.id }, values);
    else await this.replicas.insert({ id: randomUUID(), backupId, destinationId, ...values });
  }

  /** Queues a copy of `backup` to each destination, unless one is there or on its way. Returns the jobs. */
  async schedule(backup: BackupEntity, destinationIds: string[], actor: string): Promise<JobEntity[]> {
    const created: JobEntity[] = [];
    for (const destinationId of destinationIds) {
      if (destinationId === backup.destinationId) continue;
      const replica = await this.replicas.findOneBy({ backupId: backup.id, destinationId });
      if (replica?.state === ReplicaState.COMPLETED) continue;
      const queued = await this.jobEntities.find({ where: { backupId: backup.id, kind: JobKind.REPLICATE, status: In([JobStatus.QUEUED, JobStatus.RUNNING]) } });
      if (queued.some((j) => j.payload.destinationId === destinationId)) continue;
      await this.record(backup.id, destinationId, ReplicaState.PENDING);
      created.push(await this.jobs.create({ kind: JobKind.REPLICATE, policyId: backup.policyId, backupId: backup.id, payload: { destinationId } }, actor));
    }
    return created;
  }

  /** Back-fill: every completed backup of the policy is copied to the destinations that lack it. */
  async backfill(policy: PolicyEntity, actor: string): Promise<JobEntity[]> {
    const backups = await this.backups.find({ where: { policyId: policy.id, status: In([BackupStatus.COMPLETED, BackupStatus.PARTIAL]) }, order: { createdAt: 'ASC' } });
    const jobs: JobEntity[] = [];
    for (const backup of backups) jobs.push(...(await this.schedule(backup, policy.destinationIds, actor)));
    return jobs;
  }
}
