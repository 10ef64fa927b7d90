import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, Unique } from 'typeorm';
import { IdColumn, JsonColumn, RetiredAtColumn, TimestampColumn, type JsonMap } from '../columns';
import { NetworkEntity } from './network.entity';

/** One node of a network, backed up through a plugin. Secret config fields live encrypted in `secrets`. */
@Entity('node')
@Unique('uq_node_network_name', ['networkId', 'name'])
export class NodeEntity {
  @PrimaryColumn({ type: 'varchar', length: 36, primaryKeyConstraintName: 'pk_node' })
  id!: string;

  @IdColumn({ name: 'network_id' })
  networkId!: string;

  @ManyToOne(() => NetworkEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'network_id', foreignKeyConstraintName: 'fk_node_network_id' })
  network?: NetworkEntity;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ name: 'plugin_id', type: 'varchar', length: 64 })
  pluginId!: string;

  @Column({ type: 'varchar', length: 64 })
  role!: string;

  /** The config without its secret fields. */
  @JsonColumn()
  config!: JsonMap;

  /** The secret fields, encrypted with the server's key; null when the config has none. */
  @Column({ type: 'text', nullable: true })
  secrets!: string | null;

  @TimestampColumn({ name: 'created_at' })
  createdAt!: Date;

  /** Set when it was deleted: kept (under a freed name) for the backups taken of it. */
  @RetiredAtColumn()
  deletedAt!: Date | null;
}
