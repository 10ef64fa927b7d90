/** `npm start` / `chainvault serve`: starts the server on its configuration. */
import { CatalogUnavailableError, catalogOptions, openCatalog } from '@chainvault/core';
import { mkdir } from 'node:fs/promises';
import { ConfigError, loadConfig } from './config/config.loader';

export async function serve(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  // The catalog is opened (and migrated) once before the application: one that cannot be opened
  // stops the start here with one message, before Nest would log the failure with its stack.
  // The data directory first, private, as createServer makes it: SQLite would make it readable to all.
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  try {
    await (await openCatalog({ ...catalogOptions(config), logging: false })).destroy();
  } catch (error) {
    if (error instanceof CatalogUnavailableError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  // Loaded after the check: a start that stops there does not wait for Nest and the API to load.
  const { createServer } = await import('./server.js');
  const app = await createServer(config, { exitZeroOnSignal: true });
  await app.listen(config.port, config.host);
  const url = `${config.tlsCert ? 'https' : 'http'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
  console.log(`chainvault listening on ${url} (GraphQL ${url}/graphql, GraphiQL ${url}/graphiql), data in ${config.dataDir}, catalog ${config.databaseUrl ? 'PostgreSQL' : 'SQLite'}`);
}

if (require.main === module) {
  serve().catch((error: unknown) => {
    console.error(`chainvault could not start: ${(error as Error)?.stack ?? String(error)}`);
    process.exit(1);
  });
}
