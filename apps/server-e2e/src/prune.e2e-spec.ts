/**
 * Deleting backups and pruning the destination frees their data, keeps what the remaining
 * backups need, and reports first when asked for a dry run.
 */
import { compareTrees } from '@chainvault/testing';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backupNow, createDirectoryPolicy, restoreTo } from './support/scenario';
import { startTestServer, type TestServer } from './support/test-server';

const MiB = 1024 * 1024;
const PRUNE = `mutation ($d: ID!, $dry: Boolean) { pruneDestination(destinationId: $d, dryRun: $dry) { id kind status } }`;

async function repositoryBytes(dir: string): Promise<number> {
  const { execFileSync } = await import('node:child_process');
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

describe('pruning a destination', () => {
  let server: TestServer;
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-prune-e2e-'));
    server = await startTestServer();
  });

  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('frees what deleted backups held and keeps what the rest need', async () => {
    const { client } = server;
    const source = join(work, 'source');
    await mkdir(source, { recursive: true });
    await writeFile(join(source, 'kept.bin'), randomBytes(8 * MiB));
    await writeFile(join(source, 'old.bin'), randomBytes(24 * MiB));
    const repository = join(work, 'repository');
    const { policyId, destinationId } = await createDirectoryPolicy(client, 'prunable', source, repository);
    const first = await backupNow(client, policyId);
    await rm(join(source, 'old.bin'));
    const second = await backupNow(client, policyId);
    expect(second.status).toBe('COMPLETED');

    // Nothing to free while both backups exist.
    const idle = await client.waitForJob((await client.ok(PRUNE, { d: destinationId, dry: false })).pruneDestination.id);
    expect(idle.status).toBe('COMPLETED');
    expect(idle.result.bytesFreed).toBe(0);

    await client.ok(`mutation ($id: ID!) { deleteBackup(id: $id) }`, { id: first.backupId });
    const before = await repositoryBytes(repository);
    const dry = await client.waitForJob((await client.ok(PRUNE, { d: destinationId, dry: true })).pruneDestination.id);
    expect(dry.result).toMatchObject({ dryRun: true, backups: 1 });
    expect(dry.result.bytesFreed).toBeGreaterThan(16 * MiB);
    expect(await repositoryBytes(repository)).toBe(before);

    const real = await client.waitForJob((await client.ok(PRUNE, { d: destinationId, dry: false })).pruneDestination.id);
    expect(real.status).toBe('COMPLETED');
    expect(real.result.bytesFreed).toBe(dry.result.bytesFreed);
    expect(before - (await repositoryBytes(repository))).toBeGreaterThan(16 * MiB);

    const verified = await client.waitForJob((await client.ok(`mutation ($id: ID!) { verifyBackup(backupId: $id) { id } }`, { id: second.backupId })).verifyBackup.id);
    expect(verified.status).toBe('COMPLETED');
    const target = join(work, 'restored');
    expect((await restoreTo(client, second.backupId, target)).status).toBe('COMPLETED');
    expect(await compareTrees(source, target)).toEqual([]);
  });

  it('refuses an unknown destination', async () => {
    const error = await server.client.fails(PRUNE, { d: '00000000-0000-4000-8000-000000000000', dry: false });
    expect(error.extensions?.code).toBe('NOT_FOUND');
  });
});
