import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { JsonColumn, TimestampColumn, type JsonMap } from '../columns';

/** Who did what, and when. */
@Entity('audit_event')
@Index('ix_audit_event_at', ['at'])
@Index('ix_audit_event_action', ['action'])
export class AuditEventEntity {
  @PrimaryColumn({ type: 'varchar', length: 36, primaryKeyConstraintName: 'pk_audit_event' })
  id!: string;

  @TimestampColumn()
  at!: Date;

  @Column({ type: 'varchar', length: 200 })
  actor!: string;

  @Column({ type: 'varchar', length: 64 })
  action!: string;

  @Column({ name: 'subject_type', type: 'varchar', length: 32 })
  subjectType!: string;

  @Column({ name: 'subject_id', type: 'varchar', length: 36, nullable: true })
  subjectId!: string | null;

  @JsonColumn()
  details!: JsonMap;

  /** The caller's address, for events from the API. */
  @Column({ name: 'remote_address', type: 'varchar', length: 64, nullable: true })
  remoteAddress!: string | null;

  /** `ok`, `failed` or `refused`, for events from the API. */
  @Column({ type: 'varchar', length: 16, nullable: true })
  outcome!: string | null;
}
