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

  it('checks a whole destination and names the backups a damaged pack hurts', async () => {
    const { client } = server;
    const source = join(work, 'checked-source');
    await mkdir(source, { recursive: true });
    await writeFile(join(source, 'ledger.bin'), randomBytes(4 * MiB));
    const repository = join(work, 'checked-repository');
    const { policyId, destinationId } = await createDirectoryPolicy(client, 'checked', source, repository);
    const first = await backupNow(client, policyId);
    const second = await backupNow(client, policyId);
    const CHECK = `mutation ($d: ID!) { checkDestination(destinationId: $d) { id } }`;
    const clean = await client.waitForJob((await client.ok(CHECK, { d: destinationId })).checkDestination.id);
    expect(clean.status).toBe('COMPLETED');
    expect(clean.result).toMatchObject({ backups: 2, corrupt: {} });

    // One flipped byte in the only pack: both backups share its chunks.
    const { readdir, readFile } = await import('node:fs/promises');
    const prefix = (await readdir(join(repository, 'data')))[0];
    const pack = join(repository, 'data', prefix, (await readdir(join(repository, 'data', prefix)))[0]);
    const bytes = await readFile(pack);
    bytes[100] ^= 0xff;
    await writeFile(pack, bytes);

    const damaged = await client.waitForJob((await client.ok(CHECK, { d: destinationId })).checkDestination.id);
    expect(damaged.status).toBe('FAILED');
    expect(damaged.error).toContain(first.backupId);
    expect(damaged.error).toContain(second.backupId);
    expect(damaged.log.map((l: { message: string }) => l.message).join('\n')).toMatch(/file "ledger.bin": chunk .* is damaged/);
    for (const id of [first.backupId, second.backupId]) {
      const { backup } = await client.ok(`query ($id: ID!) { backup(id: $id) { verification verificationProblems } }`, { id });
      expect(backup.verification).toBe('CORRUPT');
    }
  });

  it('refuses an unknown destination', async () => {
    const error = await server.client.fails(PRUNE, { d: '00000000-0000-4000-8000-000000000000', dry: false });
    expect(error.extensions?.code).toBe('NOT_FOUND');
  });
});
