import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { IdColumn, JsonColumn, TimestampColumn, type JsonMap } from '../columns';
import { BackupEntity } from './backup.entity';

export enum RestoreStatus {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}

/** A backup applied to a target: the same node, another registered node, or an ad-hoc target config. */
@Entity('restore')
export class RestoreEntity {
  @PrimaryColumn({ type: 'varchar', length: 36, primaryKeyConstraintName: 'pk_restore' })
  id!: string;

  @IdColumn({ name: 'backup_id' })
  backupId!: string;

  @ManyToOne(() => BackupEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'backup_id', foreignKeyConstraintName: 'fk_restore_backup_id' })
  backup?: BackupEntity;

  @IdColumn({ name: 'target_node_id', nullable: true })
  targetNodeId!: string | null;

  /** An ad-hoc target's config (secret fields encrypted in `targetSecrets`). */
  /** A restore set: every target node, in the order given (the plugin orders the phases). */
  @JsonColumn({ name: 'target_node_ids', nullable: true })
  targetNodeIds!: string[] | null;

  @JsonColumn({ name: 'target_config', nullable: true })
  targetConfig!: JsonMap | null;

  @Column({ name: 'target_secrets', type: 'text', nullable: true })
  targetSecrets!: string | null;

  @JsonColumn()
  options!: JsonMap;

  @Column({ type: 'varchar', length: 16 })
  status!: RestoreStatus;

  @JsonColumn({ nullable: true })
  details!: JsonMap | null;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  @TimestampColumn({ name: 'created_at' })
  createdAt!: Date;

  @TimestampColumn({ name: 'finished_at', nullable: true })
  finishedAt!: Date | null;
}
