/**
 * Starts the real chainvault server for a test, in one line: its own data directory, SQLite or
 * a fresh PostgreSQL database, listening on a free loopback port.
 */
import type { INestApplication } from '@nestjs/common';
import { JobWorker, type ChainvaultConfig } from '@chainvault/core';
import { DEFAULTS, createServer } from '@chainvault/server';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPostgresDatabase, type TestDatabase } from './catalog-database';
import { GraphqlClient } from './graphql-client';

export type CatalogKind = 'sqlite' | 'postgres';

export interface TestServer {
  app: INestApplication;
  url: string;
  /** Speaks with the admin token the server wrote at its first start. */
  client: GraphqlClient;
  /** That admin token. */
  token: string;
  config: ChainvaultConfig;
  /** Stops the server (and keeps its data, for restart tests). */
  stop(): Promise<void>;
  /** Stops the server and removes its data directory and database. */
  close(): Promise<void>;
}

export interface TestServerOptions {
  catalog?: CatalogKind;
  /** Reuse a data directory (and database) of an earlier server. */
  reuse?: { dataDir: string; databaseUrl?: string };
  /** Settings besides the defaults (a test clock file, retry backoff, limits). Restore roots default to the OS temp dir, where tests make their targets. */
  config?: Partial<ChainvaultConfig>;
}

/** The admin token a server wrote into its data directory at its first start. */
export async function adminToken(dataDir: string): Promise<string> {
  return (await readFile(join(dataDir, 'admin.token'), 'utf8')).trim();
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = options.reuse?.dataDir ?? (await mkdtemp(join(tmpdir(), 'chainvault-e2e-')));
  let database: TestDatabase | undefined;
  let databaseUrl = options.reuse?.databaseUrl;
  if (!options.reuse && options.catalog === 'postgres') {
    database = await createPostgresDatabase();
    databaseUrl = database.url;
  }
  const config: ChainvaultConfig = { ...DEFAULTS, restoreRoots: [tmpdir()], ...options.config, dataDir, databaseUrl, port: 0 };
  const app = await createServer(config, { logLevels: ['error'] });
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await app.get(JobWorker).idle();
    // Close keep-alive connections too, so the test process has nothing left open.
    (app.getHttpServer() as import('node:http').Server).closeAllConnections();
    await app.close();
  };
  const token = await adminToken(dataDir);
  return {
    app,
    url,
    client: new GraphqlClient(url, token),
    token,
    config,
    stop,
    close: async () => {
      await stop();
      await database?.drop();
      if (!options.reuse) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
