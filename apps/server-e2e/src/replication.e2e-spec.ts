/**
 * Replication through GraphQL: a policy with two destinations writes to the primary and
 * copies to the other (encrypted, with its own key); a destination added later is back-filled
 * with every earlier backup; each copy restores identical; deleting removes every copy.
 */
import { compareTrees, writeSampleTree } from '@chainvault/testing';
import { appendFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CREATE_DESTINATION, CREATE_NETWORK, CREATE_POLICY, REGISTER_NODE, RUN_BACKUP } from './support/scenario';
import { startTestServer, type TestServer } from './support/test-server';

const REPLICAS = `query ($id: ID!) { backup(id: $id) { id replicas { destinationId state bytesSent error } } }`;

describe('replication to further destinations', () => {
  let server: TestServer;
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-replication-'));
    server = await startTestServer();
  });

  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  /** Waits until every job is done, and returns those of a kind. */
  async function settle(kind: string): Promise<Record<string, any>[]> {
    for (let i = 0; i < 600; i += 1) {
      const { jobs } = await server.client.ok(`{ jobs { id kind status error result backupId } }`);
      if (jobs.every((j: { status: string }) => !['QUEUED', 'RUNNING'].includes(j.status))) return jobs.filter((j: { kind: string }) => j.kind === kind);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('jobs did not settle');
  }

  it('copies each backup, back-fills a destination added later, restores from a copy, and deletes every copy', async () => {
    const { client } = server;
    const source = join(work, 'source');
    await writeSampleTree(source, { bigFileBytes: 3 * 1024 * 1024 });
    const destination = async (name: string, config: Record<string, unknown>) =>
      (await client.ok(CREATE_DESTINATION, { input: { name, kind: 'LOCAL', config: { path: join(work, name), ...config } } })).createDestination.id as string;
    const primary = await destination('primary', {});
    const offsite = await destination('offsite', { passphrase: 'offsite passphrase' });
    const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name: 'replicated', protocol: 'directory' } });
    const { registerNode } = await client.ok(REGISTER_NODE, { input: { networkId: createNetwork.id, name: 'files', plugin: 'directory', role: 'node', config: { path: source } } });
    const { createPolicy } = await client.ok(CREATE_POLICY, { input: { name: 'replicated-policy', nodeId: registerNode.id, method: 'snapshot', destinationIds: [primary, offsite] } });

    await client.ok(RUN_BACKUP, { policyId: createPolicy.id });
    const [first] = (await settle('BACKUP')).map((j) => j.backupId);
    expect((await client.ok(REPLICAS, { id: first })).backup.replicas).toEqual([{ destinationId: offsite, state: 'COMPLETED', bytesSent: expect.any(Number), error: null }]);
    // The copy is in the encrypted destination, under the same backup id.
    expect(await readdir(join(work, 'offsite', 'manifests'))).toEqual([first]);

    await appendFile(join(source, 'grown.log'), 'more\n'.repeat(1000));
    await client.ok(RUN_BACKUP, { policyId: createPolicy.id });
    await settle('BACKUP');
    const { backups } = await client.ok(`query ($p: ID!) { backups(filter: { policyId: $p }) { nodes { id } } }`, { p: createPolicy.id });
    const second = backups.nodes[0].id;
    const copies = await settle('REPLICATE');
    const secondCopy = copies.find((j) => j.backupId === second)!;
    expect(secondCopy.status).toBe('COMPLETED');
    // Only what changed is sent the second time.
    expect(secondCopy.result.chunksPresent).toBeGreaterThan(secondCopy.result.chunksSent);

    // A third destination added later receives both earlier backups.
    const archive = await destination('archive', {});
    const { addPolicyDestination } = await client.ok(`mutation ($p: ID!, $d: ID!) { addPolicyDestination(policyId: $p, destinationId: $d) { destinationIds } }`, { p: createPolicy.id, d: archive });
    expect(addPolicyDestination.destinationIds).toEqual([primary, offsite, archive]);
    await settle('REPLICATE');
    expect((await readdir(join(work, 'archive', 'manifests'))).sort()).toEqual([first, second].sort());
    for (const id of [first, second]) {
      const states = (await client.ok(REPLICAS, { id })).backup.replicas.map((r: { destinationId: string; state: string }) => [r.destinationId, r.state]);
      expect(states.sort()).toEqual([[offsite, 'COMPLETED'], [archive, 'COMPLETED']].sort());
    }

    // Restore from the off-site copy.
    const target = join(work, 'restored-from-offsite');
    const { restoreBackup } = await client.ok(`mutation ($input: RestoreInput!) { restoreBackup(input: $input) { id } }`, {
      input: { backupId: second, fromDestinationId: offsite, targetConfig: { path: target } },
    });
    expect((await client.waitForJob(restoreBackup.id)).status).toBe('COMPLETED');
    expect(await compareTrees(source, target)).toEqual([]);
    const refused = await client.fails(`mutation ($input: RestoreInput!) { restoreBackup(input: $input) { id } }`, {
      input: { backupId: second, fromDestinationId: (await destination('empty', {})), targetConfig: { path: join(work, 'never') } },
    });
    expect(refused.message).toMatch(/holds no completed copy/);

    // Deleting the first backup removes it from every destination.
    await client.ok(`mutation ($id: ID!) { deleteBackup(id: $id) }`, { id: first });
    for (const name of ['primary', 'offsite', 'archive']) expect(await readdir(join(work, name, 'manifests'))).toEqual([second]);
  });
});
