/**
 * Unique names under a race: 30 concurrent creates of one name end in exactly one success and
 * CONFLICT for the rest, never INTERNAL, and a losing destination leaves no repository on disk,
 * nor removes one that was there before. On SQLite and on PostgreSQL, and between two instances
 * on one PostgreSQL catalog, where no in-process ordering helps.
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GraphqlResponse } from './support/graphql-client';
import { CREATE_DESTINATION, CREATE_NETWORK, CREATE_POLICY, REGISTER_NODE } from './support/scenario';
import { startTestServer, type CatalogKind, type TestServer } from './support/test-server';

const CALLS = 30;
/** The file that makes a folder a chainvault repository (libs/repository). */
const REPOSITORY_CONFIG = 'chainvault-repository.json';

/** Per call: the id it created, or the code of its error. */
function outcomes(results: GraphqlResponse<Record<string, { id: string }>>[], field: string): string[] {
  return results.map((r) => (r.errors?.length ? String(r.errors[0].extensions?.code) : r.data?.[field]?.id ? 'CREATED' : `odd: ${JSON.stringify(r)}`));
}

/** How many calls ended how, e.g. { CREATED: 1, CONFLICT: 29 }. */
function tally(list: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const outcome of list) counts[outcome] = (counts[outcome] ?? 0) + 1;
  return counts;
}

describe.each<CatalogKind>(['sqlite', 'postgres'])('30 concurrent creates of one name on %s', (catalog) => {
  let server: TestServer;
  let work: string;
  let networkId: string;

  beforeAll(async () => {
    server = await startTestServer({ catalog });
    work = await mkdtemp(join(tmpdir(), 'chainvault-races-'));
    networkId = (await server.client.ok(CREATE_NETWORK, { input: { name: 'home', protocol: 'directory' } })).createNetwork.id;
  });

  afterAll(async () => {
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const race = (query: string, input: (i: number) => Record<string, unknown>) => Promise.all(Array.from({ length: CALLS }, (_, i) => server.client.request(query, { input: input(i) })));

  it('createDestination: one is created, the others CONFLICT, and only its repository is on disk', async () => {
    const parent = join(work, 'destinations');
    await mkdir(parent);
    const results = await race(CREATE_DESTINATION, (i) => ({ name: 'offsite', kind: 'LOCAL', config: { path: join(parent, `repository-${i}`) } }));

    expect(tally(outcomes(results, 'createDestination'))).toEqual({ CREATED: 1, CONFLICT: CALLS - 1 });
    const winner = results.find((r) => r.data?.createDestination)!.data!.createDestination as unknown as { id: string; config: { path: string } };
    expect(await readdir(parent)).toEqual([winner.config.path.slice(parent.length + 1)]);
    // The winner's repository is whole: its config is there, so the destination can be used at once.
    expect(JSON.parse(await readFile(join(winner.config.path, REPOSITORY_CONFIG), 'utf8'))).toMatchObject({ format: expect.any(String) });
    const { destinations } = await server.client.ok(`{ destinations { id name } }`);
    expect(destinations.filter((d: { name: string }) => d.name === 'offsite')).toEqual([{ id: winner.id, name: 'offsite' }]);
    const conflict = results.find((r) => r.errors)!.errors![0];
    expect(conflict.message).toBe('a destination named "offsite" already exists');
  });

  it('createDestination: the losers leave a repository that was already at their location as it was', async () => {
    const shared = join(work, 'shared-repository');
    await server.client.ok(CREATE_DESTINATION, { input: { name: 'first', kind: 'LOCAL', config: { path: shared } } });
    const before = await readFile(join(shared, REPOSITORY_CONFIG), 'utf8');

    const results = await race(CREATE_DESTINATION, () => ({ name: 'second', kind: 'LOCAL', config: { path: shared } }));

    expect(tally(outcomes(results, 'createDestination'))).toEqual({ CREATED: 1, CONFLICT: CALLS - 1 });
    expect(await readFile(join(shared, REPOSITORY_CONFIG), 'utf8')).toBe(before);
  });

  it('registerNode: one is registered, the others CONFLICT', async () => {
    const source = await mkdtemp(join(tmpdir(), 'chainvault-races-source-'));
    try {
      const results = await race(REGISTER_NODE, () => ({ networkId, name: 'validator', plugin: 'directory', role: 'node', config: { path: source } }));
      expect(tally(outcomes(results, 'registerNode'))).toEqual({ CREATED: 1, CONFLICT: CALLS - 1 });
      const { nodes } = await server.client.ok(`{ nodes { name } }`);
      expect(nodes.filter((n: { name: string }) => n.name === 'validator')).toHaveLength(1);
    } finally {
      await rm(source, { recursive: true, force: true });
    }
  });

  it('createNetwork: one is created, the others CONFLICT', async () => {
    const results = await race(CREATE_NETWORK, () => ({ name: 'mainnet', protocol: 'directory' }));
    expect(tally(outcomes(results, 'createNetwork'))).toEqual({ CREATED: 1, CONFLICT: CALLS - 1 });
  });

  it('createPolicy: one is created, the others CONFLICT', async () => {
    const source = await mkdtemp(join(tmpdir(), 'chainvault-races-source-'));
    try {
      const { registerNode } = await server.client.ok(REGISTER_NODE, { input: { networkId, name: 'files', plugin: 'directory', role: 'node', config: { path: source } } });
      const { createDestination } = await server.client.ok(CREATE_DESTINATION, { input: { name: 'for-policies', kind: 'LOCAL', config: { path: join(work, 'policy-repository') } } });
      // Disabled, so that the exclusive-method check between enabled policies of one node is not what answers.
      const results = await race(CREATE_POLICY, () => ({ name: 'nightly', nodeId: registerNode.id, method: 'snapshot', destinationIds: [createDestination.id], enabled: false }));
      expect(tally(outcomes(results, 'createPolicy'))).toEqual({ CREATED: 1, CONFLICT: CALLS - 1 });
    } finally {
      await rm(source, { recursive: true, force: true });
    }
  });
});

describe('30 concurrent creates of one destination name across two instances on one PostgreSQL catalog', () => {
  let first: TestServer;
  let second: TestServer;
  let work: string;

  beforeAll(async () => {
    first = await startTestServer({ catalog: 'postgres' });
    work = await mkdtemp(join(tmpdir(), 'chainvault-races-'));
    // The second instance shares the catalog, the secret key and the admin token the first one made.
    const secondDir = join(work, 'second-instance');
    await mkdir(secondDir, { mode: 0o700 });
    for (const file of ['admin.token', 'secret.key']) await copyFile(join(first.config.dataDir, file), join(secondDir, file));
    second = await startTestServer({ reuse: { dataDir: secondDir, databaseUrl: first.config.databaseUrl } });
  });

  afterAll(async () => {
    await second?.stop();
    await first?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('one is created, the others CONFLICT, and only its repository is on disk', async () => {
    const parent = join(work, 'destinations');
    await mkdir(parent);
    const results = await Promise.all(
      Array.from({ length: CALLS }, (_, i) =>
        (i % 2 ? second : first).client.request(CREATE_DESTINATION, { input: { name: 'shared-offsite', kind: 'LOCAL', config: { path: join(parent, `repository-${i}`) } } }),
      ),
    );

    expect(tally(outcomes(results, 'createDestination'))).toEqual({ CREATED: 1, CONFLICT: CALLS - 1 });
    const winner = results.find((r) => r.data?.createDestination)!.data!.createDestination as unknown as { id: string; config: { path: string } };
    expect(await readdir(parent)).toEqual([winner.config.path.slice(parent.length + 1)]);
    for (const server of [first, second]) {
      const { destinations } = await server.client.ok(`{ destinations { id name } }`);
      expect(destinations.filter((d: { name: string }) => d.name === 'shared-offsite')).toEqual([{ id: winner.id, name: 'shared-offsite' }]);
    }
  });
});
