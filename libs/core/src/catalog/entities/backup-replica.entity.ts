import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, Unique } from 'typeorm';
import { BigIntColumn, IdColumn, TimestampColumn } from '../columns';
import { BackupEntity } from './backup.entity';

export enum ReplicaState {
  PENDING = 'PENDING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
}

/** The copy of a backup in one further destination of its policy (the primary is the backup's own destination). */
@Entity('backup_replica')
@Unique('uq_backup_replica_destination', ['backupId', 'destinationId'])
export class BackupReplicaEntity {
  @PrimaryColumn({ type: 'varchar', length: 36, primaryKeyConstraintName: 'pk_backup_replica' })
  id!: string;

  @IdColumn({ name: 'backup_id' })
  backupId!: string;

  @ManyToOne(() => BackupEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'backup_id', foreignKeyConstraintName: 'fk_backup_replica_backup_id' })
  backup?: BackupEntity;

  @IdColumn({ name: 'destination_id' })
  destinationId!: string;

  @Column({ type: 'varchar', length: 16 })
  state!: ReplicaState;

  @TimestampColumn({ name: 'updated_at' })
  updatedAt!: Date;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  /** Bytes sent to the destination: the chunks it did not hold yet. */
  @BigIntColumn({ name: 'bytes_sent', nullable: true })
  bytesSent!: number | null;
}
