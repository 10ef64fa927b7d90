/**
 * The CLI covers the API (issue 15, part 4), run as a user types it against a real server:
 * schedules with cron, time zone and windows, retention flags, an S3 destination whose secret
 * is read from a file and never printed, pause and resume, updates and deletes of each noun,
 * the audit log, jobs paged, a failing `backups run --wait` that shows each attempt's error and
 * no phantom backup id, relative paths, CHAINVAULT_URL without a scheme, and `serve` stopped by
 * SIGTERM.
 */
import { compareTrees, startS3rver, startSshd, writeSampleTree, type RunningS3rver, type RunningSshd } from '@chainvault/testing';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { startTestServer, type TestServer } from './support/test-server';

const BIN = join(__dirname, '..', '..', 'cli', 'bin', 'chainvault.js');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

describe('the CLI over the whole API', () => {
  let server: TestServer;
  let s3: RunningS3rver;
  let sshd: RunningSshd;
  let work: string;
  const s3Secret = 'a-cli-secret-that-must-not-show';

  /** Runs the built CLI in `work`, as a user would; `input` is piped to its stdin. */
  const run = (args: string[], { env = {}, input }: { env?: Record<string, string | undefined>; input?: string } = {}) =>
    new Promise<Run>((resolve) => {
      const { CHAINVAULT_TOKEN: _t, CHAINVAULT_DATA_DIR: _d, CHAINVAULT_URL: _u, ...rest } = process.env;
      const merged = Object.entries({ ...rest, CHAINVAULT_URL: server.url, CHAINVAULT_TOKEN: server.token, ...env }).filter(([, value]) => value !== undefined);
      const child = spawn(process.execPath, [BIN, ...args], { cwd: work, env: Object.fromEntries(merged) });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.stdin.end(input ?? '');
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
  const cli = (...args: string[]) => run(args);
  const json = async (...args: string[]) => {
    const result = await run(['--json', ...args]);
    if (result.code !== 0) throw new Error(`chainvault ${args.join(' ')} failed: ${result.stderr}`);
    return JSON.parse(result.stdout);
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-cli-lifecycle-'));
    [s3, sshd] = await Promise.all([startS3rver(), startSshd()]);
    server = await startTestServer({ config: { retryBackoffMs: 200, jobMaxAttempts: 3 } });
    await writeSampleTree(join(work, 'source'), { bigFileBytes: 256 * 1024 });
    expect((await cli('networks', 'create', '--name', 'lab', '--protocol', 'directory')).code).toBe(0);
    // A relative path in --config is the current directory's.
    expect((await cli('nodes', 'register', '--network', 'lab', '--name', 'files', '--plugin', 'directory', '--config', '{"path": "./source"}')).code).toBe(0);
  });

  afterAll(async () => {
    await server?.close();
    await Promise.all([s3?.stop(), sshd?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  it('takes relative paths from the current directory: node configs, destinations and restore targets', async () => {
    const nodes = await json('nodes', 'list');
    expect(nodes.find((n: { name: string }) => n.name === 'files').config.path).toBe(join(work, 'source'));
    expect((await cli('destinations', 'create', 'here', '--path', './repo-here')).code).toBe(0);
    const here = (await json('destinations', 'list')).find((d: { name: string }) => d.name === 'here');
    expect(here.config.path).toBe(join(work, 'repo-here'));

    expect((await cli('policies', 'create', '--name', 'to-here', '--node', 'files', '--method', 'snapshot', '--destination', 'here')).code).toBe(0);
    const job = await json('backups', 'run', 'to-here', '--wait');
    expect(job.status).toBe('COMPLETED');
    const restore = await cli('restore', job.backupId, '--to', './restored-here', '--wait');
    expect(restore).toMatchObject({ code: 0, stdout: expect.stringContaining('(RESTORE) COMPLETED') });
    expect(await compareTrees(join(work, 'source'), join(work, 'restored-here'))).toEqual([]);
  });

  it('creates a policy with a cron schedule in a time zone, windows and retention rules, and shows its next runs on that clock', async () => {
    const created = await cli(
      'policies', 'create', '--name', 'nightly', '--node', 'files', '--method', 'snapshot',
      '--cron', '30 1 * * *', '--time-zone', 'Europe/Berlin',
      '--window', 'MON-FRI 01:00-05:00', '--window', 'SAT,SUN 22:00-06:00',
      '--keep-daily', '7', '--keep-weekly', '4', '--keep-within', '30d',
    );
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const policy = await json('policies', 'show', 'nightly');
    expect(policy).toMatchObject({
      enabled: true,
      schedule: { cron: '30 1 * * *', timeZone: 'Europe/Berlin' },
      maintenanceWindows: [
        { days: ['MON', 'TUE', 'WED', 'THU', 'FRI'], start: '01:00', end: '05:00' },
        { days: ['SAT', 'SUN'], start: '22:00', end: '06:00' },
      ],
      retention: { keepDaily: 7, keepWeekly: 4, keepWithin: '30d', keepLast: null },
    });
    expect(policy.nextFireTimes).toHaveLength(5);
    const shown = (await cli('policies', 'show', 'nightly')).stdout;
    expect(shown).toContain('schedule   cron "30 1 * * *" in Europe/Berlin');
    expect(shown).toContain('windows    MON,TUE,WED,THU,FRI 01:00-05:00; SAT,SUN 22:00-06:00');
    expect(shown).toContain('retention  keep-daily 7, keep-weekly 4, keep-within 30d');
    // Five runs at 01:30 on Berlin's wall clock, whatever the season.
    expect(shown.match(/^ {4}\w{3} \d{4}-\d\d-\d\d 01:30 (CES?T|GMT\+[12])$/gm)).toHaveLength(5);

    const badWindow = await cli('policies', 'create', '--name', 'typo', '--node', 'files', '--method', 'snapshot', '--window', 'MON-FRY 01:00-05:00');
    expect(badWindow.code).not.toBe(0);
    expect(badWindow.stderr).toContain('"FRY" in "MON-FRY 01:00-05:00" is not a weekday; use MON, TUE, WED, THU, FRI, SAT, SUN');
    const badZone = await cli('policies', 'create', '--name', 'typo', '--node', 'files', '--method', 'snapshot', '--preset', 'DAILY', '--time-zone', 'Europe/Berln');
    expect(badZone.code).not.toBe(0);
    expect(badZone.stderr).toMatch(/BAD_USER_INPUT: .*Europe\/Berln/);
    expect((await json('policies', 'list')).map((p: { name: string }) => p.name)).not.toContain('typo');
  });

  it('updates one thing at a time: a preset over the cron keeps the time zone, one rule changes and one goes, windows and schedule removed', async () => {
    const preset = await cli('policies', 'update', 'nightly', '--preset', 'daily');
    expect(preset.code).toBe(0);
    expect((await json('policies', 'show', 'nightly')).schedule).toMatchObject({ preset: 'DAILY', cron: null, timeZone: 'Europe/Berlin' });

    expect((await cli('policies', 'update', 'nightly', '--keep-last', '3', '--keep-daily', 'none', '--window', '* 00:00-06:00')).code).toBe(0);
    let policy = await json('policies', 'show', 'nightly');
    expect(policy.retention).toEqual({ keepLast: 3, keepHourly: null, keepDaily: null, keepWeekly: 4, keepMonthly: null, keepYearly: null, keepWithin: '30d' });
    expect(policy.maintenanceWindows).toEqual([{ days: ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'], start: '00:00', end: '06:00' }]);

    expect((await cli('policies', 'update', 'nightly', '--no-window', '--no-schedule', '--name', 'by-hand')).code).toBe(0);
    policy = await json('policies', 'show', 'by-hand');
    expect(policy).toMatchObject({ schedule: null, maintenanceWindows: [], nextFireTimes: [] });
    expect((await cli('policies', 'show', 'by-hand')).stdout).toContain('no schedule (runs by hand)');

    const nothing = await cli('policies', 'update', 'by-hand');
    expect(nothing.code).not.toBe(0);
    expect(nothing.stderr).toContain('nothing to change');
    const zoneOnly = await cli('policies', 'update', 'by-hand', '--time-zone', 'Asia/Tokyo');
    expect(zoneOnly.stderr).toContain('the policy has no schedule yet: give --preset');
  });

  it('pauses and resumes a policy, and the audit log lists both', async () => {
    expect((await cli('policies', 'pause', 'by-hand')).stdout).toBe('policy by-hand paused\n');
    expect((await cli('policies', 'list')).stdout).toMatch(/by-hand {2}directory\/snapshot \(paused\)/);
    expect((await json('policies', 'show', 'by-hand')).enabled).toBe(false);
    expect((await cli('policies', 'resume', 'by-hand')).stdout).toBe('policy by-hand resumed\n');
    expect((await json('policies', 'show', 'by-hand')).enabled).toBe(true);

    const events = await json('audit', 'list', '--action', 'policy.pause', '--first', '5');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: 'policy.pause', actor: 'admin' });
    expect((await cli('audit', 'list', '--action', 'policy.resume')).stdout).toMatch(/admin\s+policy\.resume/);
    // --first pages: two events of many.
    expect(await json('audit', 'list', '--first', '2')).toHaveLength(2);
  });

  it('applies retention by hand, with a dry run first', async () => {
    for (let i = 0; i < 2; i++) expect((await cli('backups', 'run', 'by-hand', '--wait')).code).toBe(0);
    expect((await cli('policies', 'update', 'by-hand', '--keep-last', '1', '--keep-weekly', 'none', '--keep-within', 'none')).code).toBe(0);
    const dry = await cli('policies', 'retention', 'by-hand', '--dry-run');
    expect(dry.stdout).toMatch(/^1 kept, 1 would be deleted \(dry run\)$/m);
    expect((await json('backups', 'list', '--policy', 'by-hand')).totalCount).toBe(2);
    expect((await cli('policies', 'retention', 'by-hand')).stdout).toMatch(/^1 kept, 1 deleted$/m);
    expect((await json('backups', 'list', '--policy', 'by-hand')).totalCount).toBe(1);
  });

  it('creates an S3 destination with the secret read from a file and never shows it; rotates it from stdin; deletes it', async () => {
    await writeFile(join(work, 's3-secret'), `${s3Secret}\n`, { mode: 0o600 });
    const created = await cli('destinations', 'create', 'offsite', '--kind', 's3', '--endpoint', s3.endpoint, '--bucket', s3.bucket, '--prefix', 'cli', '--access-key-id', s3.accessKeyId, '--secret-key-file', 's3-secret');
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const listed = await cli('--json', 'destinations', 'list');
    expect(listed.stdout).not.toContain(s3Secret);
    const offsite = JSON.parse(listed.stdout).find((d: { name: string }) => d.name === 'offsite');
    expect(offsite).toMatchObject({ kind: 'S3', config: { bucket: s3.bucket, prefix: 'cli', endpoint: s3.endpoint, accessKeyId: s3.accessKeyId }, secretFields: ['secretAccessKey'] });
    expect((await cli('destinations', 'list')).stdout).toMatch(/offsite {2}S3 .* secrets set: secretAccessKey/);
    expect((await cli('--json', 'audit', 'list', '--first', '200')).stdout).not.toContain(s3Secret);

    // Never on the command line: without a file (and no terminal to ask on) it is refused.
    const noSecret = await cli('destinations', 'create', 'nosecret', '--kind', 's3', '--endpoint', s3.endpoint, '--bucket', s3.bucket, '--access-key-id', s3.accessKeyId);
    expect(noSecret.code).not.toBe(0);
    expect(noSecret.stderr).toContain('--access-key-id needs its secret: --secret-key-file <file>, or --secret-key-file -');
    const wrongKind = await cli('destinations', 'create', 'mixed', '--path', './x', '--bucket', 'b');
    expect(wrongKind.stderr).toContain('--bucket is for s3 destinations, not local');

    // Rotated from stdin: the sealed secret changes, the config stays.
    const sealed = async () => (await server.app.get(DataSource).query(`SELECT secrets FROM destination WHERE id = '${offsite.id}'`))[0].secrets as string;
    const before = await sealed();
    const rotated = await run(['destinations', 'update', 'offsite', '--secret-key-file', '-'], { input: 'a-rotated-secret\n' });
    expect(rotated).toMatchObject({ code: 0, stdout: `destination offsite ${offsite.id} updated\n` });
    expect(await sealed()).not.toBe(before);
    expect((await json('destinations', 'list')).find((d: { name: string }) => d.name === 'offsite').config).toEqual(offsite.config);

    // A destination a policy writes to and that holds backups stays; one without them goes.
    const busy = await cli('destinations', 'delete', 'here');
    expect(busy.code).not.toBe(0);
    expect(busy.stderr).toMatch(/CONFLICT: .*/);
    expect((await json('destinations', 'list')).map((d: { name: string }) => d.name)).toContain('here');
    expect((await cli('destinations', 'delete', 'offsite')).stdout).toBe('destination offsite deleted\n');
    expect((await json('destinations', 'list')).map((d: { name: string }) => d.name)).not.toContain('offsite');

    // --destination given to update replaces the list.
    expect((await cli('policies', 'update', 'by-hand', '--destination', 'local', '--destination', 'here')).code).toBe(0);
    expect((await cli('policies', 'show', 'by-hand')).stdout).toContain('writes to  local, here');
  });

  it('creates an SFTP destination from a key file, with the repository passphrase typed at a hidden prompt on a terminal', async () => {
    await writeFile(join(work, 'id_test'), sshd.privateKey, { mode: 0o600 });
    const passphrase = 'typed-at-the-prompt-only';
    const args = ['destinations', 'create', 'vault', '--kind', 'sftp', '--host', sshd.host, '--port', String(sshd.port), '--user', sshd.username,
      '--path', join(sshd.root, 'vault'), '--private-key-file', 'id_test', '--host-key-sha256', sshd.hostKeySha256, '--passphrase-file', '-'];
    // `script` gives the CLI a terminal, as a user at a shell has.
    const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const { CHAINVAULT_DATA_DIR: _d, ...rest } = process.env;
    const child = spawn('script', ['-qfc', quoted, '/dev/null'], { cwd: work, env: { ...rest, CHAINVAULT_URL: server.url, CHAINVAULT_TOKEN: server.token } });
    let screen = '';
    child.stdout.on('data', (d) => {
      screen += d;
      if (screen.endsWith('Repository passphrase: ')) child.stdin.write(`${passphrase}\r`);
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(screen).toContain('Repository passphrase: ');
    expect(screen).not.toContain(passphrase);
    expect(screen).toMatch(/destination vault \S+/);
    expect(code).toBe(0);
    const vault = (await json('destinations', 'list')).find((d: { name: string }) => d.name === 'vault');
    expect(vault).toMatchObject({ kind: 'SFTP', config: { host: sshd.host, port: sshd.port, username: sshd.username, path: join(sshd.root, 'vault') } });
    expect([...vault.secretFields].sort()).toEqual(['passphrase', 'privateKey']);
    expect((await cli('--json', 'destinations', 'list')).stdout).not.toContain('PRIVATE KEY');
    expect((await cli('destinations', 'delete', 'vault')).code).toBe(0);
  });

  it('deletes a node only once no policy uses it, and a policy with or without its backups', async () => {
    const refused = await cli('nodes', 'delete', 'files');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/CONFLICT: .*(by-hand|to-here)/);
    const pluginInUse = await cli('plugins', 'uninstall', 'directory');
    expect(pluginInUse.code).not.toBe(0);
    expect((await json('plugins', 'list')).find((p: { id: string }) => p.id === 'directory').status).toBe('LOADED');

    const kept = (await json('backups', 'list', '--policy', 'to-here')).nodes.map((b: { id: string }) => b.id);
    expect((await cli('policies', 'delete', 'to-here')).stdout).toBe('policy to-here deleted; its backups are kept\n');
    expect((await cli('policies', 'delete', 'by-hand', '--delete-backups')).stdout).toBe('policy by-hand deleted with its backups\n');
    expect((await cli('nodes', 'delete', 'files')).stdout).toBe('node files deleted; its backups stay restorable\n');
    // The kept backup is still listed and shown.
    for (const id of kept) expect((await cli('backups', 'show', id)).stdout).toContain(`backup ${id} COMPLETED`);
    const events = await json('audit', 'list', '--action', 'node.delete');
    expect(events.map((e: { action: string }) => e.action)).toEqual(['node.delete']);
  });

  it('lists jobs filtered and page by page', async () => {
    const ids = (jobs: { id: string }[]) => jobs.map((j) => j.id);
    const all = ids(await json('jobs', 'list', '--all'));
    expect(all.length).toBeGreaterThanOrEqual(5);
    expect(new Set(all).size).toBe(all.length);
    expect(ids(await json('jobs', 'list', '--first', '2'))).toEqual(all.slice(0, 2));
    // --all with two per request walks every page to the same list.
    expect(ids(await json('jobs', 'list', '--all', '--first', '2'))).toEqual(all);
    const restores = await json('jobs', 'list', '--kind', 'restore');
    expect(restores.length).toBeGreaterThanOrEqual(1);
    expect(restores.every((j: { kind: string }) => j.kind === 'RESTORE')).toBe(true);
    expect(await json('jobs', 'list', '--since', new Date(Date.now() + 60_000).toISOString())).toEqual([]);
    const badStatus = await cli('jobs', 'list', '--status', 'DONE');
    expect(badStatus.stderr).toContain('--status: "DONE" is not one of QUEUED, RUNNING');
    const shown = await cli('jobs', 'show', restores[0].id);
    expect(shown.stdout).toMatch(/^job \S+ \(RESTORE\) COMPLETED, attempt 1\n/);
    expect(shown.stdout).toMatch(/\nlog:\n {2}\S+ info/);
  });

  it('refuses, as typed, a network on a protocol no plugin serves and a node on a folder that is not there, creating neither', async () => {
    const networksBefore = (await json('networks', 'list')).map((n: { name: string }) => n.name);
    const typo = await cli('networks', 'create', '--name', 'mainnet', '--protocol', 'etherium');
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/no loaded plugin serves protocol "etherium"; the loaded plugins serve: .*\bethereum\b/);
    expect((await json('networks', 'list')).map((n: { name: string }) => n.name)).toEqual(networksBefore);

    const nodesBefore = (await json('nodes', 'list')).map((n: { name: string }) => n.name);
    const missing = await cli('nodes', 'register', '--network', 'lab', '--name', 'nowhere', '--plugin', 'directory', '--config', '{"path": "./not-made-yet"}');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`the node's directory ${join(work, 'not-made-yet')} does not exist`);
    expect((await json('nodes', 'list')).map((n: { name: string }) => n.name)).toEqual(nodesBefore);
  });

  it('shows each failed attempt of a backup as it happens and no backup id when it fails', async () => {
    const gone = join(work, 'going');
    await writeSampleTree(gone, { bigFileBytes: 1024 });
    expect((await cli('nodes', 'register', '--network', 'lab', '--name', 'going', '--plugin', 'directory', '--config', JSON.stringify({ path: gone }))).code).toBe(0);
    expect((await cli('policies', 'create', '--name', 'going-policy', '--node', 'going', '--method', 'snapshot')).code).toBe(0);
    await rm(gone, { recursive: true, force: true });

    const failed = await cli('backups', 'run', 'going-policy', '--wait');
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^job \S+ \(BACKUP\) FAILED\n/);
    expect(failed.stdout).not.toMatch(/^backup /m);
    expect(failed.stdout).toMatch(/^error: .*going/m);
    const jobId = /^job (\S+)/.exec(failed.stdout)?.[1] as string;
    const job = await json('jobs', 'show', jobId);
    // Every attempt's error reached the terminal, once, while it waited.
    const errors = job.log.filter((l: { level: string }) => l.level === 'error').map((l: { message: string }) => `  error: ${l.message}`);
    expect(errors).toHaveLength(job.attempts);
    expect(failed.stderr.split('\n').filter((l) => l.startsWith('  error: '))).toEqual(errors);
    const retries = job.log.filter((l: { message: string }) => /^attempt \d+ of 3 failed/.test(l.message));
    expect(failed.stderr.match(/^ {2}warn: attempt \d+ of 3 failed/gm) ?? []).toHaveLength(retries.length);

    // --json gives no id of a backup that does not exist either.
    const asJson = await run(['--json', 'backups', 'run', 'going-policy', '--wait']);
    expect(asJson.code).toBe(1);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ status: 'FAILED', backupId: null });
  });

  it('understands CHAINVAULT_URL without a scheme and refuses one that is not a URL', async () => {
    const port = new URL(server.url).port;
    expect((await run(['networks', 'list'], { env: { CHAINVAULT_URL: `127.0.0.1:${port}` } })).stdout).toMatch(/ {2}lab {2}\(directory\)/);
    expect((await run(['networks', 'list'], { env: { CHAINVAULT_URL: `localhost:${port}` } })).code).toBe(0);
    const bad = await run(['networks', 'list'], { env: { CHAINVAULT_URL: 'not a url' } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(`chainvault: CHAINVAULT_URL must be the server's address, such as http://127.0.0.1:4800, https://backup.example.com or 127.0.0.1:4800; "not a url" is not a URL\n`);
  });

  it('stops `chainvault serve` on SIGTERM with exit code 0', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createNetServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const dataDir = join(work, 'served');
    const { CHAINVAULT_TOKEN: _t, CHAINVAULT_URL: _u, ...rest } = process.env;
    const child = spawn(process.execPath, [BIN, 'serve'], { cwd: work, env: { ...rest, CHAINVAULT_PORT: String(port), CHAINVAULT_DATA_DIR: dataDir } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 60_000;
    while (!out.includes('chainvault listening on') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(out).toContain(`chainvault listening on http://127.0.0.1:${port}`);
    // Beside the server, the CLI finds its admin token in the data directory.
    const listed = await run(['networks', 'list'], { env: { CHAINVAULT_URL: `127.0.0.1:${port}`, CHAINVAULT_TOKEN: undefined, CHAINVAULT_DATA_DIR: dataDir } });
    expect(listed).toMatchObject({ code: 0, stdout: 'no networks\n' });

    child.kill('SIGTERM');
    expect(await ended).toEqual({ code: 0, signal: null });
    expect(out).toContain('SIGTERM: stopping the server');
    const after = await run(['networks', 'list'], { env: { CHAINVAULT_URL: `127.0.0.1:${port}`, CHAINVAULT_DATA_DIR: dataDir } });
    expect(after.stderr).toContain(`no chainvault server answers at http://127.0.0.1:${port}`);
    expect(await readdir(dataDir)).toContain('admin.token');
  });
});
