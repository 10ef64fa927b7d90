/**
 * The README's first backup with the CLI only: names instead of ids, `--wait`, and errors
 * that reach the terminal with a non-zero exit.
 */
import { compareTrees, writeSampleTree } from '@chainvault/testing';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from './support/test-server';

const BIN = join(__dirname, '..', '..', 'cli', 'bin', 'chainvault.js');

describe('the chainvault CLI', () => {
  let server: TestServer;
  let work: string;

  const cliWith = (env: Record<string, string | undefined>, ...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const { CHAINVAULT_TOKEN: _ignored, CHAINVAULT_DATA_DIR: _alsoIgnored, ...rest } = process.env;
      execFile(process.execPath, [BIN, ...args], { cwd: work, env: { ...rest, CHAINVAULT_URL: server.url, ...env } }, (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const cli = (...args: string[]) => cliWith({ CHAINVAULT_TOKEN: server.token }, ...args);

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-cli-'));
    server = await startTestServer();
  });

  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('backs up and restores a directory with names, not ids', async () => {
    const source = join(work, 'source');
    await writeSampleTree(source, { bigFileBytes: 3 * 1024 * 1024 });

    expect((await cli('plugins', 'list')).stdout).toMatch(/directory\s+\S+\s+LOADED/);
    expect((await cli('networks', 'create', '--name', 'lab', '--protocol', 'directory')).code).toBe(0);
    expect((await cli('nodes', 'register', '--network', 'lab', '--name', 'files', '--plugin', 'directory', '--config', JSON.stringify({ path: source }))).code).toBe(0);
    // The embedded defaults give a LOCAL destination named "local" under the data directory.
    const policy = await cli('policies', 'create', '--name', 'files-nightly', '--node', 'files', '--method', 'snapshot', '--keep-last', '7');
    expect(policy.stderr).toBe('');
    expect(policy.code).toBe(0);

    const run = await cli('--json', 'backups', 'run', 'files-nightly', '--wait');
    expect(run.code).toBe(0);
    const job = JSON.parse(run.stdout);
    expect(job.status).toBe('COMPLETED');

    const list = JSON.parse((await cli('--json', 'backups', 'list', '--policy', 'files-nightly')).stdout);
    expect(list.totalCount).toBe(1);
    expect(list.nodes[0].id).toBe(job.backupId);

    const target = join(work, 'restored');
    const restore = await cli('restore', job.backupId, '--target-config', JSON.stringify({ path: target }), '--wait');
    expect(restore.stdout).toMatch(/RESTORE\) COMPLETED/);
    expect(await compareTrees(source, target)).toEqual([]);

    const verify = await cli('verify', job.backupId, '--wait');
    expect(verify.code).toBe(0);
    expect((await cli('backups', 'show', job.backupId)).stdout).toMatch(/verification VERIFIED/);
  });

  it('reports the server error and exits non-zero', async () => {
    const bad = await cli('nodes', 'register', '--network', 'lab', '--name', 'x', '--plugin', 'nope', '--config', '{}');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/BAD_USER_INPUT: unknown plugin "nope"/);
    const badJson = await cli('nodes', 'register', '--network', 'lab', '--name', 'x', '--plugin', 'directory', '--config', '{path:');
    expect(badJson.stderr).toMatch(/--config must be JSON/);
    const missing = await cli('backups', 'run', 'no-such-policy');
    expect(missing.stderr).toMatch(/no policy named or with id "no-such-policy"; known: files-nightly/);
  });

  it('finds the admin token in the data directory, and says what to do without one', async () => {
    expect((await cliWith({ CHAINVAULT_DATA_DIR: server.config.dataDir }, 'networks', 'list')).code).toBe(0);
    const without = await cliWith({}, 'networks', 'list');
    expect(without.code).toBe(1);
    expect(without.stderr).toMatch(/the server needs a token: set CHAINVAULT_TOKEN/);
  });

  it('makes, lists and revokes tokens, and reads the audit log', async () => {
    const made = await cli('tokens', 'create', '--name', 'ci-reader', '--role', 'viewer', '--expires', '30d');
    expect(made.code).toBe(0);
    const secret = made.stdout.split('\n')[0];
    expect(secret).toMatch(/^cvt_[A-Za-z0-9_-]{43}$/);
    const asViewer = await cliWith({ CHAINVAULT_TOKEN: secret }, 'networks', 'create', '--name', 'by-reader', '--protocol', 'directory');
    expect(asViewer.code).toBe(1);
    expect(asViewer.stderr).toMatch(/FORBIDDEN: the token "ci-reader" has role VIEWER; createNetwork needs OPERATOR/);
    expect((await cli('tokens', 'list')).stdout).toMatch(/ci-reader\s+VIEWER\s+expires 20\d\d-/);
    expect((await cli('tokens', 'revoke', 'ci-reader')).stdout).toMatch(/token "ci-reader" revoked at/);
    const refused = await cliWith({ CHAINVAULT_TOKEN: secret }, 'networks', 'list');
    expect(refused.stderr).toMatch(/"ci-reader" is revoked/);
    const audit = await cli('--json', 'audit', 'list', '--actor', 'ci-reader');
    const events = JSON.parse(audit.stdout) as { action: string; outcome: string }[];
    expect(events).toEqual(expect.arrayContaining([expect.objectContaining({ action: 'api.createNetwork', outcome: 'refused' }), expect.objectContaining({ action: 'auth.refused', outcome: 'refused' })]));
  });

  it('says where it looked when no server answers', async () => {
    const result = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [BIN, 'networks', 'list'], { env: { ...process.env, CHAINVAULT_URL: 'http://127.0.0.1:9' } }, (error, _out, stderr) =>
        resolve({ code: error ? 1 : 0, stderr }),
      ),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/no chainvault server answers at http:\/\/127\.0\.0\.1:9/);
  });
});
