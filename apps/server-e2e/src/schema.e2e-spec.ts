/**
 * The GraphQL schema is a committed file (libs/api/schema.graphql): an API change shows in
 * review as a change of that file, and this test fails while the two differ. After changing
 * the API on purpose, write the file again with
 * `CHAINVAULT_WRITE_SCHEMA=1 npx jest apps/server-e2e/src/schema.e2e-spec.ts`.
 */
import { GraphQLSchemaHost } from '@nestjs/graphql';
import { printSchema } from 'graphql';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestServer, type TestServer } from './support/test-server';

const SCHEMA_FILE = join(__dirname, '..', '..', '..', 'libs', 'api', 'schema.graphql');

describe('the committed GraphQL schema', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server?.close();
  });

  it('is the schema the server serves', async () => {
    const served = `${printSchema(server.app.get(GraphQLSchemaHost).schema)}\n`;
    if (process.env.CHAINVAULT_WRITE_SCHEMA === '1') await writeFile(SCHEMA_FILE, served);
    const committed = await readFile(SCHEMA_FILE, 'utf8').catch(() => '');
    if (committed !== served) {
      // The first differing line, to point at the change.
      const a = committed.split('\n');
      const b = served.split('\n');
      const at = b.findIndex((line, i) => line !== a[i]);
      throw new Error(`libs/api/schema.graphql differs from the served schema at line ${at + 1}:\n  committed: ${a[at] ?? '(end of file)'}\n  served:    ${b[at] ?? '(end of file)'}\nIf the API change is meant, run: CHAINVAULT_WRITE_SCHEMA=1 npx jest apps/server-e2e/src/schema.e2e-spec.ts`);
    }
    expect(served).toContain('type Query');
  });
});
