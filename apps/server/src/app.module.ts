/** Composition: configuration, the catalog connection and the API. */
import { Global, Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiModule } from '@chainvault/api';
import { CHAINVAULT_CONFIG, catalogOptions, type ChainvaultConfig } from '@chainvault/core';

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
      imports: [ConfigModule.forRoot(config), TypeOrmModule.forRoot(catalogOptions(config)), ApiModule],
    };
  }
}
