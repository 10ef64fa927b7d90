/**
 * The machines a plugin's nodes live on: the chainvault host itself, or a machine reached over
 * SSH with a pinned host key. Since plugin API 2.0.
 *
 * A node config names its machine in a field built from {@link machineSchema} (by convention
 * `machine`); the plugin asks `ctx.machines.get(config.machine)` for it and gets a
 * {@link Machine}: commands with binary streams, file reads and writes, directory listings and
 * rsync both ways. Connections are opened once per job and closed when the job ends.
 */
import type { Readable, Writable } from 'node:stream';
import type { CommandResult } from './command';
import type { JsonSchema } from './json-schema';

export interface LocalMachineConfig {
  kind: 'local';
}

export interface SshMachineConfig {
  kind: 'ssh';
  host: string;
  /** Default 22. */
  port?: number;
  user: string;
  /** An unencrypted private key in OpenSSH or PEM format. A secret: stored sealed, never returned. */
  privateKey: string;
  /**
   * The SHA-256 fingerprint of the machine's host key, as `ssh-keygen -lf` prints it
   * (`SHA256:…`). A machine that shows any other key is refused.
   */
  hostKeyFingerprint: string;
}

export type MachineConfig = LocalMachineConfig | SshMachineConfig;

/** The JSON schema of a machine, to embed in a node config schema (its private key is `writeOnly`). */
export const machineSchema: JsonSchema = {
  description: 'The machine the node lives on: this host, or one reached over SSH with a pinned host key.',
  oneOf: [
    {
      type: 'object',
      properties: { kind: { const: 'local' } },
      required: ['kind'],
      additionalProperties: false,
    },
    {
      type: 'object',
      properties: {
        kind: { const: 'ssh' },
        host: { type: 'string', minLength: 1, maxLength: 253, description: 'Host name or address.' },
        port: { type: 'integer', minimum: 1, maximum: 65535, default: 22 },
        user: { type: 'string', minLength: 1, maxLength: 64 },
        privateKey: { type: 'string', minLength: 1, maxLength: 16384, writeOnly: true, description: 'Unencrypted private key (OpenSSH or PEM).' },
        hostKeyFingerprint: {
          type: 'string',
          pattern: '^SHA256:[A-Za-z0-9+/]{43}=?$',
          description: 'The host key fingerprint as `ssh-keygen -lf` prints it: SHA256:…',
        },
      },
      required: ['kind', 'host', 'user', 'privateKey', 'hostKeyFingerprint'],
      additionalProperties: false,
    },
  ],
};

export interface MachineCommandOptions {
  /** Working directory on the machine. */
  cwd?: string;
  /** Variables for the command. Nothing of the server's own environment is passed on. */
  env?: Record<string, string>;
  /** Kill the command after this long. Default: 10 minutes. */
  timeoutMs?: number;
  /** Written to the command's standard input (`run` only). */
  input?: string | Uint8Array;
  /** Exit codes that count as success. Default: [0]. */
  okExitCodes?: number[];
  /**
   * Run `argv[0]` as a shell command line (`sh -c`), with the rest as its positional
   * parameters. Default false: the argv is run as it is, every argument quoted.
   */
  shell?: boolean;
  /** Print the command and the tail of its output in the job log (default true). */
  logged?: boolean;
}

export interface MachineProcess {
  /** The command's standard input; end it when done writing. */
  stdin: Writable;
  /** The command's standard output, as bytes. Read it, or the command may stall. */
  stdout: Readable;
  /** Settles when the command ends: rejects like `run` does (exit code, timeout, abort). */
  done: Promise<{ exitCode: number; stderr: string }>;
}

export interface MachineEntry {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  mtime: Date;
  mode: number;
}

export interface RsyncOptions {
  /** Remove files in the destination that the source no longer has (default true). */
  delete?: boolean;
  /** Paths (rsync patterns, relative to the source) left out. */
  exclude?: string[];
  /** Kill rsync after this long. Default: 1 hour. */
  timeoutMs?: number;
  /** A transfer cut off (a dropped connection, a timeout) is run again this many times, resuming. Default 2. */
  retries?: number;
}

export interface RsyncReport {
  /** Bytes of file data actually sent over the wire (the delta). */
  bytesMoved: number;
  /** Files created or updated in the destination. */
  filesTransferred: number;
  /** Total size of the source's files. */
  totalBytes: number;
}

export interface MachineHttpOptions {
  /** Default GET. */
  method?: string;
  /** A string is sent as it is; an object as JSON (with its content type). */
  body?: string | Record<string, unknown>;
  headers?: Record<string, string>;
  /** Give up after this long. Default: 60 s. */
  timeoutMs?: number;
  /** Print the request and its answer's status in the job log (default true). */
  logged?: boolean;
}

export interface MachineHttpResponse {
  status: number;
  body: string;
}

export interface Machine {
  /** `local`, or `user@host:port`: how the machine is named in logs and errors. */
  readonly name: string;
  /** Whether this is the chainvault host itself (its paths are local paths). */
  readonly local: boolean;
  /** Runs a command to its end and returns its output. Throws a PluginError on failure, timeout or abort. */
  run(argv: string[], options?: MachineCommandOptions): Promise<CommandResult>;
  /** Starts a command with binary standard input and output streams. */
  spawn(argv: string[], options?: MachineCommandOptions): MachineProcess;
  readFile(path: string): Promise<Buffer>;
  /** Writes a whole file (replacing it), creating missing parent folders. */
  writeFile(path: string, content: string | Uint8Array, options?: { mode?: number }): Promise<void>;
  /** The entries of a directory, sorted by name; symlinks are not followed. */
  list(path: string): Promise<MachineEntry[]>;
  /** What is at `path`, or null when nothing is. */
  stat(path: string): Promise<MachineEntry | null>;
  /**
   * Sends an HTTP request as if from the machine itself, so a service that listens on the
   * machine's loopback (a node agent on 127.0.0.1:8546) can be reached: over an SSH tunnel for an
   * SSH machine. `http:` URLs only. Any answer resolves (check `status`); a refused connection,
   * a timeout or a cancel is a PluginError (UNREACHABLE, TIMEOUT, ABORTED). Since API 2.0.
   */
  request(url: string, options?: MachineHttpOptions): Promise<MachineHttpResponse>;
  /** Copies the folder `remoteDirectory` on this machine into `localDirectory` on the chainvault host, moving only what changed. */
  rsyncFrom(remoteDirectory: string, localDirectory: string, options?: RsyncOptions): Promise<RsyncReport>;
  /** Copies the local folder `localDirectory` into `remoteDirectory` on this machine, moving only what changed. */
  rsyncTo(localDirectory: string, remoteDirectory: string, options?: RsyncOptions): Promise<RsyncReport>;
}

export interface MachineProvider {
  /**
   * The machine a config names (undefined: the chainvault host). The same config gives the same
   * connection for the rest of the job. An unreachable machine or an unknown or changed host
   * key is a PluginError (UNREACHABLE), the latter with both fingerprints in its message.
   */
  get(config: MachineConfig | undefined): Promise<Machine>;
}

/** A short stable identity of a machine, for telling whether two nodes live on one: `local` or `ssh://host:port` (whoever logs in). */
export function machineIdentity(config: MachineConfig | undefined): string {
  if (!config || config.kind === 'local') return 'local';
  return `ssh://${config.host.toLowerCase()}:${config.port ?? 22}`;
}
