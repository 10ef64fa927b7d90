import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { BigIntColumn, IdColumn, JsonColumn, TimestampColumn, type JsonMap } from '../columns';
import { PolicyEntity } from './policy.entity';

export enum BackupStatus {
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  PARTIAL = 'PARTIAL',
  FAILED = 'FAILED',
  DELETED = 'DELETED',
}

export enum VerificationState {
  UNVERIFIED = 'UNVERIFIED',
  VERIFIED = 'VERIFIED',
  CORRUPT = 'CORRUPT',
}

/** One version of a node's or network's data, stored in a destination's repository. */
@Entity('backup')
@Index('ix_backup_policy_created', ['policyId', 'createdAt'])
export class BackupEntity {
  @PrimaryColumn({ type: 'varchar', length: 36, primaryKeyConstraintName: 'pk_backup' })
  id!: string;

  @IdColumn({ name: 'policy_id' })
  policyId!: string;

  @ManyToOne(() => PolicyEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'policy_id', foreignKeyConstraintName: 'fk_backup_policy_id' })
  policy?: PolicyEntity;

  @IdColumn({ name: 'network_id' })
  networkId!: string;

  @IdColumn({ name: 'node_id', nullable: true })
  nodeId!: string | null;

  @Column({ name: 'plugin_id', type: 'varchar', length: 64 })
  pluginId!: string;

  @Column({ type: 'varchar', length: 64 })
  method!: string;

  @Column({ type: 'varchar', length: 16 })
  status!: BackupStatus;

  @IdColumn({ name: 'destination_id' })
  destinationId!: string;

  @IdColumn({ name: 'job_id', nullable: true })
  jobId!: string | null;

  @TimestampColumn({ name: 'started_at' })
  startedAt!: Date;

  @TimestampColumn({ name: 'created_at' })
  createdAt!: Date;

  @BigIntColumn({ name: 'logical_bytes' })
  logicalBytes!: number;

  @BigIntColumn({ name: 'stored_bytes' })
  storedBytes!: number;

  @BigIntColumn({ name: 'bytes_read' })
  bytesRead!: number;

  @Column({ name: 'file_count', type: 'integer' })
  fileCount!: number;

  @Column({ name: 'files_read', type: 'integer' })
  filesRead!: number;

  @Column({ name: 'files_unchanged', type: 'integer' })
  filesUnchanged!: number;

  @JsonColumn()
  metadata!: JsonMap;

  /** The first of `dependsOnIds`, kept for the API field and catalogs written before plugin API 2. */
  @IdColumn({ name: 'depends_on_id', nullable: true })
  dependsOnId!: string | null;

  /** The backups this one needs for a restore (chain segments it continues, earlier checkpoints). */
  @JsonColumn({ name: 'depends_on_ids', nullable: true })
  dependsOnIds!: string[] | null;

  /** A PARTIAL backup's per-node report: which nodes completed, which failed and why. */
  @JsonColumn({ nullable: true })
  report!: JsonMap | null;

  @Column({ type: 'varchar', length: 16 })
  verification!: VerificationState;

  @TimestampColumn({ name: 'verified_at', nullable: true })
  verifiedAt!: Date | null;

  @JsonColumn({ name: 'verification_problems' })
  verificationProblems!: string[];

  @Column({ type: 'boolean' })
  pinned!: boolean;

  @TimestampColumn({ name: 'deleted_at', nullable: true })
  deletedAt!: Date | null;

  /** The first block the backup holds (see backups/block-range.ts); null when it holds no block range. */
  @BigIntColumn({ name: 'first_block', nullable: true })
  firstBlock!: number | null;

  /** The last block the backup holds. */
  @BigIntColumn({ name: 'last_block', nullable: true })
  lastBlock!: number | null;
}
