import { Column, Entity, PrimaryColumn, Unique } from 'typeorm';
import { JsonColumn, TimestampColumn, type JsonMap } from '../columns';

/**
 * A stored restore: the nodes a backup is restored onto and the restore options (a Fabric
 * template's host, port and path maps), so a predefined network is launched again with one
 * request (seed 004, "templating a restore process").
 */
@Entity('restore_template')
@Unique('uq_restore_template_name', ['name'])
export class RestoreTemplateEntity {
  @PrimaryColumn({ type: 'varchar', length: 36, primaryKeyConstraintName: 'pk_restore_template' })
  id!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ type: 'text', nullable: true })
  description!: string | null;

  /** The plugin whose backups it restores (that of its target nodes). */
  @Column({ name: 'plugin_id', type: 'varchar', length: 64 })
  pluginId!: string;

  /** The registered nodes restored onto, as a restore set. */
  @JsonColumn({ name: 'target_node_ids' })
  targetNodeIds!: string[];

  @JsonColumn()
  options!: JsonMap;

  @TimestampColumn({ name: 'created_at' })
  createdAt!: Date;

  @Column({ name: 'created_by', type: 'varchar', length: 200 })
  createdBy!: string;
}
