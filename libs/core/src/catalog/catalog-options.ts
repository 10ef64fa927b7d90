/** TypeORM options for the catalog: SQLite in the data directory by default, PostgreSQL by URL. */
import { join } from 'node:path';
import { CatalogLogger } from './catalog-logger';
import type { DataSourceOptions } from 'typeorm';
import {
  ApiTokenEntity,
  AuditEventEntity,
  BackupEntity,
  BackupReplicaEntity,
  DestinationEntity,
  InstanceEntity,
  JobEntity,
  JobLogLineEntity,
  NetworkEntity,
  NodeEntity,
  PolicyEntity,
  RestoreEntity,
  RestoreTemplateEntity,
} from './entities';
import { InitialCatalog1763712000000 } from './migrations/1763712000000-initial-catalog';
import { DestinationSecrets1763800000000 } from './migrations/1763800000000-destination-secrets';
import { BackupReplication1763900000000 } from './migrations/1763900000000-backup-replication';
import { Scheduler1764000000000 } from './migrations/1764000000000-scheduler';
import { ApiTokens1764100000000 } from './migrations/1764100000000-api-tokens';
import { PluginApi21764200000000 } from './migrations/1764200000000-plugin-api-2';
import { RestoreTemplates1764300000000 } from './migrations/1764300000000-restore-templates';
import { CatalogLifecycle1764400000000 } from './migrations/1764400000000-catalog-lifecycle';
import { JobQueries1764500000000 } from './migrations/1764500000000-job-queries';
import { JobLog1764600000000 } from './migrations/1764600000000-job-log';
import { BackupBlocks1764700000000 } from './migrations/1764700000000-backup-blocks';

export const CATALOG_ENTITIES = [NetworkEntity, NodeEntity, DestinationEntity, PolicyEntity, BackupEntity, BackupReplicaEntity, JobEntity, RestoreEntity, AuditEventEntity, InstanceEntity, ApiTokenEntity, RestoreTemplateEntity, JobLogLineEntity];
export const CATALOG_MIGRATIONS = [InitialCatalog1763712000000, DestinationSecrets1763800000000, BackupReplication1763900000000, Scheduler1764000000000, ApiTokens1764100000000, PluginApi21764200000000, RestoreTemplates1764300000000, CatalogLifecycle1764400000000, JobQueries1764500000000, JobLog1764600000000, BackupBlocks1764700000000];

export function catalogOptions(settings: { dataDir: string; databaseUrl?: string }): DataSourceOptions {
  const common = {
    entities: CATALOG_ENTITIES,
    migrations: CATALOG_MIGRATIONS,
    migrationsRun: true,
    migrationsTransactionMode: 'each' as const,
    synchronize: false,
    logger: new CatalogLogger(),
  };
  if (settings.databaseUrl) {
    return { ...common, type: 'postgres', url: settings.databaseUrl, extra: { max: 10 } };
  }
  return { ...common, type: 'sqlite', database: join(settings.dataDir, 'catalog.sqlite'), enableWAL: true, busyErrorRetry: 200 };
}

/** Which catalog a configuration selects, for messages and health. */
export function catalogKind(settings: { databaseUrl?: string }): 'postgres' | 'sqlite' {
  return settings.databaseUrl ? 'postgres' : 'sqlite';
}
