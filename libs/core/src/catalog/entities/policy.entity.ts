import { Column, Entity, Unique, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { IdColumn, JsonColumn, RetiredAtColumn, TimestampColumn, type JsonMap } from '../columns';
import { NetworkEntity } from './network.entity';
import { NodeEntity } from './node.entity';

export enum SchedulePreset {
  HOURLY = 'HOURLY',
  DAILY = 'DAILY',
  TWICE_DAILY = 'TWICE_DAILY',
  THREE_TIMES_DAILY = 'THREE_TIMES_DAILY',
  FOUR_TIMES_DAILY = 'FOUR_TIMES_DAILY',
}

export interface PolicySchedule {
  /** Each fire starts up to this many seconds late, spread evenly and the same for the same fire. */
  jitterSeconds?: number;
  preset?: SchedulePreset;
  cron?: string;
  timeZone: string;
  /** A run asked for outside every maintenance window: WAIT for the next one (the default), or end SKIPPED. */
  outsideWindow?: 'WAIT' | 'SKIP';
}

export interface MaintenanceWindowSpec {
  /** Weekdays the window starts on: MON … SUN. */
  days: string[];
  /** Local time HH:MM in the policy's time zone. An end at or before the start runs past midnight. */
  start: string;
  end: string;
}

export interface WebhookSpec {
  url: string;
  /** Which job ends call it. Default: both. */
  on?: ('FAILURE' | 'SUCCESS')[];
}

export interface RetentionRules {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  /** A duration such as `30d`, `12h`, `2w`. */
  keepWithin?: string;
}

/** What to back up, with which method, when, where to, and for how long. */
@Entity('policy')
@Unique('uq_policy_name', ['name'])
export class PolicyEntity {
  @PrimaryColumn({ type: 'varchar', length: 36, primaryKeyConstraintName: 'pk_policy' })
  id!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @IdColumn({ name: 'network_id' })
  networkId!: string;

  @ManyToOne(() => NetworkEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'network_id', foreignKeyConstraintName: 'fk_policy_network_id' })
  network?: NetworkEntity;

  /** Set for node-scope methods; null for network-scope ones. */
  @IdColumn({ name: 'node_id', nullable: true })
  nodeId!: string | null;

  @ManyToOne(() => NodeEntity, { onDelete: 'CASCADE', nullable: true })
  @JoinColumn({ name: 'node_id', foreignKeyConstraintName: 'fk_policy_node_id' })
  node?: NodeEntity | null;

  @Column({ name: 'plugin_id', type: 'varchar', length: 64 })
  pluginId!: string;

  @Column({ type: 'varchar', length: 64 })
  method!: string;

  @JsonColumn()
  options!: JsonMap;

  @JsonColumn({ nullable: true })
  schedule!: PolicySchedule | null;

  /** The first is the primary destination. */
  @JsonColumn({ name: 'destination_ids' })
  destinationIds!: string[];

  @JsonColumn()
  retention!: RetentionRules;

  @Column({ type: 'boolean' })
  enabled!: boolean;

  /** Fires before this are not caught up (set when a paused policy resumes); null: since creation. */
  @TimestampColumn({ name: 'schedule_from', nullable: true })
  scheduleFrom!: Date | null;

  /** When jobs of this policy may start, in the schedule's time zone; empty: any time. */
  @JsonColumn({ name: 'maintenance_windows', nullable: true })
  maintenanceWindows!: MaintenanceWindowSpec[] | null;

  /** Called when a job of this policy ends. */
  @JsonColumn({ nullable: true })
  webhook!: WebhookSpec | null;

  @TimestampColumn({ name: 'created_at' })
  createdAt!: Date;

  /** Set when it was deleted: kept (under a freed name) for the backups taken of it. */
  @RetiredAtColumn()
  deletedAt!: Date | null;
}
