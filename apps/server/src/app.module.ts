/** Composition: configuration, the catalog connection and the API. */
import { Global, Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiModule } from '@chainvault/api';
import { CHAINVAULT_CONFIG, catalogOptions, openCatalog, type ChainvaultConfig } from '@chainvault/core';
import type { DataSourceOptions } from 'typeorm';

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
          // openCatalog owns the retries (none on SQLite, a short wait on PostgreSQL) and says
          // in one message what failed; @nestjs/typeorm's own would repeat it 9 times, each with a stack.
          useFactory: () => ({ ...catalogOptions(config), retryAttempts: 0, toRetry: () => false }),
          dataSourceFactory: (options) => openCatalog(options as DataSourceOptions),
        }),
        ApiModule,
      ],
    };
  }
}
