/** The domain and its services. The server provides CHAINVAULT_CONFIG and the TypeORM connection. */
import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiTokenService } from './access/api-token.service';
import { AuditService } from './audit/audit.service';
import { BackupRequests } from './backups/backup-requests.service';
import { CheckpointService } from './backups/checkpoint.service';
import { BackupJob } from './backups/backup.job';
import { BackupService } from './backups/backup.service';
import { ChainHistoryService } from './backups/chain-history.service';
import { BackupReplicas } from './backups/backup-replicas.service';
import { ExportJob } from './backups/export.job';
import { CheckJob } from './backups/check.job';
import { PruneJob } from './backups/prune.job';
import { ReplicateJob } from './backups/replicate.job';
import { VerifyJob } from './backups/verify.job';
import { CATALOG_ENTITIES } from './catalog/catalog-options';
import { DestinationService } from './destinations/destination.service';
import { JOB_HANDLERS } from './jobs/job-handler';
import { JobLogStore } from './jobs/job-log';
import { JobService } from './jobs/job.service';
import { JobWorker } from './jobs/job.worker';
import { WebhookService } from './jobs/webhook.service';
import { MetricsService } from './metrics/metrics.service';
import { NetworkService } from './networks/network.service';
import { NodeService } from './nodes/node.service';
import { PluginRegistry } from './plugins/plugin-registry.service';
import { PolicyService } from './policies/policy.service';
import { PolicyOutcomes } from './policies/policy-outcomes';
import { DestinationUsageService } from './destinations/destination-usage';
import { InterruptedRestores } from './restores/interrupted-restores';
import { RestoreJob } from './restores/restore.job';
import { RestoreRoots } from './restores/restore-roots';
import { RestoreService } from './restores/restore.service';
import { RestoreTemplateService } from './restores/restore-templates.service';
import { RetentionService } from './retention/retention.service';
import { CLOCK, FileClock, systemClock } from './scheduler/clock';
import { InstanceService } from './scheduler/instance.service';
import { SchedulerService } from './scheduler/scheduler.service';
import { CHAINVAULT_CONFIG, type ChainvaultConfig } from './config/chainvault-config';
import { PluginUpgrades } from './plugins/plugin-upgrades.service';
import { secretBoxProvider } from './secrets/secret-box.provider';

const services = [
  ApiTokenService,
  AuditService,
  BackupReplicas,
  BackupRequests,
  CheckpointService,
  BackupService,
  ChainHistoryService,
  DestinationService,
  JobLogStore,
  JobService,
  MetricsService,
  NetworkService,
  NodeService,
  PluginRegistry,
  PluginUpgrades,
  PolicyService,
  PolicyOutcomes,
  DestinationUsageService,
  RestoreRoots,
  RestoreService,
  RestoreTemplateService,
  InterruptedRestores,
  RetentionService,
  SchedulerService,
  InstanceService,
  WebhookService,
];

@Module({
  imports: [TypeOrmModule.forFeature(CATALOG_ENTITIES), ScheduleModule.forRoot()],
  providers: [
    ...services,
    {
      provide: CLOCK,
      inject: [CHAINVAULT_CONFIG],
      useFactory: (config: ChainvaultConfig) => (config.clockFile ? new FileClock(config.clockFile) : systemClock),
    },
    secretBoxProvider,
    BackupJob,
    CheckJob,
    ExportJob,
    PruneJob,
    ReplicateJob,
    RestoreJob,
    VerifyJob,
    {
      provide: JOB_HANDLERS,
      inject: [BackupJob, CheckJob, ExportJob, PruneJob, ReplicateJob, RestoreJob, VerifyJob],
      useFactory: (...handlers: unknown[]) => handlers,
    },
    JobWorker,
  ],
  exports: [...services, JobWorker, CLOCK],
})
export class CoreModule {}
