/** GraphQL object types. Field names and shapes follow DESIGN §6; scripts rely on them. */
import { Field, Float, ID, Int, ObjectType } from '@nestjs/graphql';
import { JsonScalar } from './json.scalar';
import { ApiRole, BackupStatus, DestinationKind, JobKind, JobStatus, PluginStatus, SchedulePreset, VerificationState } from './enums';

@ObjectType()
export class PluginMethod {
  @Field() name!: string;
  @Field({ description: 'node or network' }) scope!: string;
  @Field() description!: string;
  @Field(() => [String], { description: "Methods of the same plugin that cannot be scheduled on the same node." }) excludes!: string[];
  @Field({ description: 'The method stops nodes: never retried by itself; a cancel or a crash runs its cleanup (status CANCELLING meanwhile).' }) disruptive!: boolean;
  @Field({ description: "The method needs the node's data to itself, against every other exclusive method of any plugin on the same machine and data directory." }) exclusive!: boolean;
  @Field({ description: 'A restore of several nodes at once runs in phases the plugin orders.' }) phasedRestore!: boolean;
  @Field({ description: "The method's backups add entries to the network's history document (chainHistory)." }) history!: boolean;
  @Field(() => JsonScalar, { description: "JSON schema of a policy's options for this method." }) optionsSchema!: unknown;
  @Field(() => JsonScalar, { description: "JSON schema of a restore's options." }) restoreOptionsSchema!: unknown;
  @Field(() => JsonScalar, { description: "JSON schema of an ad-hoc restore targetConfig (the plugin's nodeConfigSchema when it declares none)." }) restoreTargetSchema!: unknown;
}

@ObjectType({ description: "The last time a plugin's own process had to be stopped, or was lost, during a job call." })
export class PluginFault {
  @Field() at!: Date;
  @Field({ description: 'What happened: it hung, ran out of memory, exited, or did not stop when cancelled.' }) message!: string;
}

@ObjectType()
export class Plugin {
  @Field() id!: string;
  @Field() packageName!: string;
  @Field() version!: string;
  @Field({ description: 'The plugin API range the package declares.' }) apiVersion!: string;
  @Field(() => [String]) protocols!: string[];
  @Field(() => [String], { description: 'The node roles the plugin understands; empty: any role.' }) roles!: string[];
  @Field(() => [PluginMethod]) methods!: PluginMethod[];
  @Field(() => PluginStatus) status!: PluginStatus;
  @Field(() => String, { nullable: true }) error!: string | null;
  @Field({ description: 'builtin or installed' }) source!: string;
  @Field(() => JsonScalar, { nullable: true }) nodeConfigSchema!: unknown;
  @Field(() => String, { nullable: true, description: 'sha512 of the installed package (npm SRI form, sha512-…); null for built-in plugins.' }) integrity!: string | null;
  @Field(() => PluginFault, { nullable: true, description: 'The last fault of its process (isolated plugins), kept after it is LOADED again.' }) lastFault!: PluginFault | null;
}

@ObjectType()
export class Network {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field() protocol!: string;
  @Field(() => JsonScalar) labels!: unknown;
  @Field() createdAt!: Date;
}

@ObjectType()
export class Node {
  @Field(() => ID) id!: string;
  @Field(() => ID) networkId!: string;
  @Field() name!: string;
  @Field({ description: 'The plugin id.' }) plugin!: string;
  @Field() role!: string;
  @Field(() => JsonScalar, { description: 'The config without its secret fields.' }) config!: unknown;
  @Field(() => [String], { description: 'Names of the secret fields that are set (values are never returned).' }) secretFields!: string[];
  @Field() createdAt!: Date;
}

@ObjectType()
export class Destination {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field(() => DestinationKind) kind!: DestinationKind;
  @Field(() => JsonScalar, { description: 'The config without its secret fields.' }) config!: unknown;
  @Field(() => [String], { description: 'Names of the secret fields that are set, such as passphrase (values are never returned).' }) secretFields!: string[];
  @Field() createdAt!: Date;
}

@ObjectType()
export class Schedule {
  @Field(() => SchedulePreset, { nullable: true }) preset?: SchedulePreset;
  @Field(() => String, { nullable: true }) cron?: string;
  @Field() timeZone!: string;
  @Field(() => Int, { nullable: true, description: 'Each fire starts up to this many seconds late (the same delay for the same fire).' }) jitterSeconds?: number;
  @Field(() => String, { nullable: true, description: 'WAIT or SKIP: what a run outside every maintenance window does.' }) outsideWindow?: string;
}

@ObjectType()
export class MaintenanceWindow {
  @Field(() => [String], { description: 'Weekdays the window starts on: MON … SUN.' }) days!: string[];
  @Field({ description: 'HH:MM in the schedule\'s time zone.' }) start!: string;
  @Field({ description: 'HH:MM; at or before start means the window runs past midnight.' }) end!: string;
}

@ObjectType()
export class Webhook {
  @Field() url!: string;
  @Field(() => [String], { description: 'SUCCESS, FAILURE or both.' }) on!: string[];
}

@ObjectType()
export class RetentionDecision {
  @Field(() => ID) backupId!: string;
  @Field() createdAt!: Date;
  @Field(() => [String], { description: 'Why it is kept (every rule that keeps it), or why it goes.' }) reasons!: string[];
  @Field(() => String, { nullable: true, description: 'Why a backup the rules let go is still there.' }) error?: string;
}

@ObjectType()
export class RetentionResult {
  @Field(() => ID) policyId!: string;
  @Field() dryRun!: boolean;
  @Field() evaluatedAt!: Date;
  @Field(() => [RetentionDecision], { description: 'Newest first.' }) kept!: RetentionDecision[];
  @Field(() => [RetentionDecision], { description: 'Deleted, or in a dry run those that would be.' }) deleted!: RetentionDecision[];
  @Field(() => [ID], { description: 'Prune jobs queued to free the deleted backups\' data.' }) pruneJobIds!: string[];
}

@ObjectType()
export class Retention {
  @Field(() => Int, { nullable: true }) keepLast?: number;
  @Field(() => Int, { nullable: true }) keepHourly?: number;
  @Field(() => Int, { nullable: true }) keepDaily?: number;
  @Field(() => Int, { nullable: true }) keepWeekly?: number;
  @Field(() => Int, { nullable: true }) keepMonthly?: number;
  @Field(() => Int, { nullable: true }) keepYearly?: number;
  @Field(() => String, { nullable: true }) keepWithin?: string;
}

@ObjectType()
export class Policy {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field(() => ID) networkId!: string;
  @Field(() => ID, { nullable: true }) nodeId!: string | null;
  @Field() plugin!: string;
  @Field() method!: string;
  @Field(() => JsonScalar) options!: unknown;
  @Field(() => Schedule, { nullable: true }) schedule!: Schedule | null;
  @Field(() => [ID]) destinationIds!: string[];
  @Field(() => Retention) retention!: Retention;
  @Field({ description: 'False while the policy is paused.' }) enabled!: boolean;
  @Field(() => [MaintenanceWindow], { description: 'When its jobs may start; empty: any time.' }) maintenanceWindows!: MaintenanceWindow[];
  @Field(() => Webhook, { nullable: true }) webhook!: Webhook | null;
  @Field() createdAt!: Date;
}

@ObjectType()
export class BackupFile {
  @Field() path!: string;
  @Field({ description: 'file, directory or symlink' }) type!: string;
  @Field(() => Float) size!: number;
  @Field(() => Int) mode!: number;
  @Field() mtime!: Date;
  @Field(() => String, { nullable: true }) sha256?: string;
  @Field(() => String, { nullable: true }) linkTarget?: string;
}

@ObjectType()
export class Backup {
  @Field(() => ID) id!: string;
  @Field(() => ID) policyId!: string;
  @Field(() => ID) networkId!: string;
  @Field(() => ID, { nullable: true }) nodeId!: string | null;
  @Field() plugin!: string;
  @Field() method!: string;
  @Field(() => BackupStatus) status!: BackupStatus;
  @Field(() => ID) destinationId!: string;
  @Field(() => ID, { nullable: true }) jobId!: string | null;
  @Field() startedAt!: Date;
  @Field({ description: 'When the backup completed.' }) createdAt!: Date;
  @Field(() => Float, { description: 'Sum of the sizes of the files in the backup.' }) logicalSize!: number;
  @Field(() => Float, { description: 'Bytes this backup added to the repository after deduplication.' }) storedSize!: number;
  @Field(() => Float, { description: 'Bytes read from the source (unchanged files are not read).' }) bytesRead!: number;
  @Field(() => Int) fileCount!: number;
  @Field(() => Int) filesRead!: number;
  @Field(() => Int) filesUnchanged!: number;
  @Field(() => JsonScalar) metadata!: unknown;
  @Field(() => ID, { nullable: true, description: 'The first of dependsOn (kept for scripts written before plugin API 2).' }) dependsOnId!: string | null;
  @Field(() => [ID], { description: 'The backups restoring this one also needs (earlier chain segments, checkpoints).' }) dependsOn!: string[];
  @Field(() => JsonScalar, { nullable: true, description: "A network run's per-node report: { nodes: [{ nodeId, name, status: completed|failed, reason }] }; a backup with a failed node is PARTIAL." }) report!: unknown;
  @Field(() => VerificationState) verification!: VerificationState;
  @Field(() => Date, { nullable: true }) verifiedAt!: Date | null;
  @Field(() => [String]) verificationProblems!: string[];
  @Field() pinned!: boolean;
  @Field(() => Float, { nullable: true, description: 'The first block the backup holds, from its metadata (blocks.first, startBlock, or 0 for a snapshot up to lastBlockId or blockId); null when it holds no block range.' }) firstBlock!: number | null;
  @Field(() => Float, { nullable: true, description: 'The last block the backup holds (blocks.last, endBlock, lastBlockId or blockId).' }) lastBlock!: number | null;
}

@ObjectType({ description: 'One phase of a restore set, in the order the plugin runs them.' })
export class RestorePhasePlan {
  @Field({ description: "The plugin's name for the phase (for example: cas, orderers, peers)." }) name!: string;
  @Field(() => [ID], { description: 'The nodes restored in this phase.' }) nodeIds!: string[];
}

@ObjectType({ description: 'The copy of a backup in a further destination of its policy.' })
export class BackupReplica {
  @Field(() => ID) destinationId!: string;
  @Field({ description: 'PENDING, COMPLETED or FAILED' }) state!: string;
  @Field() updatedAt!: Date;
  @Field(() => String, { nullable: true }) error!: string | null;
  @Field(() => Float, { nullable: true, description: 'Bytes sent: the chunks the destination did not hold yet.' }) bytesSent!: number | null;
}

@ObjectType()
export class PageInfo {
  @Field(() => String, { nullable: true }) endCursor!: string | null;
  @Field() hasNextPage!: boolean;
}

@ObjectType()
export class BackupEdge {
  @Field() cursor!: string;
  @Field(() => Backup) node!: Backup;
}

@ObjectType()
export class BackupConnection {
  @Field(() => [BackupEdge]) edges!: BackupEdge[];
  @Field(() => [Backup]) nodes!: Backup[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int) totalCount!: number;
}

@ObjectType()
export class JobProgress {
  @Field({ description: 'bytes, blocks, files or steps' }) unit!: string;
  @Field(() => Float) done!: number;
  @Field(() => Float, { nullable: true }) total?: number;
  @Field(() => String, { nullable: true }) message?: string;
  @Field(() => Float, { nullable: true, description: 'Seconds left at the rate seen so far, when the total is known.' }) etaSeconds?: number;
  @Field() updatedAt!: string;
}

@ObjectType()
export class JobLogLine {
  @Field() at!: string;
  @Field() level!: string;
  @Field() message!: string;
}

@ObjectType()
export class Job {
  @Field(() => ID) id!: string;
  @Field(() => JobKind) kind!: JobKind;
  @Field(() => JobStatus) status!: JobStatus;
  @Field(() => ID, { nullable: true }) policyId!: string | null;
  @Field(() => ID, { nullable: true }) backupId!: string | null;
  @Field(() => ID, { nullable: true }) restoreId!: string | null;
  @Field(() => JobProgress, { nullable: true }) progress!: JobProgress | null;
  @Field(() => String, { nullable: true }) error!: string | null;
  @Field(() => JsonScalar, { nullable: true }) result!: unknown;
  @Field(() => Int) attempts!: number;
  @Field() createdAt!: Date;
  @Field(() => Date, { nullable: true, description: 'The schedule fire this job answers; null for runs asked for by hand.' }) scheduledFor!: Date | null;
  @Field(() => Date, { nullable: true, description: 'Not started before this (a retry\'s backoff, the next maintenance window).' }) notBefore!: Date | null;
  @Field(() => Date, { nullable: true }) startedAt!: Date | null;
  @Field(() => Date, { nullable: true }) finishedAt!: Date | null;
}

@ObjectType()
export class JobEdge {
  @Field() cursor!: string;
  @Field(() => Job) node!: Job;
}

@ObjectType()
export class JobConnection {
  @Field(() => [JobEdge]) edges!: JobEdge[];
  @Field(() => [Job]) nodes!: Job[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int, { description: 'Jobs the filter matches, over all pages.' }) totalCount!: number;
}

@ObjectType({ description: 'An API token. Its secret is shown once, by createToken, and never again.' })
export class ApiToken {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field(() => ApiRole) role!: ApiRole;
  @Field() createdAt!: Date;
  @Field() createdBy!: string;
  @Field(() => Date, { nullable: true }) expiresAt!: Date | null;
  @Field(() => Date, { nullable: true }) revokedAt!: Date | null;
  @Field(() => Date, { nullable: true, description: 'Recorded to the minute.' }) lastUsedAt!: Date | null;
}

@ObjectType()
export class CreatedToken {
  @Field(() => ApiToken) token!: ApiToken;
  @Field({ description: 'Send as "Authorization: Bearer <secret>". Shown only now: the server keeps only its hash.' }) secret!: string;
}

@ObjectType()
export class AuditEvent {
  @Field(() => ID) id!: string;
  @Field() at!: Date;
  @Field({ description: 'The token name (or "anonymous", or "chainvault" for the server itself).' }) actor!: string;
  @Field() action!: string;
  @Field() subjectType!: string;
  @Field(() => String, { nullable: true }) subjectId!: string | null;
  @Field(() => String, { nullable: true, description: 'ok, failed or refused (API events).' }) outcome!: string | null;
  @Field(() => String, { nullable: true }) remoteAddress!: string | null;
  @Field(() => JsonScalar) details!: unknown;
}

@ObjectType()
export class AuditEventConnection {
  @Field(() => [AuditEvent]) nodes!: AuditEvent[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType({ description: 'A checkpoint of a node: on the node\'s own disk (location NODE), or backed up to a destination (location DESTINATION).' })
export class NodeCheckpoint {
  @Field({ description: 'NODE or DESTINATION' }) location!: string;
  @Field(() => ID) nodeId!: string;
  @Field({ description: 'The plugin method that keeps it (checkpoint).' }) method!: string;
  @Field({ description: "The checkpoint's id: on the node, its folder name (the last block id)." }) id!: string;
  @Field(() => String, { nullable: true, description: 'The last block id it holds (its sequence number when the database has no block keys).' }) lastBlockId!: string | null;
  @Field(() => Float, { nullable: true }) sizeBytes!: number | null;
  @Field(() => Date, { nullable: true }) createdAt!: Date | null;
  @Field(() => Float, { nullable: true }) ageSeconds!: number | null;
  @Field(() => String, { nullable: true, description: 'Where it is on the node\'s machine (NODE only; hidden from viewers when paths are).' }) path!: string | null;
  @Field({ description: 'False for a checkpoint still being written (or abandoned): it is never shipped.' }) complete!: boolean;
  @Field(() => ID, { nullable: true }) backupId!: string | null;
  @Field(() => ID, { nullable: true }) destinationId!: string | null;
  @Field(() => ID, { nullable: true }) policyId!: string | null;
}

@ObjectType({ description: 'A stored restore: the nodes a backup is restored onto and the restore options (for Fabric, a template mapping host names, ports and paths), reused by restoreBackup(templateId).' })
export class RestoreTemplate {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field(() => String, { nullable: true }) description!: string | null;
  @Field({ description: 'The plugin whose backups it restores.' }) pluginId!: string;
  @Field(() => [ID], { description: 'The registered nodes restored onto, as a restore set.' }) targetNodeIds!: string[];
  @Field(() => JsonScalar, { description: 'Restore options ({} for a viewer when paths are hidden from viewers).' }) options!: unknown;
  @Field() createdAt!: Date;
  @Field() createdBy!: string;
}

@ObjectType({ description: 'A backup applied to a target: a registered node, a restore set of nodes, or an ad-hoc target config.' })
export class Restore {
  @Field(() => ID) id!: string;
  @Field(() => ID) backupId!: string;
  @Field(() => ID, { nullable: true }) targetNodeId!: string | null;
  @Field(() => [ID], { nullable: true, description: 'A restore set: every target node.' }) targetNodeIds!: string[] | null;
  @Field(() => JsonScalar, { nullable: true, description: "An ad-hoc target's config, without its secret fields." }) targetConfig!: unknown;
  @Field(() => JsonScalar) options!: unknown;
  @Field() status!: string;
  @Field(() => JsonScalar, { nullable: true, description: 'What the plugin reported (files written, the old copy kept aside, phases).' }) details!: unknown;
  @Field(() => String, { nullable: true }) error!: string | null;
  @Field() createdAt!: Date;
  @Field(() => Date, { nullable: true }) finishedAt!: Date | null;
}

@ObjectType({ description: "How a policy's backups last ended one way: when, through which job, with which backup or error." })
export class PolicyOutcome {
  @Field() at!: Date;
  @Field(() => ID, { nullable: true }) jobId!: string | null;
  @Field(() => ID, { nullable: true }) backupId!: string | null;
  @Field(() => String, { nullable: true }) error!: string | null;
}

@ObjectType({ description: "A destination's last check: its job, how it ended and when." })
export class DestinationCheck {
  @Field(() => ID) jobId!: string;
  @Field(() => JobStatus) status!: JobStatus;
  @Field() at!: Date;
  @Field(() => String, { nullable: true }) error!: string | null;
}

@ObjectType({ description: 'What a destination holds (completed backups written there) and its last check.' })
export class DestinationUsage {
  @Field(() => Int) backups!: number;
  @Field(() => Float, { description: 'Bytes those backups stored there (after deduplication and compression).' }) storedBytes!: number;
  @Field(() => DestinationCheck, { nullable: true, description: 'The newest check that ended; null if never checked.' }) lastCheck!: DestinationCheck | null;
}
