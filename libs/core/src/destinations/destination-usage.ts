/**
 * What each destination holds and how its last check went, for the console's overview: the
 * completed backups written there (their count and stored bytes) and its newest ended CHECK job,
 * for every destination of an answer in two queries.
 */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { BackupEntity, BackupStatus, JobEntity, JobKind, JobStatus } from '../catalog/entities';

export interface DestinationUsage {
  backups: number;
  storedBytes: number;
  lastCheck: { jobId: string; status: JobStatus; at: Date; error: string | null } | null;
}

/** Checks kept in view: destinations are checked by hand or on a schedule, far less often than backed up. */
const CHECKS_READ = 500;

@Injectable()
export class DestinationUsageService {
  constructor(
    @InjectRepository(BackupEntity) private readonly backups: Repository<BackupEntity>,
    @InjectRepository(JobEntity) private readonly jobs: Repository<JobEntity>,
  ) {}

  async usage(destinationIds: string[]): Promise<Map<string, DestinationUsage>> {
    const ids = [...new Set(destinationIds)];
    const found = new Map<string, DestinationUsage>(ids.map((id) => [id, { backups: 0, storedBytes: 0, lastCheck: null }]));
    if (ids.length === 0) return found;
    const totals: { destinationId: string; backups: string | number; storedBytes: string | number | null }[] = await this.backups
      .createQueryBuilder('b')
      .select('b.destination_id', 'destinationId')
      .addSelect('COUNT(*)', 'backups')
      .addSelect('SUM(b.stored_bytes)', 'storedBytes')
      .where('b.destination_id IN (:...ids)', { ids })
      .andWhere('b.status = :completed', { completed: BackupStatus.COMPLETED })
      .groupBy('b.destination_id')
      .getRawMany();
    for (const row of totals) found.set(row.destinationId, { ...found.get(row.destinationId)!, backups: Number(row.backups), storedBytes: Number(row.storedBytes ?? 0) });
    // The destination of a check is in its payload: the newest ended checks, newest first, give each destination its last one.
    const checks = await this.jobs.find({
      select: { id: true, status: true, finishedAt: true, error: true, payload: true },
      where: [
        { kind: JobKind.CHECK, status: JobStatus.COMPLETED },
        { kind: JobKind.CHECK, status: JobStatus.FAILED },
      ],
      order: { finishedAt: 'DESC' },
      take: CHECKS_READ,
    });
    for (const check of checks) {
      const usage = found.get(String(check.payload.destinationId));
      if (usage && !usage.lastCheck && check.finishedAt) usage.lastCheck = { jobId: check.id, status: check.status, at: check.finishedAt, error: check.error };
    }
    return found;
  }
}
