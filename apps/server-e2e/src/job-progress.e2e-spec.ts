/**
 * The jobProgress subscription over WebSocket (graphql-ws): a client follows a backup from its
 * first state to its end, seeing progress grow, and an unknown job is a clear error.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { createDirectoryPolicy, RUN_BACKUP } from './support/scenario';
import { startTestServer, type TestServer } from './support/test-server';

const MiB = 1024 * 1024;
const SUBSCRIPTION = `subscription ($id: ID!) { jobProgress(jobId: $id) { id status progress { unit done } error backupId } }`;

describe('the jobProgress subscription', () => {
  let server: TestServer;
  let work: string;
  let client: Client;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-progress-'));
    server = await startTestServer();
    client = createClient({ url: server.url.replace(/^http/, 'ws') + '/graphql', webSocketImpl: WebSocket, lazy: true, retryAttempts: 0, connectionParams: { authorization: `Bearer ${server.token}` } });
  });

  afterAll(async () => {
    await client?.dispose();
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  const follow = (id: string) =>
    new Promise<{ updates: Record<string, any>[]; error?: unknown }>((resolve) => {
      const updates: Record<string, any>[] = [];
      client.subscribe(
        { query: SUBSCRIPTION, variables: { id } },
        {
          next: (message) => {
            if (message.data) updates.push((message.data as Record<string, any>).jobProgress);
            if (message.errors) resolve({ updates, error: message.errors });
          },
          error: (error) => resolve({ updates, error }),
          complete: () => resolve({ updates }),
        },
      );
    });

  it('streams a backup from start to end, with progress that only grows', async () => {
    const source = join(work, 'source');
    await mkdir(source, { recursive: true });
    for (let i = 0; i < 24; i += 1) await writeFile(join(source, `${i}.sst`), randomBytes(8 * MiB));
    const { policyId } = await createDirectoryPolicy(server.client, 'followed', source, join(work, 'repository'));
    const { runBackup } = await server.client.ok(RUN_BACKUP, { policyId });

    const { updates, error } = await follow(runBackup.id);
    expect(error).toBeUndefined();
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates.every((u) => u.id === runBackup.id)).toBe(true);
    const last = updates[updates.length - 1];
    expect(last.status).toBe('COMPLETED');
    expect(last.backupId).toEqual(expect.any(String));
    const done = updates.map((u) => u.progress?.done ?? 0);
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(done[done.length - 1]).toBe(24 * 8 * MiB);
  });

  it('answers an unknown job with NOT_FOUND', async () => {
    const { updates, error } = await follow('00000000-0000-4000-8000-000000000000');
    expect(updates).toEqual([]);
    expect(JSON.stringify(error)).toMatch(/NOT_FOUND|does not exist/);
  });
});
