/** Builds the Nest application for a configuration: used by main.ts, the CLI and the end-to-end tests. */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplication, LogLevel } from '@nestjs/common';
import type { ChainvaultConfig } from '@chainvault/core';
import { gateHttpRequests, gateWebSocketUpgrades } from '@chainvault/api';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AppModule } from './app.module';

export interface ServerOptions {
  logLevels?: LogLevel[];
  /**
   * End with code 0 once closed after SIGINT or SIGTERM (`serve`, where a stop asked for is no
   * failure); otherwise the signal is raised again, so a test run killed still reads as killed.
   */
  exitZeroOnSignal?: boolean;
}

/**
 * The application, initialised and behind the API gate (Host and Origin checks, tokens) on
 * HTTP and WebSocket alike; `listen` is left to the caller.
 */
export async function createServer(config: ChainvaultConfig, options: ServerOptions = {}): Promise<INestApplication> {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await mkdir(join(config.dataDir, 'restores'), { recursive: true, mode: 0o700 });
  const httpsOptions = config.tlsCert && config.tlsKey ? { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) } : undefined;
  const app = await NestFactory.create(AppModule.forRoot(config), {
    logger: options.logLevels ?? ['log', 'warn', 'error'],
    abortOnError: false,
    httpsOptions,
  });
  // SIGINT or SIGTERM closes the application (the worker hands back its jobs), then ends the process.
  app.enableShutdownHooks([], { useProcessExit: options.exitZeroOnSignal ?? false });
  gateHttpRequests(app);
  await app.init();
  gateWebSocketUpgrades(app);
  return app;
}
