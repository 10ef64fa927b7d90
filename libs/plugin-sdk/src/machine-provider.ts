/**
 * The host's side of {@link MachineProvider}: the chainvault host itself through child processes
 * and the file system, and SSH machines through one ssh2 connection per machine per job (commands
 * on exec channels, files over SFTP) plus the system's rsync over OpenSSH for folders. The host
 * key is pinned on every connection, rsync's included.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { PassThrough, Writable, type Duplex } from 'node:stream';
import { Client, type ClientChannel, type SFTPWrapper, type Stats } from 'ssh2';
import { commandEnvironment, createCommandRunner, killProcessGroup, type CommandResult } from './command';
import type { PluginLogger } from './context';
import { PluginError } from './errors';
import {
  machineIdentity,
  type Machine,
  type MachineCommandOptions,
  type MachineConfig,
  type MachineEntry,
  type MachineHttpOptions,
  type MachineHttpResponse,
  type MachineProcess,
  type MachineProvider,
  type RsyncOptions,
  type RsyncReport,
  type SshMachineConfig,
} from './machines';

export interface MachineProviderOptions {
  /** Aborts every command, transfer and connection attempt of the job. */
  signal?: AbortSignal;
  /** The job log: commands run, their output's tail, transfers. */
  log: PluginLogger;
  /** A private folder (created on demand) for the key and known-hosts files rsync's ssh needs. */
  tempDir: string;
}

/** A provider whose connections all close with {@link HostMachineProvider.close}, at the end of the job. */
export interface HostMachineProvider extends MachineProvider {
  close(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;
const RSYNC_TIMEOUT_MS = 60 * 60 * 1000;
const READY_TIMEOUT_MS = 20_000;
const KEEPALIVE_INTERVAL_MS = 10_000;
const MAX_CAPTURE = 1024 * 1024;
const LOGGED_LINES = 5;
/** How long a killed command's channel may take to close before the step gives up on it. */
const KILL_GRACE_MS = 5_000;
const PID_MARKER = 'chainvault-pid:';
/** How much a login may print before the wrapper's pid line before it counts as the command's own output. */
const MAX_LOGIN_NOISE = 64 * 1024;
/** rsync's exit codes for a transfer cut off (I/O timeout, the stream or ssh gone), worth resuming. */
const RSYNC_RESUMABLE = new Set([10, 11, 12, 20, 30, 35, 255]);
/** "Some files vanished before they could be transferred": normal for a live data folder. */
const RSYNC_VANISHED = 24;

export function createMachineProvider(options: MachineProviderOptions): HostMachineProvider {
  const machines = new Map<string, Promise<Machine & { close(): Promise<void> }>>();
  let closed = false;
  return {
    get(config) {
      if (closed) return Promise.reject(new PluginError('FAILED', 'the job has ended: its machine connections are closed'));
      const parsed = checkConfig(config);
      const key = parsed.kind === 'local' ? 'local' : `${parsed.user}@${machineIdentity(parsed)}#${parsed.hostKeyFingerprint}#${fingerprint(Buffer.from(parsed.privateKey))}`;
      let machine = machines.get(key);
      if (!machine) {
        machine = parsed.kind === 'local' ? Promise.resolve(localMachine(options)) : sshMachine(parsed, options, machines.size);
        machines.set(key, machine);
        // A machine that could not be reached is tried again by the next get().
        machine.catch(() => machines.delete(key));
      }
      return machine;
    },
    async close() {
      closed = true;
      const all = [...machines.values()];
      machines.clear();
      await Promise.all(all.map((m) => m.then((machine) => machine.close(), () => undefined)));
    },
  };
}

function checkConfig(config: MachineConfig | undefined): MachineConfig {
  if (config === undefined || config === null) return { kind: 'local' };
  if (config.kind === 'local') return config;
  if (config.kind !== 'ssh') throw new PluginError('INVALID_CONFIG', `machine kind must be "local" or "ssh", got ${JSON.stringify((config as { kind?: unknown }).kind)}`);
  const missing = (['host', 'user', 'privateKey', 'hostKeyFingerprint'] as const).filter((field) => typeof config[field] !== 'string' || config[field] === '');
  if (missing.length > 0) throw new PluginError('INVALID_CONFIG', `SSH machine ${config.host ?? '(no host)'}: ${missing.join(', ')} missing`);
  if (bareFingerprint(config.hostKeyFingerprint) === undefined) {
    throw new PluginError('INVALID_CONFIG', `SSH machine ${config.host}: hostKeyFingerprint must be SHA256: and 43 base64 characters, as \`ssh-keygen -lf\` prints it`);
  }
  return config;
}

/** The base64 of a SHA-256 fingerprint without prefix and padding, or undefined if it is not one. */
function bareFingerprint(value: string): string | undefined {
  const bare = value.trim().replace(/^SHA256:/i, '').replace(/=+$/, '');
  return /^[A-Za-z0-9+/]{43}$/.test(bare) ? bare : undefined;
}

/** How `ssh-keygen -lf` shows a key blob: SHA256: and the unpadded base64 of its SHA-256. */
function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

// ---------------------------------------------------------------------------------------------
// Command lines, output and logging shared by both kinds of machine

/** Quotes one word for a POSIX shell. */
function quote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The argv of a command as the machine runs it: itself, or `sh -c argv[0] sh argv[1…]` when a shell is asked for. */
function commandArgv(argv: string[], options: MachineCommandOptions): string[] {
  if (argv.length === 0 || argv[0] === '') throw new PluginError('INVALID_CONFIG', 'a command needs at least a program name');
  if (argv.some((word) => typeof word !== 'string' || word.includes('\0'))) throw new PluginError('INVALID_CONFIG', `command ${JSON.stringify(argv)}: every argument must be a string without NUL characters`);
  return options.shell ? ['sh', '-c', argv[0], 'sh', ...argv.slice(1)] : argv;
}

function checkEnv(env: Record<string, string> | undefined): [string, string][] {
  const entries = Object.entries(env ?? {});
  for (const [name] of entries) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new PluginError('INVALID_CONFIG', `environment variable name ${JSON.stringify(name)} is not valid`);
  return entries;
}

function shown(machine: string, argv: string[]): string {
  const line = argv.map(quote).join(' ');
  return `${machine}$ ${line.length > 300 ? `${line.slice(0, 300)}…` : line}`;
}

function tailOf(text: string, lines = LOGGED_LINES): string {
  return text
    .trim()
    .split('\n')
    .slice(-lines)
    .map((line) => (line.length > 300 ? `${line.slice(0, 300)}…` : line))
    .join('\n');
}

/** Collects text up to a cap, keeping the end (where errors are). */
class Capture {
  private text = '';
  add(chunk: Buffer | string): void {
    this.text += chunk.toString();
    if (this.text.length > MAX_CAPTURE) this.text = this.text.slice(-MAX_CAPTURE);
  }
  toString(): string {
    return this.text;
  }
}

interface Ending {
  code: number | null;
  signal: string | null;
  /** Why it was stopped, when it was. */
  stopped?: 'timeout' | 'aborted' | 'lost';
  stderr: string;
}

/** The promise a command's caller gets, from how it ended. */
function settle(what: string, ending: Ending, okExitCodes: number[], timeoutMs: number): { exitCode: number; stderr: string } {
  if (ending.stopped === 'timeout') throw new PluginError('TIMEOUT', `${what} did not finish within ${timeoutMs} ms and was killed`, { retryable: true });
  if (ending.stopped === 'aborted') throw new PluginError('ABORTED', `${what} was stopped because the job was cancelled`);
  if (ending.stopped === 'lost') throw new PluginError('UNREACHABLE', `${what} failed: the connection to the machine was lost while it ran`, { retryable: true });
  if (ending.code !== null && okExitCodes.includes(ending.code)) return { exitCode: ending.code, stderr: ending.stderr };
  const how = ending.code === null ? `was killed by ${ending.signal ?? 'a signal'}` : `exited with code ${ending.code}`;
  const tail = tailOf(ending.stderr);
  throw new PluginError('COMMAND_FAILED', `${what} ${how}${tail ? `: ${tail}` : ''}`, { details: { exitCode: ending.code, signal: ending.signal } });
}

/** Runs a started process to its end, collecting its output: `run` on top of `spawn`. */
async function collect(process: MachineProcess, input: string | Uint8Array | undefined): Promise<CommandResult> {
  const stdout = new Capture();
  process.stdout.on('data', (chunk: Buffer) => stdout.add(chunk));
  process.stdin.on('error', () => undefined);
  process.stdin.end(input ?? undefined);
  const { exitCode, stderr } = await process.done;
  return { exitCode, stdout: stdout.toString(), stderr };
}

function logged(log: PluginLogger, options: MachineCommandOptions, line: string, run: () => Promise<CommandResult>): Promise<CommandResult> {
  if (options.logged === false) return run();
  log.info(line);
  const started = Date.now();
  return run().then(
    (result) => {
      const output = tailOf(`${result.stdout}\n${result.stderr}`);
      log.info(`exit ${result.exitCode} after ${((Date.now() - started) / 1000).toFixed(1)} s${output ? `:\n${output}` : ''}`);
      return result;
    },
    (error: Error) => {
      log.warn(error.message);
      throw error;
    },
  );
}

// ---------------------------------------------------------------------------------------------
// rsync

function rsyncArgs(options: RsyncOptions, resume: boolean): string[] {
  const args = ['-a', '--stats', '--numeric-ids', '--timeout=300'];
  if (options.delete ?? true) args.push('--delete');
  if (resume) args.push('--partial');
  for (const pattern of options.exclude ?? []) args.push(`--exclude=${pattern}`);
  return args;
}

function statsNumber(stats: string, label: string): number {
  const match = new RegExp(`^${label}: ([\\d,]+)`, 'm').exec(stats);
  return match ? Number(match[1].replace(/,/g, '')) : 0;
}

/** Runs rsync, again with `--partial` when a transfer is cut off, and sums what the runs moved. */
async function runRsync(label: string, endpoints: { source: string; destination: string }, extraArgs: string[], options: RsyncOptions, provider: MachineProviderOptions): Promise<RsyncReport> {
  const retries = options.retries ?? 2;
  const runner = createCommandRunner(provider.signal);
  const report: RsyncReport = { bytesMoved: 0, filesTransferred: 0, totalBytes: 0 };
  const started = Date.now();
  provider.log.info(`rsync ${label}`);
  for (let attempt = 0; ; attempt++) {
    const args = [...rsyncArgs(options, attempt > 0), ...extraArgs, `${endpoints.source.replace(/\/*$/, '')}/`, `${endpoints.destination.replace(/\/*$/, '')}/`];
    let result: CommandResult;
    try {
      result = await runner.run('rsync', args, { timeoutMs: options.timeoutMs ?? RSYNC_TIMEOUT_MS, okExitCodes: [0, RSYNC_VANISHED] });
    } catch (error) {
      const exitCode = error instanceof PluginError ? (error.details['exitCode'] as number | null | undefined) : undefined;
      if (typeof exitCode === 'number' && RSYNC_RESUMABLE.has(exitCode) && attempt < retries && !provider.signal?.aborted) {
        provider.log.warn(`rsync ${label} was cut off (exit ${exitCode}); resuming (${attempt + 1} of ${retries})`);
        continue;
      }
      throw new PluginError(error instanceof PluginError ? error.code : 'COMMAND_FAILED', `rsync ${label} failed: ${(error as Error).message}`, {
        cause: error,
        retryable: typeof exitCode === 'number' && RSYNC_RESUMABLE.has(exitCode),
        details: error instanceof PluginError ? error.details : {},
      });
    }
    report.bytesMoved += statsNumber(result.stdout, 'Literal data');
    report.filesTransferred += statsNumber(result.stdout, 'Number of regular files transferred');
    report.totalBytes = statsNumber(result.stdout, 'Total file size');
    if (result.exitCode === RSYNC_VANISHED) provider.log.warn(`rsync ${label}: some files vanished while they were copied (the source is live)`);
    provider.log.info(`rsync ${label}: ${report.filesTransferred} files, ${report.bytesMoved} bytes moved of ${report.totalBytes} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return report;
  }
}

// ---------------------------------------------------------------------------------------------
// The chainvault host

const HTTP_TIMEOUT_MS = 60_000;
const MAX_HTTP_BODY = 4 * 1024 * 1024;

/**
 * One HTTP request, over `connect`'s stream when given (an SSH tunnel), else straight from this
 * host. The answer's body is kept up to 4 MiB.
 */
function sendHttp(
  machine: string,
  url: string,
  options: MachineHttpOptions,
  provider: MachineProviderOptions,
  connect?: (host: string, port: number) => Promise<Duplex>,
): Promise<MachineHttpResponse> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.reject(new PluginError('INVALID_CONFIG', `"${url}" is not a URL`));
  }
  if (target.protocol !== 'http:') return Promise.reject(new PluginError('INVALID_CONFIG', `${url}: only http: URLs are sent from a machine`));
  const method = (options.method ?? 'GET').toUpperCase();
  const json = options.body !== undefined && typeof options.body !== 'string';
  const body = options.body === undefined ? undefined : json ? JSON.stringify(options.body) : (options.body as string);
  const timeoutMs = options.timeoutMs ?? HTTP_TIMEOUT_MS;
  const port = Number(target.port || 80);
  const started = Date.now();
  const label = `${method} ${url} on ${machine}`;
  return new Promise<MachineHttpResponse>((resolve, reject) => {
    let settled = false;
    const fail = (error: PluginError) => {
      if (settled) return;
      settled = true;
      cleanup();
      req.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(new PluginError('TIMEOUT', `${label} got no answer within ${Math.round(timeoutMs / 1000)} s`, { retryable: true })), timeoutMs);
    const onAbort = () => fail(new PluginError('ABORTED', `${label} was cancelled`));
    const cleanup = () => {
      clearTimeout(timer);
      provider.signal?.removeEventListener('abort', onAbort);
    };
    const req = httpRequest(
      {
        host: target.hostname,
        port,
        path: `${target.pathname}${target.search}`,
        method,
        agent: false,
        headers: { ...(json ? { 'content-type': 'application/json' } : {}), ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}), ...(options.headers ?? {}) },
        ...(connect
          ? {
              createConnection: (_options: unknown, done: (error: Error | null, stream?: Duplex) => void) => {
                connect(target.hostname, port).then(
                  (stream) => done(null, stream),
                  (error: Error) => done(error),
                );
                return undefined;
              },
            }
          : {}),
      } as unknown as RequestOptions,
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_HTTP_BODY) chunks.push(chunk);
        });
        res.on('error', (error) => fail(new PluginError('UNREACHABLE', `${label}: the answer broke off: ${error.message}`, { retryable: true })));
        res.on('end', () => {
          if (settled) return;
          settled = true;
          cleanup();
          if (options.logged !== false) provider.log.info(`${label} → ${res.statusCode} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    req.on('error', (error) => fail(error instanceof PluginError ? error : new PluginError('UNREACHABLE', `${label} failed: ${error.message}`, { retryable: true, cause: error })));
    if (provider.signal?.aborted) return onAbort();
    provider.signal?.addEventListener('abort', onAbort, { once: true });
    req.end(body);
  });
}

function localMachine(provider: MachineProviderOptions): Machine & { close(): Promise<void> } {
  const spawnLocal = (argv: string[], options: MachineCommandOptions = {}): MachineProcess => {
    const [program, ...args] = commandArgv(argv, options);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const what = argv.join(' ');
    const env = Object.fromEntries(checkEnv(options.env));
    const child = spawn(program, args, { cwd: options.cwd, env: commandEnvironment(env), stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const stderr = new Capture();
    child.stderr.on('data', (chunk: Buffer) => stderr.add(chunk));
    let stopped: Ending['stopped'];
    const kill = (why: 'timeout' | 'aborted') => {
      stopped ??= why;
      killProcessGroup(child);
    };
    const timer = setTimeout(() => kill('timeout'), timeoutMs);
    const onAbort = () => kill('aborted');
    if (provider.signal?.aborted) queueMicrotask(onAbort);
    provider.signal?.addEventListener('abort', onAbort, { once: true });
    const done = new Promise<{ exitCode: number; stderr: string }>((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        provider.signal?.removeEventListener('abort', onAbort);
      };
      child.on('error', (error) => {
        finish();
        reject(new PluginError('COMMAND_FAILED', `could not start ${program}: ${error.message}`, { cause: error }));
      });
      child.on('close', (code, signal) => {
        finish();
        try {
          resolve(settle(what, { code, signal, stopped, stderr: stderr.toString() }, options.okExitCodes ?? [0], timeoutMs));
        } catch (error) {
          reject(error);
        }
      });
    });
    child.stdin.on('error', () => undefined);
    return { stdin: child.stdin, stdout: child.stdout, done };
  };

  return {
    name: 'local',
    local: true,
    run: (argv, options = {}) => {
      const process = spawnLocal(argv, options);
      return logged(provider.log, options, shown('local', argv), () => collect(process, options.input));
    },
    spawn: (argv, options = {}) => {
      if (options.logged !== false) provider.log.info(shown('local', argv));
      return spawnLocal(argv, options);
    },
    readFile: (path) => readFile(path).catch((error: NodeJS.ErrnoException) => fileError('local', 'read', path, error)),
    writeFile: async (path, content, options = {}) => {
      await mkdir(dirname(path), { recursive: true }).catch((error: NodeJS.ErrnoException) => fileError('local', 'create the folder of', path, error));
      await writeFile(path, content, { mode: options.mode ?? 0o644 }).catch((error: NodeJS.ErrnoException) => fileError('local', 'write', path, error));
    },
    list: async (path) => {
      const names = await readdir(path).catch((error: NodeJS.ErrnoException) => fileError('local', 'list', path, error));
      const entries = await Promise.all(names.map(async (name) => localEntry(join(path, name), name)));
      return entries.filter((entry): entry is MachineEntry => entry !== null).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    stat: (path) => localEntry(path, posix.basename(path)),
    request: (url, options = {}) => sendHttp('local', url, options, provider),
    rsyncFrom: (remote, local, options = {}) => runRsync(`local:${remote} → ${local}`, { source: remote, destination: local }, [], options, provider),
    rsyncTo: (local, remote, options = {}) => runRsync(`${local} → local:${remote}`, { source: local, destination: remote }, [], options, provider),
    close: async () => undefined,
  };
}

async function localEntry(path: string, name: string): Promise<MachineEntry | null> {
  try {
    const stats = await lstat(path);
    return { name, type: stats.isFile() ? 'file' : stats.isDirectory() ? 'directory' : stats.isSymbolicLink() ? 'symlink' : 'other', size: stats.size, mtime: stats.mtime, mode: stats.mode & 0o7777 };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    return fileError('local', 'inspect', path, error as NodeJS.ErrnoException);
  }
}

function fileError(machine: string, verb: string, path: string, error: NodeJS.ErrnoException): never {
  throw new PluginError(error.code === 'ENOSPC' ? 'NO_SPACE' : 'FAILED', `${machine}: could not ${verb} ${path}: ${error.message}`, { cause: error });
}

// ---------------------------------------------------------------------------------------------
// Machines over SSH

interface Connection {
  client: Client;
  /** The host key the machine showed (and that matched the pin), for rsync's known-hosts file. */
  hostKey: Buffer;
  sftp?: Promise<SFTPWrapper>;
  lost?: Error;
  /** Called when the connection ends, to fail what is still waiting on it. */
  onLost: Set<() => void>;
}

function connect(config: SshMachineConfig, name: string, signal: AbortSignal | undefined): Promise<Connection> {
  const pinned = bareFingerprint(config.hostKeyFingerprint)!;
  return new Promise((resolve, reject) => {
    const client = new Client();
    let shownKey: Buffer | undefined;
    let refusedKey: string | undefined;
    let settled = false;
    const fail = (error: PluginError) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      client.end();
      reject(error);
    };
    const onAbort = () => fail(new PluginError('ABORTED', `connecting to ${name} was stopped because the job was cancelled`));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    client.on('ready', () => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      const connection: Connection = { client, hostKey: shownKey!, onLost: new Set() };
      const lose = (why: string) => {
        connection.lost ??= new Error(why);
        for (const notify of [...connection.onLost]) notify();
      };
      client.on('error', (error: Error) => lose(error.message));
      client.on('close', () => lose('the connection closed'));
      resolve(connection);
    });
    client.on('error', (error: Error & { level?: string }) => {
      if (refusedKey !== undefined) {
        fail(
          new PluginError(
            'UNREACHABLE',
            `${name} showed host key ${refusedKey}, but the node's machine pins SHA256:${pinned}; refused. If the machine's key was changed on purpose, put the new fingerprint in the machine's hostKeyFingerprint.`,
            { details: { shown: refusedKey, pinned: `SHA256:${pinned}` } },
          ),
        );
      } else if (error.level === 'client-authentication') {
        fail(new PluginError('UNREACHABLE', `${name} refused the login of ${config.user} with the machine's private key`));
      } else {
        fail(new PluginError('UNREACHABLE', `could not connect to ${name}: ${error.message}`, { retryable: true, cause: error }));
      }
    });
    client.on('close', () => fail(new PluginError('UNREACHABLE', `could not connect to ${name}: the connection closed before login`, { retryable: true })));
    try {
      client.connect({
        host: config.host,
        port: config.port ?? 22,
        username: config.user,
        privateKey: config.privateKey,
        readyTimeout: READY_TIMEOUT_MS,
        keepaliveInterval: KEEPALIVE_INTERVAL_MS,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          const seen = fingerprint(key);
          if (seen.slice('SHA256:'.length) === pinned) {
            shownKey = key;
            return true;
          }
          refusedKey = seen;
          return false;
        },
      });
    } catch (error) {
      // ssh2 throws at once for a key it cannot parse; its message never holds the key.
      fail(new PluginError('INVALID_CONFIG', `${name}: the machine's private key cannot be used: ${(error as Error).message}`));
    }
  });
}

async function sshMachine(config: SshMachineConfig, provider: MachineProviderOptions, index: number): Promise<Machine & { close(): Promise<void> }> {
  const name = `${config.user}@${config.host}:${config.port ?? 22}`;
  let current = await connect(config, name, provider.signal);
  let ended = false;
  /** The live connection; a lost one is replaced on the next step (the step that saw it go has failed). */
  const connection = async (): Promise<Connection> => {
    if (ended) throw new PluginError('FAILED', `the job has ended: the connection to ${name} is closed`);
    if (current.lost) current = await connect(config, name, provider.signal);
    return current;
  };
  const lostError = (what: string, connection: Connection) =>
    new PluginError('UNREACHABLE', `${what} on ${name} failed: the connection was lost (${connection.lost?.message ?? 'closed'})`, { retryable: true });

  /** An SFTP call as a promise, which also rejects when the connection drops (ssh2 may then never call back). */
  const sftpCall = async <T>(what: string, call: (sftp: SFTPWrapper, done: (error: (Error & { code?: number }) | null | undefined, value?: T) => void) => void): Promise<T> => {
    const conn = await connection();
    conn.sftp ??= new Promise<SFTPWrapper>((resolve, reject) => conn.client.sftp((error, sftp) => (error ? reject(error) : resolve(sftp))));
    conn.sftp.catch(() => (conn.sftp = undefined));
    const sftp = await conn.sftp.catch((error: Error) => {
      throw new PluginError('UNREACHABLE', `${name}: could not open SFTP: ${error.message}`, { retryable: true });
    });
    return new Promise<T>((resolve, reject) => {
      const onLost = () => reject(lostError(what, conn));
      if (conn.lost) return onLost();
      conn.onLost.add(onLost);
      call(sftp, (error, value) => {
        conn.onLost.delete(onLost);
        if (error) reject(error);
        else resolve(value as T);
      });
    });
  };

  const spawnRemote = (argv: string[], options: MachineCommandOptions = {}): MachineProcess => {
    const words = commandArgv(argv, options);
    const env = checkEnv(options.env);
    // sshd makes each command the leader of a process group of its own; the wrapper tells us its
    // number first (on stderr), so a timeout or a cancel can kill the whole group on the machine:
    // OpenSSH does not pass a signal on to a command run without a terminal.
    const line = [
      ...(options.cwd ? [`cd ${quote(options.cwd)} &&`] : []),
      'exec sh -c',
      quote(`echo "${PID_MARKER}$$" >&2; exec "$@"`),
      'sh',
      ...(env.length > 0 ? ['env', ...env.map(([k, v]) => quote(`${k}=${v}`))] : []),
      ...words.map(quote),
    ].join(' ');
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const what = `${argv.join(' ')} on ${name}`;
    const stdout = new PassThrough();
    const stderr = new Capture();
    let channel: ClientChannel | undefined;
    let stdinEnded = false;
    const pendingWrites: [Buffer, (error?: Error | null) => void][] = [];
    const stdin = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        if (channel) channel.write(chunk, callback);
        else pendingWrites.push([chunk, callback]);
      },
      final(callback) {
        stdinEnded = true;
        channel?.end();
        callback();
      },
    });
    const done = (async () => {
      const conn = await connection();
      return new Promise<{ exitCode: number; stderr: string }>((resolve, reject) => {
        let stopped: Ending['stopped'];
        let exit: { code: number | null; signal: string | null } = { code: null, signal: null };
        let pid: number | undefined;
        let stderrHead = '';
        const killGroup = () => {
          if (pid === undefined || conn.lost) return;
          conn.client.exec(`kill -KILL -- -${pid} 2>/dev/null || kill -KILL ${pid} 2>/dev/null; true`, (error, killer) => {
            if (!error) killer.on('data', () => undefined).on('close', () => undefined).stderr.on('data', () => undefined);
          });
        };
        const stop = (why: 'timeout' | 'aborted' | 'lost') => {
          if (stopped) return;
          stopped = why;
          if (why === 'lost' || !channel) return finish();
          killGroup();
          // The channel closes once the command is gone; if the machine does not answer, give up waiting.
          setTimeout(() => {
            channel?.close();
            finish();
          }, KILL_GRACE_MS).unref();
        };
        const timer = setTimeout(() => stop('timeout'), timeoutMs);
        const onAbort = () => stop('aborted');
        const onLost = () => stop('lost');
        let finished = false;
        const finish = () => {
          if (finished) return;
          finished = true;
          clearTimeout(timer);
          provider.signal?.removeEventListener('abort', onAbort);
          conn.onLost.delete(onLost);
          stdout.end();
          try {
            resolve(settle(what, { ...exit, stopped, stderr: stderr.toString() }, options.okExitCodes ?? [0], timeoutMs));
          } catch (error) {
            reject(error);
          }
        };
        // What the login printed before the wrapper ran (a shell start-up file's complaints) is not
        // the command's: it is dropped up to the wrapper's pid line. Without that line (the wrapper
        // never ran: a missing working directory), everything is the command's.
        const onStderr = (chunk: Buffer) => {
          if (pid !== undefined) return stderr.add(chunk);
          stderrHead += chunk.toString('latin1');
          const afterNewline = stderrHead.indexOf(`\n${PID_MARKER}`);
          const marker = stderrHead.startsWith(PID_MARKER) ? 0 : afterNewline < 0 ? -1 : afterNewline + 1;
          const end = marker < 0 ? -1 : stderrHead.indexOf('\n', marker);
          if (end < 0) {
            if (stderrHead.length < MAX_LOGIN_NOISE) return;
            pid = 0;
            stderr.add(Buffer.from(stderrHead, 'latin1'));
          } else {
            pid = Number(stderrHead.slice(marker + PID_MARKER.length, end));
            stderr.add(Buffer.from(stderrHead.slice(end + 1), 'latin1'));
          }
          if (stopped && stopped !== 'lost') killGroup();
        };
        const flushHead = () => {
          if (pid === undefined && stderrHead) stderr.add(Buffer.from(stderrHead, 'latin1'));
          pid ??= 0;
        };
        if (provider.signal?.aborted) return onAbort();
        provider.signal?.addEventListener('abort', onAbort, { once: true });
        conn.onLost.add(onLost);
        conn.client.exec(line, (error, opened) => {
          if (error) {
            clearTimeout(timer);
            provider.signal?.removeEventListener('abort', onAbort);
            conn.onLost.delete(onLost);
            stdout.end();
            return reject(conn.lost ? lostError(argv[0], conn) : new PluginError('COMMAND_FAILED', `could not start ${what}: ${error.message}`, { retryable: true }));
          }
          channel = opened;
          if (finished) {
            // Stopped while the channel opened: the command started anyway; kill it once it says who it is.
            opened.on('data', () => undefined).stderr.on('data', onStderr);
            opened.end();
            return;
          }
          opened.on('data', (chunk: Buffer) => {
            if (!stdout.write(chunk)) {
              opened.pause();
              stdout.once('drain', () => opened.resume());
            }
          });
          opened.stderr.on('data', onStderr);
          opened.on('exit', (code: number | null, signal?: string) => (exit = { code: code ?? null, signal: signal ?? null }));
          opened.on('close', () => {
            flushHead();
            finish();
          });
          for (const [chunk, callback] of pendingWrites.splice(0)) opened.write(chunk, callback);
          if (stdinEnded) opened.end();
        });
      });
    })();
    done.catch(() => stdout.end());
    return { stdin, stdout, done };
  };

  /** rsync's ssh: the job's key and the host key already verified, nothing from ~/.ssh. */
  const sshFiles = (async () => {
    const folder = join(provider.tempDir, `machine-${index}`);
    await mkdir(folder, { recursive: true, mode: 0o700 });
    const key = join(folder, 'id');
    const knownHosts = join(folder, 'known_hosts');
    const blob = current.hostKey;
    const type = blob.subarray(4, 4 + blob.readUInt32BE(0)).toString();
    const hostName = (config.port ?? 22) === 22 ? config.host : `[${config.host}]:${config.port}`;
    await writeFile(key, config.privateKey.endsWith('\n') ? config.privateKey : `${config.privateKey}\n`, { mode: 0o600 });
    await writeFile(knownHosts, `${hostName} ${type} ${blob.toString('base64')}\n`, { mode: 0o600 });
    const options = [
      '-F /dev/null',
      `-i ${key}`,
      `-p ${config.port ?? 22}`,
      `-l ${config.user}`,
      `-o UserKnownHostsFile=${knownHosts}`,
      '-o GlobalKnownHostsFile=/dev/null',
      '-o StrictHostKeyChecking=yes',
      '-o BatchMode=yes',
      '-o IdentitiesOnly=yes',
      '-o ConnectTimeout=20',
      '-o ServerAliveInterval=15',
      '-o ServerAliveCountMax=4',
    ];
    return ['-e', `ssh ${options.join(' ')}`];
  })();
  sshFiles.catch(() => undefined);
  const remote = (path: string) => `${config.host.includes(':') ? `[${config.host}]` : config.host}:${path}`;

  return {
    name,
    local: false,
    run: (argv, options = {}) => logged(provider.log, options, shown(name, argv), () => collect(spawnRemote(argv, options), options.input)),
    spawn: (argv, options = {}) => {
      if (options.logged !== false) provider.log.info(shown(name, argv));
      return spawnRemote(argv, options);
    },
    readFile: (path) => sftpCall<Buffer>(`reading ${path}`, (sftp, done) => sftp.readFile(path, done)).catch((error) => rethrow(name, 'read', path, error)),
    writeFile: async (path, content, options = {}) => {
      await makeFolders(posix.dirname(path), sftpCall).catch((error) => rethrow(name, 'create the folder of', path, error));
      await sftpCall(`writing ${path}`, (sftp, done) => sftp.writeFile(path, typeof content === 'string' ? content : Buffer.from(content), { mode: options.mode ?? 0o644 }, (error) => done(error))).catch((error) =>
        rethrow(name, 'write', path, error),
      );
    },
    list: async (path) => {
      const items = await sftpCall<{ filename: string; attrs: Stats }[]>(`listing ${path}`, (sftp, done) => sftp.readdir(path, done)).catch((error) => rethrow(name, 'list', path, error));
      return items.map((item) => sftpEntry(item.filename, item.attrs)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    stat: async (path) => {
      try {
        return sftpEntry(posix.basename(path), await sftpCall<Stats>(`inspecting ${path}`, (sftp, done) => sftp.lstat(path, done)));
      } catch (error) {
        if ((error as { code?: number }).code === 2 /* NO_SUCH_FILE */) return null;
        return rethrow(name, 'inspect', path, error);
      }
    },
    request: (url, options = {}) =>
      sendHttp(name, url, options, provider, async (host, port) => {
        const conn = await connection();
        return new Promise<Duplex>((resolve, reject) =>
          conn.client.forwardOut('127.0.0.1', 0, host, port, (error, channel) =>
            error ? reject(new PluginError('UNREACHABLE', `${name} could not open a tunnel to ${host}:${port}: ${error.message}`, { retryable: true })) : resolve(channel),
          ),
        );
      }),
    rsyncFrom: async (remotePath, local, options = {}) => {
      await connection();
      await mkdir(local, { recursive: true });
      return runRsync(`${name}:${remotePath} → ${local}`, { source: remote(remotePath), destination: local }, await sshFiles, options, provider);
    },
    rsyncTo: async (local, remotePath, options = {}) => {
      await connection();
      await makeFolders(remotePath, sftpCall).catch((error) => rethrow(name, 'create', remotePath, error));
      return runRsync(`${local} → ${name}:${remotePath}`, { source: local, destination: remote(remotePath) }, await sshFiles, options, provider);
    },
    close: async () => {
      ended = true;
      current.client.end();
    },
  };
}

type SftpCall = <T>(what: string, call: (sftp: SFTPWrapper, done: (error: (Error & { code?: number }) | null | undefined, value?: T) => void) => void) => Promise<T>;

/** `mkdir -p` over SFTP. */
async function makeFolders(path: string, sftpCall: SftpCall): Promise<void> {
  const absolute = path.startsWith('/');
  const parts = path.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const folder = `${absolute ? '/' : ''}${parts.slice(0, i).join('/')}`;
    const exists = await sftpCall<Stats>(`inspecting ${folder}`, (sftp, done) => sftp.stat(folder, done)).then(
      (stats) => stats.isDirectory(),
      (error: { code?: number }) => {
        if (error.code === 2) return false;
        throw error;
      },
    );
    if (!exists) {
      await sftpCall<void>(`creating ${folder}`, (sftp, done) => sftp.mkdir(folder, (error) => done(error))).catch(async (error: { code?: number }) => {
        // Made meanwhile by someone else is fine.
        const made = await sftpCall<Stats>(`inspecting ${folder}`, (sftp, done) => sftp.stat(folder, done)).then((stats) => stats.isDirectory(), () => false);
        if (!made) throw error;
      });
    }
  }
}

function sftpEntry(name: string, attrs: Stats): MachineEntry {
  const kind = attrs.mode & 0o170000;
  return {
    name,
    type: kind === 0o100000 ? 'file' : kind === 0o040000 ? 'directory' : kind === 0o120000 ? 'symlink' : 'other',
    size: attrs.size,
    mtime: new Date(attrs.mtime * 1000),
    mode: attrs.mode & 0o7777,
  };
}

function rethrow(machine: string, verb: string, path: string, error: unknown): never {
  if (error instanceof PluginError) throw error;
  const code = (error as { code?: number }).code;
  const why = code === 2 ? 'no such file or directory' : code === 3 ? 'permission denied' : (error as Error).message;
  throw new PluginError('FAILED', `${machine}: could not ${verb} ${path}: ${why}`, { cause: error });
}
