import { Column, Entity, Unique, PrimaryColumn } from 'typeorm';
import { JsonColumn, RetiredAtColumn, TimestampColumn } from '../columns';

/** A group of nodes backed up together (a VMBC blockchain, an Ethereum environment, a Fabric network). */
@Entity('network')
@Unique('uq_network_name', ['name'])
export class NetworkEntity {
  @PrimaryColumn({ type: 'varchar', length: 36, primaryKeyConstraintName: 'pk_network' })
  id!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ type: 'varchar', length: 64 })
  protocol!: string;

  @JsonColumn()
  labels!: Record<string, string>;

  @TimestampColumn({ name: 'created_at' })
  createdAt!: Date;

  /** Set when it was deleted: kept (under a freed name) for the backups taken of it. */
  @RetiredAtColumn()
  deletedAt!: Date | null;
}
