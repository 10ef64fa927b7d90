/** `npm start` / `chainvault serve`: starts the server on its configuration. */
import { ConfigError, loadConfig } from './config/config.loader';
import { createServer } from './server';

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
  const app = await createServer(config);
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
