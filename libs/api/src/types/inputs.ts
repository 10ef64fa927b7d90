/** GraphQL input types. Shapes are checked further by the services, which name the bad field. */
import { Field, Float, ID, InputType, Int } from '@nestjs/graphql';
import { JsonScalar } from './json.scalar';
import { ApiRole, BackupStatus, DestinationKind, JobKind, JobStatus, SchedulePreset } from './enums';

@InputType()
export class CreateNetworkInput {
  @Field() name!: string;
  @Field() protocol!: string;
  @Field(() => JsonScalar, { nullable: true }) labels?: Record<string, string>;
}

@InputType()
export class UpdateNetworkInput {
  @Field(() => String, { nullable: true }) name?: string;
  @Field(() => JsonScalar, { nullable: true, description: 'Replaces every label.' }) labels?: Record<string, string>;
}

@InputType()
export class UpdateNodeInput {
  @Field(() => String, { nullable: true }) name?: string;
  @Field(() => String, { nullable: true }) role?: string;
  @Field(() => JsonScalar, { nullable: true, description: 'The whole new config, checked as at registration; secret fields not given again keep their values.' }) config?: unknown;
}

@InputType()
export class RegisterNodeInput {
  @Field(() => ID) networkId!: string;
  @Field() name!: string;
  @Field({ description: 'The plugin id, e.g. directory or ethereum.' }) plugin!: string;
  @Field() role!: string;
  @Field(() => JsonScalar) config!: unknown;
}

@InputType()
export class CreateDestinationInput {
  @Field() name!: string;
  @Field(() => DestinationKind) kind!: DestinationKind;
  @Field(() => JsonScalar) config!: unknown;
}

@InputType()
export class ScheduleInput {
  @Field(() => SchedulePreset, { nullable: true }) preset?: SchedulePreset;
  @Field(() => String, { nullable: true }) cron?: string;
  @Field(() => String, { nullable: true, description: 'IANA time zone; default UTC.' }) timeZone?: string;
  @Field(() => Int, { nullable: true, description: 'Start each fire up to this many seconds late, spread per fire.' }) jitterSeconds?: number;
  @Field(() => String, { nullable: true, description: 'A run outside every maintenance window: WAIT for the next one (default) or SKIP it.' }) outsideWindow?: 'WAIT' | 'SKIP';
}

@InputType()
export class MaintenanceWindowInput {
  @Field(() => [String], { description: 'Weekdays the window starts on: MON … SUN.' }) days!: string[];
  @Field({ description: 'HH:MM in the schedule\'s time zone.' }) start!: string;
  @Field({ description: 'HH:MM; at or before start means the window runs past midnight.' }) end!: string;
}

@InputType()
export class WebhookInput {
  @Field() url!: string;
  @Field(() => [String], { nullable: true, description: 'SUCCESS, FAILURE or both (default both).' }) on?: ('SUCCESS' | 'FAILURE')[];
}

@InputType()
export class RetentionInput {
  @Field(() => Int, { nullable: true }) keepLast?: number;
  @Field(() => Int, { nullable: true }) keepHourly?: number;
  @Field(() => Int, { nullable: true }) keepDaily?: number;
  @Field(() => Int, { nullable: true }) keepWeekly?: number;
  @Field(() => Int, { nullable: true }) keepMonthly?: number;
  @Field(() => Int, { nullable: true }) keepYearly?: number;
  @Field(() => String, { nullable: true }) keepWithin?: string;
}

@InputType()
export class CreatePolicyInput {
  @Field() name!: string;
  @Field(() => ID, { nullable: true }) nodeId?: string;
  @Field(() => ID, { nullable: true }) networkId?: string;
  @Field() method!: string;
  @Field(() => JsonScalar, { nullable: true }) options?: unknown;
  @Field(() => ScheduleInput, { nullable: true }) schedule?: ScheduleInput;
  @Field(() => [ID]) destinationIds!: string[];
  @Field(() => RetentionInput, { nullable: true }) retention?: RetentionInput;
  @Field(() => Boolean, { nullable: true }) enabled?: boolean;
  @Field(() => [MaintenanceWindowInput], { nullable: true, description: 'Jobs of the policy start only inside one of these.' }) maintenanceWindows?: MaintenanceWindowInput[];
  @Field(() => WebhookInput, { nullable: true, description: 'Called when a job of the policy ends.' }) webhook?: WebhookInput;
}

@InputType({ description: 'Only the fields given change. schedule: null and webhook: null remove them.' })
export class UpdatePolicyInput {
  @Field(() => String, { nullable: true }) name?: string;
  @Field(() => JsonScalar, { nullable: true, description: "The whole new options, checked by the plugin's schema." }) options?: unknown;
  @Field(() => ScheduleInput, { nullable: true, description: 'A new schedule counts from now (missed fires are not caught up); null removes it.' }) schedule?: ScheduleInput | null;
  @Field(() => [MaintenanceWindowInput], { nullable: true, description: 'Replaces the windows; [] removes them.' }) maintenanceWindows?: MaintenanceWindowInput[];
  @Field(() => RetentionInput, { nullable: true, description: 'Replaces every rule.' }) retention?: RetentionInput;
  @Field(() => [ID], { nullable: true, description: 'The first is the primary; a destination added receives copies of the earlier backups.' }) destinationIds?: string[];
  @Field(() => Boolean, { nullable: true, description: 'false pauses, true resumes.' }) enabled?: boolean;
  @Field(() => WebhookInput, { nullable: true, description: 'null removes it.' }) webhook?: WebhookInput | null;
}

@InputType({ description: 'Only the fields given change.' })
export class UpdateDestinationInput {
  @Field(() => String, { nullable: true }) name?: string;
  @Field(() => JsonScalar, { nullable: true, description: 'The whole new config (rotated credentials, a moved endpoint); secret fields not given again keep their values. Saved only once it opens the same repository.' }) config?: unknown;
}

@InputType()
export class RestoreInput {
  @Field(() => ID) backupId!: string;
  @Field(() => ID, { nullable: true, description: 'Restore from the copy in this destination instead of the primary.' }) fromDestinationId?: string;
  @Field(() => ID, { nullable: true }) targetNodeId?: string;
  @Field(() => [ID], { nullable: true, description: 'A restore set: several registered nodes restored in one job, in the phases the plugin orders (for example CAs, then orderers, then peers).' }) targetNodeIds?: string[];
  @Field(() => JsonScalar, { nullable: true }) targetConfig?: unknown;
  @Field(() => JsonScalar, { nullable: true }) options?: unknown;
  @Field(() => String, { nullable: true, description: "A stored restore template (id or name): its target nodes (unless given here) and its options, with these options over them." }) templateId?: string;
}

@InputType()
export class CreateRestoreTemplateInput {
  @Field() name!: string;
  @Field(() => String, { nullable: true }) description?: string;
  @Field(() => [ID], { description: 'The registered nodes the backup is restored onto, as a restore set (in the phases the plugin orders).' }) targetNodeIds!: string[];
  @Field(() => JsonScalar, { nullable: true, description: "Restore options, checked against the plugin's restore options schema (for Fabric: { template: { resources, hosts, ports, paths } })." }) options?: unknown;
}

@InputType()
export class BackupFilter {
  @Field(() => ID, { nullable: true }) policyId?: string;
  @Field(() => ID, { nullable: true }) nodeId?: string;
  @Field(() => ID, { nullable: true }) networkId?: string;
  @Field(() => [BackupStatus], { nullable: true, description: 'Default: every status but DELETED.' }) status?: BackupStatus[];
  @Field(() => Date, { nullable: true, description: 'Created at or after this time.' }) since?: Date;
  @Field(() => Date, { nullable: true, description: 'Created before this time.' }) until?: Date;
  @Field(() => Float, { nullable: true, description: 'Holding this block: firstBlock ≤ block ≤ lastBlock (backups without a block range never match).' }) block?: number;
}

@InputType({ description: 'Which jobs a page holds; every given condition must hold.' })
export class JobFilter {
  @Field(() => [JobStatus], { nullable: true }) status?: JobStatus[];
  @Field(() => [JobKind], { nullable: true }) kind?: JobKind[];
  @Field(() => ID, { nullable: true }) policyId?: string;
  @Field(() => ID, { nullable: true, description: "Jobs of the node's policies and backups, and restores onto it." }) nodeId?: string;
  @Field(() => Date, { nullable: true, description: 'Created at or after this time.' }) since?: Date;
}

@InputType()
export class CreateTokenInput {
  @Field({ description: 'A name to know the token by in the audit log (unique).' }) name!: string;
  @Field(() => ApiRole) role!: ApiRole;
  @Field(() => Date, { nullable: true, description: 'When the token stops working; never when left out.' }) expiresAt?: Date;
}

@InputType()
export class AuditEventFilter {
  @Field(() => String, { nullable: true, description: 'e.g. api.createNetwork, auth.refused, token.revoke' }) action?: string;
  @Field(() => String, { nullable: true, description: 'A token name.' }) actor?: string;
  @Field(() => String, { nullable: true, description: 'ok, failed or refused' }) outcome?: string;
}
