/**
 * @packageDocumentation
 * `@chainvault/core`: the catalog, the plugin host, jobs and the services behind the API.
 */
export * from './catalog/catalog-options';
export { CatalogUnavailableError, catalogLocation, openCatalog, POSTGRES_WAIT_MS, RESTORE_ADVICE } from './catalog/open-catalog';
export { checkCatalog, describeCatalogReport, type CatalogReport, type CatalogState } from './catalog/catalog-check';
export * from './catalog/entities';
export { childEnvironment, isWithheldVariable } from './child-environment';
export * from './config/chainvault-config';
export * from './core.module';
export * from './errors/chainvault.errors';
export { ADMIN_TOKEN_FILE, ApiTokenService, hashToken, isRefusal, roleIncludes, type CreateToken, type Principal, type TokenRefusal } from './access/api-token.service';
export { AuditService, type AuditFilter, type AuditPage, type AuditRecord } from './audit/audit.service';
export { BackupRequests } from './backups/backup-requests.service';
export { CheckpointService, type CheckpointView, type CheckpointLocation } from './backups/checkpoint.service';
export { BackupReplicas } from './backups/backup-replicas.service';
export { FILE_PAGE_MAX, pageOfFiles } from './backups/file-page';
export { BackupService, backupCursor, dependencyIds, type BackupFilter, type BackupPage, type BackupReport } from './backups/backup.service';
export { ChainHistoryService } from './backups/chain-history.service';
export { DestinationService, DEFAULT_DESTINATION_NAME, type CreateDestination } from './destinations/destination.service';
export { JobLogStore, MAX_LOG_LINES } from './jobs/job-log';
export { JobService, TERMINAL_JOB_STATUSES, JOB_PAGE_DEFAULT, JOB_PAGE_MAX, jobCursor, type JobFilter, type JobPage } from './jobs/job.service';
export { JobWorker } from './jobs/job.worker';
export * from './metrics';
export { NetworkService, type CreateNetwork } from './networks/network.service';
export { NodeService, type RegisterNode } from './nodes/node.service';
export { PluginRegistry } from './plugins/plugin-registry.service';
export { PluginUpgrades } from './plugins/plugin-upgrades.service';
export { PluginStatus, type PluginRecord, type MethodDescription } from './plugins/plugin-record';
export { PolicyService, type CreatePolicy } from './policies/policy.service';
export { PolicyOutcomes, type PolicyOutcome } from './policies/policy-outcomes';
export { DestinationUsageService, type DestinationUsage } from './destinations/destination-usage';
export { PRESET_CRON, nextFireTimes } from './policies/schedule';
export { RestoreRoots, configLocations } from './restores/restore-roots';
export { RestoreService, type RequestRestore } from './restores/restore.service';
export { RestoreTemplateService, type CreateRestoreTemplate } from './restores/restore-templates.service';
export { SecretBox } from './secrets/secret-box';
export { CLOCK, FileClock, systemClock, type Clock } from './scheduler/clock';
export { SchedulerService, type FireRecord, type FireOutcome } from './scheduler/scheduler.service';
export { InstanceService, SecondSqliteInstance } from './scheduler/instance.service';
export { RetentionService, type RetentionReport, type RetentionOutcome } from './retention/retention.service';
export { planRetention, type RetentionCandidate, type RetentionDecision } from './retention/retention-plan';
export { checkMaintenanceWindows, nextWindowStart, windowAt, type MaintenanceWindow } from './policies/maintenance-window';
export { WebhookService, WEBHOOK_ATTEMPTS } from './jobs/webhook.service';
