/** Builds the Nest application for a configuration: used by main.ts, the CLI and the end-to-end tests. */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplication, LogLevel } from '@nestjs/common';
import type { ChainvaultConfig } from '@chainvault/core';
import { mkdir } from 'node:fs/promises';
import { AppModule } from './app.module';

export interface ServerOptions {
  logLevels?: LogLevel[];
}

export async function createServer(config: ChainvaultConfig, options: ServerOptions = {}): Promise<INestApplication> {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const app = await NestFactory.create(AppModule.forRoot(config), {
    logger: options.logLevels ?? ['log', 'warn', 'error'],
    abortOnError: false,
  });
  app.enableShutdownHooks();
  return app;
}
