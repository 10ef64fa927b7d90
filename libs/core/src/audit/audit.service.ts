/** Records who did what, when: every mutation, every refused authentication and every job's end. */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { Repository } from 'typeorm';
import type { JsonMap } from '../catalog/columns';
import { AuditEventEntity } from '../catalog/entities';
import { ChainvaultError } from '../errors/chainvault.errors';

export interface AuditRecord {
  actor: string;
  action: string;
  subjectType: string;
  subjectId?: string | null;
  details?: Record<string, unknown>;
  remoteAddress?: string | null;
  /** `ok`, `failed` or `refused`. */
  outcome?: string | null;
}

export interface AuditFilter {
  action?: string | null;
  actor?: string | null;
  outcome?: string | null;
}

export interface AuditPage {
  items: AuditEventEntity[];
  endCursor: string | null;
  hasNextPage: boolean;
}

/** A page cursor: the last event's time and id, so paging is stable while new events arrive. */
function cursorOf(event: AuditEventEntity): string {
  return Buffer.from(`${event.at.toISOString()}|${event.id}`).toString('base64url');
}

function parseCursor(cursor: string): { at: string; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!at || !id || Number.isNaN(new Date(at).getTime())) throw ChainvaultError.badInput(`"${cursor}" is not a cursor this API gave out`);
  return { at, id };
}

@Injectable()
export class AuditService {
  constructor(@InjectRepository(AuditEventEntity) private readonly events: Repository<AuditEventEntity>) {}

  async record(event: AuditRecord): Promise<void> {
    await this.events.insert({
      id: randomUUID(),
      at: new Date(),
      actor: event.actor.slice(0, 200),
      action: event.action.slice(0, 64),
      subjectType: event.subjectType,
      subjectId: event.subjectId ?? null,
      details: (event.details ?? {}) as JsonMap,
      remoteAddress: event.remoteAddress?.slice(0, 64) ?? null,
      outcome: event.outcome ?? null,
    });
  }

  /** Newest first, `first` at a time (1-500), after a cursor from an earlier page. */
  async page(filter: AuditFilter, first: number, after?: string | null): Promise<AuditPage> {
    if (!Number.isInteger(first) || first < 1 || first > 500) throw ChainvaultError.badInput(`first must be between 1 and 500, got ${first}`);
    const query = this.events.createQueryBuilder('e').orderBy('e.at', 'DESC').addOrderBy('e.id', 'DESC').take(first + 1);
    if (filter.action) query.andWhere('e.action = :action', { action: filter.action });
    if (filter.actor) query.andWhere('e.actor = :actor', { actor: filter.actor });
    if (filter.outcome) query.andWhere('e.outcome = :outcome', { outcome: filter.outcome });
    if (after) {
      const { at, id } = parseCursor(after);
      query.andWhere('(e.at < :at OR (e.at = :at AND e.id < :id))', { at, id });
    }
    const rows = await query.getMany();
    const items = rows.slice(0, first);
    return { items, hasNextPage: rows.length > first, endCursor: items.length ? cursorOf(items[items.length - 1]) : null };
  }
}
