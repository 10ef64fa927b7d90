/** Records who did what, when: every mutation and every job's end. */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { Repository } from 'typeorm';
import type { JsonMap } from '../catalog/columns';
import { AuditEventEntity } from '../catalog/entities';

export interface AuditRecord {
  actor: string;
  action: string;
  subjectType: string;
  subjectId?: string | null;
  details?: Record<string, unknown>;
}

@Injectable()
export class AuditService {
  constructor(@InjectRepository(AuditEventEntity) private readonly events: Repository<AuditEventEntity>) {}

  async record(event: AuditRecord): Promise<void> {
    await this.events.insert({
      id: randomUUID(),
      at: new Date(),
      actor: event.actor,
      action: event.action,
      subjectType: event.subjectType,
      subjectId: event.subjectId ?? null,
      details: (event.details ?? {}) as JsonMap,
    });
  }

  recent(limit = 100): Promise<AuditEventEntity[]> {
    return this.events.find({ order: { at: 'DESC' }, take: limit });
  }
}
