/**
 * Machines over real OpenSSH servers on loopback: two sshd processes, each its own "machine"
 * with its own host key and folders. Commands, binary streams, files, rsync both ways, pinned
 * host keys, dropped connections, and what a child process inherits.
 */
import { startSshd, type RunningSshd } from '@chainvault/testing';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PluginError } from './errors';
import { createMachineProvider, type HostMachineProvider } from './machine-provider';
import type { SshMachineConfig } from './machines';

jest.setTimeout(60_000);

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function failure(promise: Promise<unknown>): Promise<PluginError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof PluginError)) throw new Error(`expected a PluginError, got ${String(error)}`);
  return error;
}

function running(pattern: string): boolean {
  try {
    execFileSync('pgrep', ['-f', pattern]);
    return true;
  } catch {
    return false;
  }
}

describe('machines over SSH (real sshd on loopback)', () => {
  let alpha: RunningSshd;
  let beta: RunningSshd;
  let local: string;
  let logs: string[];
  let provider: HostMachineProvider;
  const machineOf = (sshd: RunningSshd, overrides: Partial<SshMachineConfig> = {}): SshMachineConfig => ({
    kind: 'ssh',
    host: sshd.host,
    port: sshd.port,
    user: sshd.username,
    privateKey: sshd.privateKey,
    hostKeyFingerprint: sshd.hostKeySha256,
    ...overrides,
  });
  const newProvider = (signal?: AbortSignal) =>
    createMachineProvider({ signal, tempDir: join(local, 'machines'), log: { info: (m) => logs.push(m), warn: (m) => logs.push(`warn: ${m}`), error: (m) => logs.push(`error: ${m}`) } });

  beforeAll(async () => {
    [alpha, beta] = await Promise.all([startSshd(), startSshd()]);
  });
  afterAll(async () => {
    await Promise.all([alpha?.stop(), beta?.stop()]);
  });
  beforeEach(async () => {
    local = await mkdtemp(join(tmpdir(), 'chainvault-machines-'));
    logs = [];
    provider = newProvider();
  });
  afterEach(async () => {
    await provider.close();
    await rm(local, { recursive: true, force: true });
  });

  it('runs an argv as it is (no shell), with a working directory, variables and input, and logs it', async () => {
    const machine = await provider.get(machineOf(alpha));
    expect(machine.name).toBe(`${alpha.username}@127.0.0.1:${alpha.port}`);
    const result = await machine.run(['sh', '-c', 'pwd; printf "%s|" "$1" "$GREETING"; cat', 'sh', "it's $HOME; `x` \"q\""], { cwd: alpha.root, env: { GREETING: 'hello there' }, input: 'from stdin' });
    expect(result).toEqual({ exitCode: 0, stdout: `${alpha.root}\nit's $HOME; \`x\` "q"|hello there|from stdin`, stderr: '' });
    expect(logs.join('\n')).toContain(`${machine.name}$ sh -c`);
    expect(logs.join('\n')).toMatch(/exit 0 after/);
    // A shell only when asked for: the first word is then a command line.
    expect((await machine.run(['echo "$0 $1" | tr a-z A-Z', 'first'], { shell: true })).stdout).toBe('SH FIRST\n');
    expect((await machine.run(['echo', '$HOME', '*'])).stdout).toBe('$HOME *\n');
  });

  it('fails a command with its exit code and the tail of what it printed, and accepts the exit codes it is told', async () => {
    const machine = await provider.get(machineOf(alpha));
    const error = await failure(machine.run(['sh', '-c', 'echo "disk on fire" >&2; exit 3']));
    expect(error.code).toBe('COMMAND_FAILED');
    expect(error.message).toContain('exited with code 3: disk on fire');
    expect(error.message).toContain(machine.name);
    expect((await machine.run(['sh', '-c', 'exit 3'], { okExitCodes: [0, 3] })).exitCode).toBe(3);
    const missing = await failure(machine.run(['no-such-program-here']));
    expect(missing.message).toMatch(/exited with code 127/);
  });

  it('streams binary data both ways without changing a byte', async () => {
    const machine = await provider.get(machineOf(alpha));
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const child = machine.spawn(['sh', '-c', 'cat | gzip -1 | gzip -d']);
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stdin.end(data);
    expect((await child.done).exitCode).toBe(0);
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(data));
  });

  it('leaves out what a login prints before the command, and still kills the command past its timeout', async () => {
    const noisy = await startSshd({ loginNoise: 'pyenv: cannot rehash: the shell start-up file complains' });
    try {
      const machine = await provider.get(machineOf(noisy));
      expect(await machine.run(['sh', '-c', 'echo out; echo err >&2'])).toEqual({ exitCode: 0, stdout: 'out\n', stderr: 'err\n' });
      const error = await failure(machine.run(['sh', '-c', 'echo "disk on fire" >&2; exit 3']));
      expect(error.message).toMatch(/exited with code 3: disk on fire$/);
      const started = Date.now();
      expect((await failure(machine.run(['sleep', '76.123'], { timeoutMs: 500 }))).code).toBe('TIMEOUT');
      expect(Date.now() - started).toBeLessThan(5_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(running('sleep 76.123')).toBe(false);
    } finally {
      await noisy.stop();
    }
  });

  it('kills a command past its timeout on the machine itself, and stops one when the job is cancelled', async () => {
    const machine = await provider.get(machineOf(alpha));
    const started = Date.now();
    const timeout = await failure(machine.run(['sleep', '77.123'], { timeoutMs: 500 }));
    expect(timeout.code).toBe('TIMEOUT');
    expect(timeout.retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(running('sleep 77.123')).toBe(false);

    const controller = new AbortController();
    const cancellable = newProvider(controller.signal);
    try {
      const remote = await cancellable.get(machineOf(alpha));
      const run = remote.run(['sleep', '78.123']);
      setTimeout(() => controller.abort(), 300);
      expect((await failure(run)).code).toBe('ABORTED');
      await new Promise((r) => setTimeout(r, 300));
      expect(running('sleep 78.123')).toBe(false);
      expect((await failure(remote.run(['true']))).code).toBe('ABORTED');
    } finally {
      await cancellable.close();
    }
  });

  it('reads, writes and lists files, creating folders, and says plainly what is missing', async () => {
    const machine = await provider.get(machineOf(alpha));
    const blob = randomBytes(200_000);
    await machine.writeFile(join(alpha.root, 'a/b/blob.bin'), blob, { mode: 0o600 });
    await machine.writeFile(join(alpha.root, 'a/note.txt'), 'note');
    expect(sha256(await machine.readFile(join(alpha.root, 'a/b/blob.bin')))).toBe(sha256(blob));
    expect(sha256(await readFile(join(alpha.root, 'a/b/blob.bin')))).toBe(sha256(blob));
    const entries = await machine.list(join(alpha.root, 'a'));
    expect(entries.map(({ name, type, size }) => ({ name, type, size }))).toEqual([
      { name: 'b', type: 'directory', size: expect.any(Number) },
      { name: 'note.txt', type: 'file', size: 4 },
    ]);
    expect((await machine.stat(join(alpha.root, 'a/b/blob.bin')))?.mode).toBe(0o600);
    expect(await machine.stat(join(alpha.root, 'nothing-here'))).toBeNull();
    const missing = await failure(machine.readFile(join(alpha.root, 'nothing-here')));
    expect(missing.message).toBe(`${machine.name}: could not read ${join(alpha.root, 'nothing-here')}: no such file or directory`);
  });

  it('rsyncs a folder off the machine and onto another, the second run moving only what changed', async () => {
    const source = join(alpha.root, 'data');
    await mkdir(join(source, 'db'), { recursive: true });
    const big = randomBytes(2 * 1024 * 1024);
    await writeFile(join(source, 'db', '000001.sst'), big);
    await writeFile(join(source, 'db', 'CURRENT'), 'MANIFEST-000001\n');
    await writeFile(join(source, 'name with spaces.txt'), 'x');
    const a = await provider.get(machineOf(alpha));
    const mirror = join(local, 'mirror');

    const first = await a.rsyncFrom(source, mirror);
    expect(first.filesTransferred).toBe(3);
    expect(first.bytesMoved).toBeGreaterThanOrEqual(big.length);
    expect(sha256(await readFile(join(mirror, 'db', '000001.sst')))).toBe(sha256(big));

    await writeFile(join(source, 'db', 'CURRENT'), 'MANIFEST-000002\n');
    // Same size, maybe the same second: a later mtime, as a real rewrite a moment later has (rsync's quick check compares both).
    await utimes(join(source, 'db', 'CURRENT'), new Date(), new Date(Date.now() + 10_000));
    await rm(join(source, 'name with spaces.txt'));
    const second = await a.rsyncFrom(source, mirror);
    expect(second).toMatchObject({ filesTransferred: 1, totalBytes: big.length + 16 });
    expect(second.bytesMoved).toBeLessThan(1024);
    expect(await readFile(join(mirror, 'db', 'CURRENT'), 'utf8')).toBe('MANIFEST-000002\n');
    await expect(readFile(join(mirror, 'name with spaces.txt'))).rejects.toThrow(/ENOENT/);

    // And back, to another machine: a restore.
    const b = await provider.get(machineOf(beta));
    const target = join(beta.root, 'restored', 'data');
    const back = await b.rsyncTo(mirror, target);
    expect(back.filesTransferred).toBe(2);
    expect(sha256(await readFile(join(target, 'db', '000001.sst')))).toBe(sha256(big));
    expect(logs.join('\n')).toMatch(/rsync .*: 1 files, \d+ bytes moved of \d+/);
  });

  it("sends HTTP requests from the machine's side (an agent on its loopback), through the SSH connection", async () => {
    const seen: string[] = [];
    const agent = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${req.headers['content-type'] ?? '-'} ${body}`);
        if (req.url?.startsWith('/slow')) return; // never answers
        res.writeHead(req.url?.includes('action=stop') ? 200 : 404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: req.url?.includes('action=stop') ? 'stopped' : 'unknown' }));
      });
    });
    await new Promise<void>((resolve) => agent.listen(0, '127.0.0.1', resolve));
    const port = (agent.address() as AddressInfo).port;
    try {
      for (const config of [machineOf(alpha), { kind: 'local' as const }]) {
        const machine = await provider.get(config);
        const stopped = await machine.request(`http://127.0.0.1:${port}/api/node/management?action=stop`, { method: 'POST', body: { reason: 'backup' } });
        expect(stopped).toEqual({ status: 200, body: '{"status":"stopped"}' });
        expect((await machine.request(`http://127.0.0.1:${port}/nothing`)).status).toBe(404);
        const slow = await machine.request(`http://127.0.0.1:${port}/slow`, { timeoutMs: 500 }).catch((e: PluginError) => e);
        expect(slow).toMatchObject({ code: 'TIMEOUT', message: expect.stringContaining(`GET http://127.0.0.1:${port}/slow on ${machine.name} got no answer`) });
      }
      expect(seen.filter((l) => l.startsWith('POST'))).toEqual([
        'POST /api/node/management?action=stop application/json {"reason":"backup"}',
        'POST /api/node/management?action=stop application/json {"reason":"backup"}',
      ]);
      expect(logs.join('\n')).toContain(`POST http://127.0.0.1:${port}/api/node/management?action=stop on ${machineOf(alpha).user}@127.0.0.1:${alpha.port} → 200`);
      // Nothing listens there: refused, and said so.
      agent.close();
      const machine = await provider.get(machineOf(alpha));
      const refused = await machine.request(`http://127.0.0.1:${port}/api/node/management?action=start`, { method: 'POST' }).catch((e: PluginError) => e);
      expect(refused).toMatchObject({ code: 'UNREACHABLE' });
    } finally {
      agent.close();
    }
  });

  it('refuses a machine whose host key is not the pinned one, showing both fingerprints', async () => {
    // beta's fingerprint pinned, alpha's server answering: a changed key. Nothing logs in.
    const accepted = () => (alpha.log().match(/Accepted publickey/g) ?? []).length;
    const before = accepted();
    const error = await failure(provider.get(machineOf(alpha, { hostKeyFingerprint: beta.hostKeySha256 })));
    expect(error.code).toBe('UNREACHABLE');
    expect(error.message).toContain(`showed host key ${alpha.hostKeySha256}`);
    expect(error.message).toContain(`pins ${beta.hostKeySha256}`);
    expect(accepted()).toBe(before);
  });

  it('fails a step cleanly when the connection is killed under it, and reconnects for the next one', async () => {
    const machine = await provider.get(machineOf(beta));
    const run = machine.run(['sleep', '79.123']);
    await new Promise((r) => setTimeout(r, 500));
    await beta.dropConnections();
    const error = await failure(run);
    expect(error.code).toBe('UNREACHABLE');
    expect(error.message).toMatch(/connection .*lost/);
    expect((await machine.run(['echo', 'back'])).stdout).toBe('back\n');
  });

  it('reuses one connection for every step of a job and closes it at the end', async () => {
    const accepted = () => (beta.log().match(/Accepted publickey/g) ?? []).length;
    const before = accepted();
    const machine = await provider.get(machineOf(beta));
    expect(await provider.get(machineOf(beta))).toBe(machine);
    await machine.run(['true']);
    await machine.writeFile(join(beta.root, 'reuse.txt'), 'x');
    await machine.list(beta.root);
    expect(accepted() - before).toBe(1);
    await provider.close();
    await expect(provider.get(machineOf(beta))).rejects.toThrow(/job has ended/);
    await expect(machine.run(['true'])).rejects.toThrow(/closed/);
  });

  it('gives local commands nothing of the server environment but the basics', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { CHAINVAULT_SECRET_KEY: 'c2VjcmV0LWtleQ==', CHAINVAULT_DATABASE_URL: 'postgres://u:hunter2@db/x', SOME_OTHER_SETTING: 'x' });
    try {
      const machine = await provider.get({ kind: 'local' });
      const environ = (await machine.run(['cat', '/proc/self/environ'])).stdout.split('\0').filter(Boolean);
      const names = environ.map((entry) => entry.split('=')[0]);
      expect(names).toContain('PATH');
      expect(names).not.toContain('CHAINVAULT_SECRET_KEY');
      expect(names).not.toContain('CHAINVAULT_DATABASE_URL');
      expect(names).not.toContain('SOME_OTHER_SETTING');
      expect(environ.join('\n')).not.toMatch(/hunter2|c2VjcmV0/);
    } finally {
      process.env = saved;
    }
  });
});
