/** Composition: configuration, the catalog connection and the API. */
import { Global, Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiModule } from '@chainvault/api';
import { CHAINVAULT_CONFIG, catalogOptions, type ChainvaultConfig } from '@chainvault/core';
import { DataSource } from 'typeorm';

/** An arbitrary, fixed key: instances starting together on one PostgreSQL catalog migrate it one at a time. */
const MIGRATION_LOCK = 72_034_113;

/** Opens the catalog and brings its schema up to date, holding a PostgreSQL advisory lock while migrating. */
async function migrated(dataSource: DataSource): Promise<DataSource> {
  await dataSource.initialize();
  if (dataSource.options.type !== 'postgres') {
    await dataSource.runMigrations({ transaction: 'each' });
    return dataSource;
  }
  const runner = dataSource.createQueryRunner();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
  }
  return dataSource;
}

@Global()
@Module({})
class ConfigModule {
  static forRoot(config: ChainvaultConfig): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: CHAINVAULT_CONFIG, useValue: config }], exports: [CHAINVAULT_CONFIG] };
  }
}

@Module({})
export class AppModule {
  static forRoot(config: ChainvaultConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        TypeOrmModule.forRootAsync({
          useFactory: () => ({ ...catalogOptions(config), migrationsRun: false }),
          dataSourceFactory: async (options) => migrated(new DataSource(options!)),
        }),
        ApiModule,
      ],
    };
  }
}
