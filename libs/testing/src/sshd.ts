/**
 * A real OpenSSH server for tests: /usr/sbin/sshd in the foreground on 127.0.0.1 and a free
 * port, with fresh host and client keys, key-only login as the current user and internal-sftp.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, stopChild } from './processes';

const SSHD = '/usr/sbin/sshd';
const START_TIMEOUT_MS = 10_000;
const START_ATTEMPTS = 3;

export interface RunningSshd {
  host: string;
  port: number;
  /** The current user, whose login the server accepts with `privateKey` only. */
  username: string;
  /** The client's private key, in OpenSSH format (unencrypted). */
  privateKey: string;
  /** The server's host key fingerprint as `ssh-keygen -lf` prints it, `SHA256:` prefix included. */
  hostKeySha256: string;
  /** An empty directory on the server for repositories (an absolute path, usable over SFTP). */
  root: string;
  /** What sshd logged so far (it runs with `-e`: connections, logins, errors). */
  log(): string;
  /** Kills the processes serving the open connections, as a crash or reboot of the server would; the listener stays. */
  dropConnections(): Promise<void>;
  /** Stops sshd and the processes serving its connections, and removes the keys and `root`. */
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** A line every login prints on stderr before the command runs, as a noisy shell start-up file does. */
  loginNoise?: string;
}

/** Starts sshd and waits until its port accepts connections. Tests run as root, so root login by key is allowed. */
export async function startSshd(options: SshdOptions = {}): Promise<RunningSshd> {
  // sshd's privilege separation needs this directory; a fresh container lacks it.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = await mkdtemp(join(tmpdir(), 'chainvault-sshd-'));
  const root = await mkdtemp(join(tmpdir(), 'chainvault-sftp-root-'));
  const removeAll = () => Promise.all([rm(dir, { recursive: true, force: true }), rm(root, { recursive: true, force: true })]);
  try {
    const hostKey = join(dir, 'ssh_host_ed25519_key');
    const clientKey = join(dir, 'client_ed25519_key');
    await Promise.all([keygen(hostKey), keygen(clientKey)]);
    const authorizedKeys = join(dir, 'authorized_keys');
    await writeFile(authorizedKeys, await readFile(`${clientKey}.pub`), { mode: 0o600 });
    const [privateKey, fingerprint] = await Promise.all([readFile(clientKey, 'utf8'), run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`])]);
    // "256 SHA256:abc… comment (ED25519)"
    const hostKeySha256 = fingerprint.split(' ')[1]!;
    const username = userInfo().username;
    // bash reads BASH_ENV before the command of every non-interactive login.
    const noise = join(dir, 'login-noise.sh');
    if (options.loginNoise !== undefined) await writeFile(noise, `printf '%s\\n' ${JSON.stringify(options.loginNoise)} >&2\n`);

    let lastError: unknown;
    for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
      // The port is free when asked but may be taken before sshd binds it: then sshd exits and we try another.
      const port = await freePort();
      const config = join(dir, 'sshd_config');
      await writeFile(
        config,
        [
          'ListenAddress 127.0.0.1',
          `Port ${port}`,
          `HostKey ${hostKey}`,
          `AuthorizedKeysFile ${authorizedKeys}`,
          `PidFile ${join(dir, 'sshd.pid')}`,
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'PubkeyAuthentication yes',
          'PermitRootLogin prohibit-password',
          `AllowUsers ${username}`,
          'StrictModes no',
          'UsePAM no',
          'Subsystem sftp internal-sftp',
          // A login runs the user's shell start-up files. On these machines ~/.bashrc runs `pyenv
          // rehash`, which takes a lock file; a login killed inside it (a cancelled command) leaves
          // the lock behind, and every later login waited 60 s for it. Tried once, it is skipped.
          `SetEnv PYENV_REHASH_TIMEOUT=0${options.loginNoise !== undefined ? ` BASH_ENV=${noise}` : ''}`,
          '',
        ].join('\n'),
      );
      const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      // sshd outlives a test process that dies without stopping it; this shell reads a pipe from
      // us, and when the pipe closes it stops sshd and removes the directories. A normal stop kills it first.
      const watchdog = spawn('/bin/sh', ['-c', 'read _; kill -TERM "$1"; rm -rf -- "$2" "$3"', 'sshd-watchdog', String(child.pid), dir, root], {
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      let log = '';
      child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
      const stopServer = async () => {
        await stopChild(watchdog, 'SIGKILL');
        await stopProcessTree(child);
      };
      try {
        await waitUntilListening(child, port, () => log);
      } catch (error) {
        lastError = error;
        await stopServer();
        continue;
      }
      return {
        host: '127.0.0.1',
        port,
        username,
        privateKey,
        hostKeySha256,
        root,
        log: () => log,
        dropConnections: () => dropConnections(child.pid!),
        stop: async () => {
          await stopServer();
          await removeAll();
        },
      };
    }
    throw lastError;
  } catch (error) {
    await removeAll();
    throw error;
  }
}

async function run(command: string, args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(command, args, { encoding: 'utf8' });
  return stdout;
}

function keygen(path: string): Promise<string> {
  return run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'chainvault-test', '-f', path]);
}


async function waitUntilListening(child: ChildProcess, port: number, log: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(`it exited (${signal ?? `code ${code}`})`));
    child.once('error', (error) => resolve(error.message));
  });
  // Another server may hold the port (freePort's answer is only a moment's truth, and two
  // sshd started together can be given the same one): a connection would then reach the other
  // server. Ours has bound it when it says so in its log; only then is a connection proof.
  const bound = `Server listening on 127.0.0.1 port ${port}.`;
  for (;;) {
    const outcome = await Promise.race([exited, (log().includes(bound) ? accepts(port) : Promise.resolve(false)).then((ok) => (ok ? 'listening' : undefined))]);
    if (outcome === 'listening') return;
    if (outcome !== undefined) throw new Error(`sshd did not start: ${outcome}\n${log().trim()}`);
    if (Date.now() > deadline) throw new Error(`sshd did not listen on 127.0.0.1:${port} within ${START_TIMEOUT_MS} ms\n${log().trim()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * The processes below `pid` with their depth, read from /proc. Synchronous, so that a drop
 * lands at once even while the test process is busy moving data (asynchronous reads would
 * queue behind that work).
 */
function descendantsOf(pid: number): { pid: number; depth: number }[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // "pid (comm) state ppid …", where comm may itself contain spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const found: { pid: number; depth: number }[] = [];
  const visit = (parent: number, depth: number) => {
    for (const child of children.get(parent) ?? []) {
      found.push({ pid: child, depth });
      visit(child, depth + 1);
    }
  };
  visit(pid, 1);
  return found;
}

/**
 * Per connection, the listener forks the process that talks to the client (for root; for other
 * users a privileged monitor with that process below it), which forks the commands and the
 * internal-sftp sessions. Killing every process of a connection, the one that talks to the
 * client first, ends the connection at once, before a command's exit status can be sent: what a
 * crash or a reboot of the machine looks like to the client.
 */
async function dropConnections(listener: number): Promise<void> {
  const serving = descendantsOf(listener).sort((a, b) => a.depth - b.depth);
  for (const { pid } of serving) killQuietly(pid, 'SIGKILL');
  // Done when those are gone; clients may already be connecting again, which is not our business.
  const dropped = new Set(serving.map(({ pid }) => pid));
  const deadline = Date.now() + 5_000;
  while (descendantsOf(listener).some(({ pid }) => dropped.has(pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** The connections first, while the listener is there to reap their monitors; then the listener. */
async function stopProcessTree(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await dropConnections(child.pid!);
  await stopChild(child, 'SIGTERM');
}

