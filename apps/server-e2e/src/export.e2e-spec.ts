/**
 * Export (DESIGN §4): a backup's files written out as plain files, through GraphQL and the CLI,
 * equal to what was backed up; a target that is not a new or empty absolute directory, or a
 * backup that cannot be used, is refused before anything is written.
 */
import { compareTrees, writeSampleTree } from '@chainvault/testing';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BACKUP, backupNow, createDirectoryPolicy } from './support/scenario';
import { startTestServer, type TestServer } from './support/test-server';

const EXPORT = `mutation ($id: ID!, $path: String!) { exportBackup(backupId: $id, path: $path) { id kind status backupId } }`;
const JOB_IDS = `{ jobs { id } }`;
const BIN = join(__dirname, '..', '..', 'cli', 'bin', 'chainvault.js');

const exists = (path: string) => lstat(path).then(() => true, () => false);

describe('exporting a backup as plain files', () => {
  let server: TestServer;
  let work: string;
  let source: string;
  let backupId: string;
  let backup: { fileCount: number; logicalSize: number };

  const cli = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(process.execPath, [BIN, ...args], { cwd: work, env: { ...process.env, CHAINVAULT_URL: server.url, CHAINVAULT_TOKEN: server.token } }, (error, stdout, stderr) =>
        done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-export-'));
    source = join(work, 'source');
    await writeSampleTree(source, { bigFileBytes: 3 * 1024 * 1024 });
    // What `geth export` writes and `geth import` reads: RLP-encoded blocks in plain files.
    await mkdir(join(source, 'rlp'));
    await writeFile(join(source, 'rlp', 'blocks-000000-009999.rlp'), randomBytes(2 * 1024 * 1024 + 17));
    await writeFile(join(source, 'rlp', 'blocks-010000-019999.rlp'), randomBytes(700 * 1024));
    server = await startTestServer();
    const { policyId } = await createDirectoryPolicy(server.client, 'export', source, join(work, 'repository'));
    const job = await backupNow(server.client, policyId);
    expect(job.status).toBe('COMPLETED');
    backupId = job.backupId;
    backup = (await server.client.ok(BACKUP, { id: backupId })).backup;
  });

  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  /** The export must be refused with `code` and a message matching `pattern`, and queue no job. */
  async function refused(variables: { id: string; path: string }, code: string, pattern: RegExp): Promise<void> {
    const jobsBefore = (await server.client.ok(JOB_IDS)).jobs;
    const error = await server.client.fails(EXPORT, variables);
    expect({ code: error.extensions?.code, message: error.message }).toEqual({ code, message: expect.stringMatching(pattern) });
    expect((await server.client.ok(JOB_IDS)).jobs).toEqual(jobsBefore);
  }

  it('writes the files of a backup into a new directory through GraphQL, equal to the source', async () => {
    const target = join(work, 'exports', 'by-graphql');
    const { exportBackup } = await server.client.ok(EXPORT, { id: backupId, path: target });
    expect(exportBackup).toMatchObject({ kind: 'EXPORT', backupId });
    const job = await server.client.waitForJob(exportBackup.id);
    expect({ status: job.status, error: job.error }).toEqual({ status: 'COMPLETED', error: null });
    expect(job.result).toEqual({ path: target, files: backup.fileCount, bytes: backup.logicalSize });
    expect(job.progress).toMatchObject({ unit: 'bytes', done: backup.logicalSize, total: backup.logicalSize });
    expect(await compareTrees(source, target)).toEqual([]);
  });

  it('exports with the CLI into an empty directory given relative to where it runs', async () => {
    await mkdir(join(work, 'by-cli'), { mode: 0o750 });
    const modeBefore = (await stat(join(work, 'by-cli'))).mode & 0o777;
    const run = await cli('backups', 'export', backupId, 'by-cli', '--wait');
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/EXPORT\) COMPLETED/);
    expect(run.stdout).toContain(`${backup.fileCount} files`);
    expect(run.stdout).toContain(`in ${join(work, 'by-cli')}`);
    // The folder existed: its mode and times are the operator's, only what is inside comes from the backup.
    const differences = await compareTrees(source, join(work, 'by-cli'));
    expect(differences.filter((d) => !d.startsWith('".":'))).toEqual([]);
    expect((await stat(join(work, 'by-cli'))).mode & 0o777).toBe(modeBefore);

    const refusedRun = await cli('backups', 'export', backupId, 'by-cli', '--wait');
    expect(refusedRun.code).not.toBe(0);
    expect(refusedRun.stderr).toMatch(/BAD_USER_INPUT: the export path .*by-cli is not empty/);
  });

  it('refuses a directory that is not empty, leaving what is in it as it was', async () => {
    const target = join(work, 'occupied');
    await mkdir(target);
    await writeFile(join(target, 'keep.txt'), 'mine\n');
    await refused({ id: backupId, path: target }, 'BAD_USER_INPUT', /the export path .*occupied is not empty; export into a new or empty directory/);
    expect(await readdir(target)).toEqual(['keep.txt']);
    expect(await readFile(join(target, 'keep.txt'), 'utf8')).toBe('mine\n');
  });

  it('refuses a file and a relative path, creating nothing', async () => {
    const file = join(work, 'a-file');
    await writeFile(file, 'not a directory\n');
    await refused({ id: backupId, path: file }, 'BAD_USER_INPUT', /the export path .*a-file is not a directory/);
    expect(await readFile(file, 'utf8')).toBe('not a directory\n');

    const relative = `export-${randomBytes(4).toString('hex')}/blocks`;
    await refused({ id: backupId, path: relative }, 'BAD_USER_INPUT', new RegExp(`the export path must be absolute, got "${relative}"`));
    expect(await exists(resolve(relative.split('/')[0]))).toBe(false);
  });

  it('refuses a backup that does not exist (NOT_FOUND) and one that was deleted (CONFLICT)', async () => {
    const target = join(work, 'never-written');
    const missing = randomUUID();
    await refused({ id: missing, path: target }, 'NOT_FOUND', new RegExp(`backup ${missing} does not exist`));

    expect(await server.client.ok(`mutation ($id: ID!) { deleteBackup(id: $id) }`, { id: backupId })).toEqual({ deleteBackup: true });
    await refused({ id: backupId, path: target }, 'CONFLICT', new RegExp(`backup ${backupId} is DELETED and cannot be used`));
    expect(await exists(target)).toBe(false);
  });
});
