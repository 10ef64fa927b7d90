/**
 * Running external programs (rsync, ldb, geth, agent CLIs) from a plugin, with a timeout,
 * cancellation and an error that says what ran and what it printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { PluginError } from './errors';

export interface CommandOptions {
  cwd?: string;
  /**
   * Variables set (or, when undefined, removed) on top of the few the command inherits (PATH,
   * HOME, USER, the locale, TZ, TMPDIR). Nothing else of the server's environment reaches it (not
   * its key, tokens or database URL); pass what the command needs here.
   */
  env?: Record<string, string | undefined>;
  /** Kill the command (and its children) after this long. Default: 10 minutes. */
  timeoutMs?: number;
  /** Written to the command's standard input. */
  input?: string | Uint8Array;
  /** Exit codes that count as success. Default: [0]. */
  okExitCodes?: number[];
  /** Called with each chunk of standard output as it arrives. */
  onStdout?: (chunk: string) => void;
}

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface CommandRunner {
  /** Runs `command` with `args` (no shell). Throws a PluginError on failure, timeout or abort. */
  run(command: string, args: string[], options?: CommandOptions): Promise<CommandResult>;
}

const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;
const MAX_CAPTURE = 1024 * 1024;

/** Chainvault variables that hold a secret or grant access: the secret-field key, tokens, the catalog's URL. */
const WITHHELD = /TOKEN|SECRET|PASSWORD|PASSPHRASE|KEY|CREDENTIAL|AUTH|DATABASE|URL|DSN/i;
/** The server's own credentials from the standard variables of the libraries it uses (S3, PostgreSQL). */
const SERVER_CREDENTIALS = new Set(['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'PGPASSWORD']);

/**
 * True for a variable no program the server or a plugin starts may inherit. The host scrubs
 * its own children's environment by this same rule.
 */
export function isWithheldVariable(name: string): boolean {
  return (/^CHAINVAULT_/i.test(name) && WITHHELD.test(name.slice('CHAINVAULT_'.length))) || SERVER_CREDENTIALS.has(name.toUpperCase());
}

/**
 * The variables a child process gets from the server's environment: what programs need to
 * find themselves and speak the right language, nothing else. Everything a command needs beyond
 * these is passed on purpose (`env`), so the server's key, database URL and credentials never leak.
 */
const INHERITED = /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TMPDIR|TERM)$/;

/**
 * The environment of a program the server or a plugin starts: the inherited basics of the
 * server's environment (never a withheld variable), with `extra` on top (undefined removes).
 */
export function commandEnvironment(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && INHERITED.test(name) && !isWithheldVariable(name)) env[name] = value;
  }
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/** A {@link CommandRunner} whose commands are all killed when `signal` aborts. */
/** Kills a child started detached and every process of its group (what it started in turn). */
export function killProcessGroup(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

export function createCommandRunner(signal?: AbortSignal): CommandRunner {
  return { run: (command, args, options) => runCommand(command, args, { ...options }, signal) };
}

function runCommand(command: string, args: string[], options: CommandOptions, signal?: AbortSignal): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const okExitCodes = options.okExitCodes ?? [0];
  const shown = [command, ...args].join(' ');
  if (signal?.aborted) {
    return Promise.reject(new PluginError('ABORTED', `not started, the job was cancelled: ${shown}`));
  }
  return new Promise((resolve, reject) => {
    // A process group of its own, so a timeout kills the children it started too.
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: commandEnvironment(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    let ended: 'timeout' | 'aborted' | undefined;
    const kill = (why: 'timeout' | 'aborted') => {
      ended = why;
      killProcessGroup(child);
    };
    const timer = setTimeout(() => kill('timeout'), timeoutMs);
    const onAbort = () => kill('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      options.onStdout?.(chunk);
      if (stdout.length < MAX_CAPTURE) stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < MAX_CAPTURE) stderr += chunk;
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? undefined);

    const finish = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (error) => {
      finish();
      reject(new PluginError('COMMAND_FAILED', `could not start ${command}: ${error.message}`, { cause: error }));
    });
    child.on('close', (code, killedBy) => {
      finish();
      if (ended === 'timeout') {
        reject(new PluginError('TIMEOUT', `${shown} did not finish within ${timeoutMs} ms and was killed`, { retryable: true }));
      } else if (ended === 'aborted') {
        reject(new PluginError('ABORTED', `${shown} was stopped because the job was cancelled`));
      } else if (code !== null && okExitCodes.includes(code)) {
        resolve({ exitCode: code, stdout, stderr });
      } else {
        const how = code === null ? `was killed by ${killedBy}` : `exited with code ${code}`;
        const tail = stderr.trim().split('\n').slice(-5).join('\n');
        reject(
          new PluginError('COMMAND_FAILED', `${shown} ${how}${tail ? `: ${tail}` : ''}`, {
            details: { exitCode: code, signal: killedBy },
          }),
        );
      }
    });
  });
}
