import { Column, Entity, PrimaryColumn } from 'typeorm';
import { TimestampColumn } from '../columns';

/** A running chainvault process, as it last reported itself: how several instances see each other. */
@Entity('instance')
export class InstanceEntity {
  /** The worker's lease owner: host, pid and a random suffix. */
  @PrimaryColumn({ type: 'varchar', length: 64, primaryKeyConstraintName: 'pk_instance' })
  id!: string;

  @Column({ type: 'varchar', length: 255 })
  host!: string;

  @Column({ type: 'integer' })
  pid!: number;

  @TimestampColumn({ name: 'started_at' })
  startedAt!: Date;

  @TimestampColumn({ name: 'heartbeat_at' })
  heartbeatAt!: Date;
}
