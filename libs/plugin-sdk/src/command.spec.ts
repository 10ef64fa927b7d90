import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCommandRunner } from './command';
import { PluginError } from './errors';

/** True while `pid` runs; a zombie waiting to be reaped counts as gone. */
function isRunning(pid: number): boolean {
  if (existsSync('/proc')) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function failure(promise: Promise<unknown>): Promise<PluginError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof PluginError)) throw new Error(`expected a PluginError, got ${String(error)}`);
  return error;
}

describe('createCommandRunner', () => {
  const runner = createCommandRunner();

  it('runs a program without a shell and captures what it prints', async () => {
    const chunks: string[] = [];
    const result = await runner.run('sh', ['-c', 'printf "%s\\n" "$1"; printf warning >&2', 'sh', 'one $HOME; two'], {
      onStdout: (chunk) => chunks.push(chunk),
    });
    expect(result).toEqual({ exitCode: 0, stdout: 'one $HOME; two\n', stderr: 'warning' });
    expect(chunks.join('')).toBe('one $HOME; two\n');
  });

  it('passes input, environment and working directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chainvault-command-'));
    try {
      const result = await runner.run('sh', ['-c', 'pwd; echo "$CHAINVAULT_TEST"; cat'], {
        cwd: dir,
        env: { CHAINVAULT_TEST: 'from env' },
        input: 'from stdin',
      });
      expect(result.stdout).toBe(`${await realpath(dir)}\nfrom env\nfrom stdin`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("hands a command only the basics of the server's environment (never its secrets) and what the plugin sets", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      CHAINVAULT_SECRET_KEY: 'key-value',
      CHAINVAULT_TOKEN: 'token-value',
      CHAINVAULT_DATABASE_URL: 'postgres://u:pw@db/x',
      CHAINVAULT_S3_PASSWORD: 'password-value',
      CHAINVAULT_PORT: '4100',
      PATH_FOR_COMMAND_TEST: 'kept',
    });
    try {
      const { stdout } = await runner.run('sh', ['-c', 'env'], { env: { CHAINVAULT_TEST: 'given', PATH_FOR_COMMAND_TEST: undefined } });
      const names = stdout.split('\n').map((line) => line.split('=')[0]);
      expect(names).toEqual(expect.arrayContaining(['CHAINVAULT_TEST', 'PATH']));
      for (const withheld of ['CHAINVAULT_SECRET_KEY', 'CHAINVAULT_TOKEN', 'CHAINVAULT_DATABASE_URL', 'CHAINVAULT_S3_PASSWORD', 'CHAINVAULT_PORT', 'PATH_FOR_COMMAND_TEST']) {
        expect(names).not.toContain(withheld);
      }
      for (const value of ['key-value', 'token-value', 'pw@db', 'password-value']) expect(stdout).not.toContain(value);
      // Without any env option too.
      const plain = (await runner.run('sh', ['-c', 'env'])).stdout;
      expect(plain).toContain(`PATH=${process.env.PATH}`);
      expect(plain).not.toMatch(/CHAINVAULT_|token-value/);
    } finally {
      process.env = saved;
    }
  });

  it('treats the exit codes it is told to as success', async () => {
    await expect(runner.run('sh', ['-c', 'exit 1'], { okExitCodes: [0, 1] })).resolves.toMatchObject({ exitCode: 1 });
  });

  it('throws COMMAND_FAILED on a non-zero exit, with the command, the code and the tail of stderr', async () => {
    const script = 'for i in 1 2 3 4 5 6 7; do echo "line-$i" >&2; done; exit 3';
    const error = await failure(runner.run('sh', ['-c', script]));
    expect(error.code).toBe('COMMAND_FAILED');
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ exitCode: 3 });
    expect(error.message).toContain(`sh -c ${script} exited with code 3`);
    expect(error.message).toContain('line-3\nline-4\nline-5\nline-6\nline-7');
    expect(error.message).not.toContain('line-2');
  });

  it('says which signal killed a program', async () => {
    const error = await failure(runner.run('sh', ['-c', 'kill -TERM $$']));
    expect(error.code).toBe('COMMAND_FAILED');
    expect(error.message).toContain('was killed by SIGTERM');
  });

  it('throws COMMAND_FAILED naming a program that does not exist', async () => {
    const error = await failure(runner.run('chainvault-no-such-program', ['--version']));
    expect(error.code).toBe('COMMAND_FAILED');
    expect(error.message).toContain('could not start chainvault-no-such-program');
  });

  it('kills a program that runs past its timeout, promptly, with a retryable TIMEOUT', async () => {
    const started = Date.now();
    const error = await failure(runner.run('sleep', ['30'], { timeoutMs: 200 }));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(error.code).toBe('TIMEOUT');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('sleep 30 did not finish within 200 ms');
  });

  it('on timeout also kills the processes the program started', async () => {
    let childPid = 0;
    const started = Date.now();
    const error = await failure(
      runner.run('sh', ['-c', 'sleep 30 & echo $!; wait'], {
        timeoutMs: 500,
        onStdout: (chunk) => {
          childPid = Number.parseInt(chunk, 10);
        },
      }),
    );
    expect(error.code).toBe('TIMEOUT');
    // The background sleep holds the output pipe: had it survived, the run would have lasted 30 s.
    expect(Date.now() - started).toBeLessThan(3000);
    expect(childPid).toBeGreaterThan(0);
    for (let i = 0; i < 50 && isRunning(childPid); i += 1) await new Promise((r) => setTimeout(r, 20));
    expect(isRunning(childPid)).toBe(false);
  });

  it('stops a running program with ABORTED when the signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 100);
    const error = await failure(createCommandRunner(controller.signal).run('sleep', ['30']));
    expect(error.code).toBe('ABORTED');
    expect(error.retryable).toBe(false);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('does not start a program when the signal is already aborted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chainvault-command-'));
    try {
      const controller = new AbortController();
      controller.abort();
      const error = await failure(createCommandRunner(controller.signal).run('touch', [join(dir, 'ran')]));
      expect(error.code).toBe('ABORTED');
      expect(existsSync(join(dir, 'ran'))).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
