/**
 * A backup whose server is killed with SIGKILL in the middle leaves no visible backup; after a
 * restart its job is taken over and run again, reusing what was stored, and completes. A
 * restore killed the same way can be run again into the same target.
 */
import { compareTrees } from '@chainvault/testing';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backupNow, createDirectoryPolicy, RESTORE, restoreTo, RUN_BACKUP } from './support/scenario';
import { spawnServer, type ServerProcess } from './support/server-process';
import { startTestServer } from './support/test-server';
import { DataSource } from 'typeorm';

const MiB = 1024 * 1024;

describe('a backup killed with SIGKILL', () => {
  let work: string;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-kill-'));
  });

  afterAll(async () => {
    server?.child.kill('SIGKILL');
    await rm(work, { recursive: true, force: true });
  });

  it('leaves nothing visible, and after restart the job is taken over and completes, reusing what was stored', async () => {
    const source = join(work, 'source');
    await mkdir(join(source, 'ledger'), { recursive: true });
    // 256 MiB of incompressible files: long enough to be caught in the middle.
    for (let i = 0; i < 64; i += 1) await writeFile(join(source, 'ledger', `${String(i).padStart(6, '0')}.sst`), randomBytes(4 * MiB));
    const dataDir = join(work, 'data');
    const repository = join(work, 'repository');

    // Retries wait half a second here rather than a minute.
    const extra = { CHAINVAULT_RETRY_BACKOFF_MS: '500' };
    server = await spawnServer({ dataDir, extra });
    const { policyId } = await createDirectoryPolicy(server.client, 'kill', source, repository);
    const { runBackup } = await server.client.ok(RUN_BACKUP, { policyId });

    // Kill once at least one whole pack is stored but the job is not done.
    const completePacks = async () => {
      const prefixes = await readdir(join(repository, 'data')).catch(() => [] as string[]);
      const names = await Promise.all(prefixes.map((p) => readdir(join(repository, 'data', p)).catch(() => [] as string[])));
      return names.flat().filter((n) => /^[0-9a-f]{64}$/.test(n)).length;
    };
    let seen = 0;
    for (let tries = 0; tries < 3000; tries += 1) {
      const { job } = await server.client.ok(`query ($id: ID!) { job(id: $id) { status progress { done } } }`, { id: runBackup.id });
      expect(job.status).not.toBe('COMPLETED');
      seen = job.progress?.done ?? 0;
      if (job.status === 'RUNNING' && (await completePacks()) > 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await completePacks()).toBeGreaterThan(0);
    expect(seen).toBeLessThan(256 * MiB);
    server.child.kill('SIGKILL');
    expect(await server.exited).toBe('SIGKILL');

    const manifests = await readdir(join(repository, 'manifests')).catch(() => []);
    expect(manifests).toEqual([]);
    // Packs uploaded before the kill are on storage, though no index or manifest names them yet.
    expect(await readdir(join(repository, 'index')).catch(() => [])).toEqual([]);

    server = await spawnServer({ dataDir, extra });
    const { client } = server;
    // The killed run left no backup in any status.
    const { backups } = await client.ok(`query ($p: ID!) { backups(filter: { policyId: $p, status: [RUNNING, COMPLETED, PARTIAL, FAILED, DELETED] }) { totalCount } }`, { p: policyId });
    expect(backups.totalCount).toBe(0);

    // Its job is taken over: queued for a second attempt, which completes.
    const next = await client.waitForJob(runBackup.id);
    expect({ status: next.status, error: next.error, attempts: next.attempts }).toEqual({ status: 'COMPLETED', error: null, attempts: 2 });
    expect(next.log.map((l: { message: string }) => l.message).join('\n')).toMatch(/interrupted: the server running this job .* stopped before it finished; taken over by .*, attempt 2 of 3/);
    expect((await client.ok(`{ jobs(status: [RUNNING, QUEUED]) { id } }`)).jobs).toEqual([]);
    // Chunks uploaded before the kill are not uploaded again.
    expect(next.result.chunksReused).toBeGreaterThan(0);
    expect(next.result.storedBytes).toBeLessThan(256 * MiB);

    const restored = join(work, 'restored');
    expect((await restoreTo(client, next.backupId, restored)).status).toBe('COMPLETED');
    expect(await compareTrees(source, restored)).toEqual([]);
  });
});

describe('a server that died after the manifest was written but before the catalog row', () => {
  it('records the backup on restart instead of losing it', async () => {
    const work = await mkdtemp(join(tmpdir(), 'chainvault-adopt-'));
    const source = join(work, 'source');
    await mkdir(source, { recursive: true });
    await writeFile(join(source, 'block-000001.dat'), randomBytes(64 * 1024));
    let server = await startTestServer();
    try {
      const { policyId } = await createDirectoryPolicy(server.client, 'adopt', source, join(work, 'repository'));
      const done = await backupNow(server.client, policyId);
      expect(done.status).toBe('COMPLETED');
      // Put the catalog back in the state the crash window leaves: manifest stored, job RUNNING, no backup row.
      const catalog = server.app.get(DataSource);
      await catalog.query(`DELETE FROM backup WHERE id = '${done.backupId}'`);
      await catalog.query(`UPDATE job SET status = 'RUNNING', result = NULL, finished_at = NULL WHERE id = '${done.id}'`);
      await server.stop();

      server = await startTestServer({ reuse: { dataDir: server.config.dataDir } });
      const job = await server.client.waitForJob(done.id);
      expect(job.status).toBe('COMPLETED');
      expect(job.result.recovered).toBe(true);
      expect(job.log.map((l: { message: string }) => l.message).join('\n')).toMatch(/recovered on restart/);
      const { backup } = await server.client.ok(`query ($id: ID!) { backup(id: $id) { status fileCount } }`, { id: done.backupId });
      expect(backup).toEqual({ status: 'COMPLETED', fileCount: 1 });
      const restored = join(work, 'restored');
      expect((await restoreTo(server.client, done.backupId, restored)).status).toBe('COMPLETED');
      expect(await compareTrees(source, restored)).toEqual([]);
    } finally {
      await server.close();
      await rm(work, { recursive: true, force: true });
    }
  });
});

describe('a restore killed with SIGKILL', () => {
  let work: string;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-kill-restore-'));
  });

  afterAll(async () => {
    server?.child.kill('SIGKILL');
    await rm(work, { recursive: true, force: true });
  });

  /** Starts a restore into `target` and kills the server once some, but not all, of it is written. */
  const restoreAndKill = async (backupId: string, target: string, dataDir: string): Promise<void> => {
    const { restoreBackup } = await server!.client.ok(RESTORE, { input: { backupId, targetConfig: { path: target } } });
    for (let tries = 0; tries < 3000; tries += 1) {
      const { job } = await server!.client.ok(`query ($id: ID!) { job(id: $id) { status } }`, { id: restoreBackup.id });
      expect(job.status).not.toBe('COMPLETED');
      const written = await readdir(join(target, 'ledger')).catch(() => [] as string[]);
      if (job.status === 'RUNNING' && written.filter((n) => n.endsWith('.sst')).length >= 2) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    server!.child.kill('SIGKILL');
    expect(await server!.exited).toBe('SIGKILL');
    server = await spawnServer({ dataDir });
    const { job } = await server.client.ok(`query ($id: ID!) { job(id: $id) { status error } }`, { id: restoreBackup.id });
    expect(job.status).toBe('FAILED');
    expect(job.error).toMatch(/restore again into the same target/);
  };

  it('is run again into the same target and the result equals the backup; a target with a foreign file is refused', async () => {
    const source = join(work, 'source');
    await mkdir(join(source, 'ledger'), { recursive: true });
    for (let i = 0; i < 64; i += 1) await writeFile(join(source, 'ledger', `${String(i).padStart(6, '0')}.sst`), randomBytes(4 * MiB));
    const dataDir = join(work, 'data');
    server = await spawnServer({ dataDir });
    const { policyId } = await createDirectoryPolicy(server.client, 'restore-kill', source, join(work, 'repository'));
    const backup = await backupNow(server.client, policyId);
    expect(backup.status).toBe('COMPLETED');

    const target = join(work, 'target');
    await restoreAndKill(backup.backupId, target, dataDir);
    const left = await readdir(join(target, 'ledger'));
    expect(left.length).toBeGreaterThan(0);
    expect(left.filter((n) => n.endsWith('.sst')).length).toBeLessThan(64);

    const retried = await restoreTo(server!.client, backup.backupId, target);
    expect({ status: retried.status, error: retried.error }).toEqual({ status: 'COMPLETED', error: null });
    expect(await compareTrees(source, target)).toEqual([]);
    // Once a restore into it completed, what is there is the user's: another restore is refused, not cleared.
    const again = await server!.client.fails(RESTORE, { input: { backupId: backup.backupId, targetConfig: { path: target } } });
    expect(again.message).toMatch(/is not empty/);
    expect(await compareTrees(source, target)).toEqual([]);

    // The same interruption, then a file the restore did not write: the target is not the restore's to clear.
    const other = join(work, 'other-target');
    await restoreAndKill(backup.backupId, other, dataDir);
    await writeFile(join(other, 'notes.txt'), 'the operator put this here\n');
    const before = (await readdir(join(other, 'ledger'))).sort();
    const refused = await server!.client.fails(RESTORE, { input: { backupId: backup.backupId, targetConfig: { path: other } } });
    expect(refused.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.message).toMatch(/is not empty/);
    expect((await readdir(join(other, 'ledger'))).sort()).toEqual(before);
    expect(await readdir(other)).toContain('notes.txt');
  });
});
