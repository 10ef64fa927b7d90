/** A repository backend on an SFTP server (OpenSSH's or any SFTP v3 server), reached with an SSH key. */
import { createHash, randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { Client, utils, type SFTPWrapper, type Stats } from 'ssh2';
import { wholeObject, type ByteRange, type ObjectData, type RepositoryBackend } from './backend';
import { RepositoryError, describeIoError } from './repository.errors';

/** Where an SFTP repository lives and how to log in. Check untrusted input with {@link validateSftpConfig}. */
export interface SftpConfig {
  /** Host name or address of the SSH server. */
  host: string;
  /** Default 22. */
  port?: number;
  username: string;
  /**
   * The repository's directory on the server: absolute, or relative to the login directory.
   * It and its parents are created on the first write.
   */
  path: string;
  /**
   * The client's private key as text: OpenSSH (`-----BEGIN OPENSSH PRIVATE KEY-----`) or PEM
   * (`RSA`/`EC`/`DSA PRIVATE KEY`). PKCS#8 (`-----BEGIN PRIVATE KEY-----`) is not supported by
   * ssh2; `ssh-keygen -p -f <file>` rewrites such a key in OpenSSH format.
   */
  privateKey: string;
  /** Decrypts `privateKey` when it is encrypted. */
  passphrase?: string;
  /**
   * Pins the server: the SHA-256 fingerprint of its host key as `ssh-keygen -lf <host key>.pub`
   * prints it (`SHA256:…`; the prefix is optional). A server presenting another key is refused.
   * Without it, the key the server presents on the backend's first connection is accepted
   * unchecked (there is no known_hosts file), and reconnections must present that same key.
   */
  hostKeySha256?: string;
}

const FIELDS: readonly (keyof SftpConfig)[] = ['host', 'port', 'username', 'path', 'privateKey', 'passphrase', 'hostKeySha256'];

/**
 * Checks a configuration read from a file or the API and returns it typed. Throws an Error
 * naming the first bad field; unknown fields are refused, so a misspelt `hostKeySha256`
 * cannot silently turn host key pinning off.
 */
export function validateSftpConfig(raw: unknown): SftpConfig {
  const bad = (field: string, why: string): never => {
    throw new Error(`SFTP backend config: ${field} ${why}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('(the whole value)', 'must be an object');
  const config = raw as Record<string, unknown>;
  for (const field of Object.keys(config)) {
    if (!(FIELDS as readonly string[]).includes(field)) bad(field, `is not an SFTP backend option (known: ${FIELDS.join(', ')})`);
  }
  const text = (field: keyof SftpConfig, optional = false): string | undefined => {
    const value = config[field];
    if (value === undefined && optional) return undefined;
    if (typeof value !== 'string' || value.trim() === '') return bad(field, 'must be a non-empty string');
    if (value.includes('\0')) return bad(field, 'must not contain a NUL character');
    return value;
  };
  const host = text('host')!;
  const username = text('username')!;
  const path = text('path')!;
  const privateKey = text('privateKey')!;
  const passphrase = text('passphrase', true);
  const hostKeySha256 = text('hostKeySha256', true);
  const port = config['port'];
  if (port !== undefined && !(typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535)) {
    bad('port', `must be an integer from 1 to 65535 (got ${JSON.stringify(port)})`);
  }
  if (hostKeySha256 !== undefined && normalizeFingerprint(hostKeySha256) === undefined) {
    bad('hostKeySha256', `must be a SHA-256 host key fingerprint as \`ssh-keygen -lf\` prints it (SHA256: and 43 base64 characters), got ${JSON.stringify(hostKeySha256)}`);
  }
  if (!privateKey.includes('-----BEGIN')) bad('privateKey', 'must be the text of a private key (-----BEGIN … PRIVATE KEY-----), not a file name');
  const parsed = utils.parseKey(privateKey, passphrase);
  // ssh2's messages name the key's format or the missing passphrase, never the key's content.
  if (parsed instanceof Error) bad('privateKey', `cannot be read: ${parsed.message}`);
  return {
    host,
    ...(port === undefined ? {} : { port: port as number }),
    username,
    path,
    privateKey,
    ...(passphrase === undefined ? {} : { passphrase }),
    ...(hostKeySha256 === undefined ? {} : { hostKeySha256 }),
  };
}

/** The base64 part of a SHA-256 fingerprint, without prefix and padding, or undefined if it is not one. */
function normalizeFingerprint(value: string): string | undefined {
  const bare = value.trim().replace(/^SHA256:/i, '').replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/]{43}$/.test(bare)) return undefined;
  return bare;
}

/** How `ssh-keygen -lf` shows a key: base64 of the SHA-256 of the key blob, unpadded. */
function fingerprintOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
}

const TMP_DIR = 'tmp';
const READY_TIMEOUT_MS = 20_000;
const KEEPALIVE_INTERVAL_MS = 15_000;
/** Bytes per SFTP read or write request, and requests in flight per object: latency, not bandwidth, limits a lone request. */
const CHUNK_BYTES = 64 * 1024;
const CHUNKS_IN_FLIGHT = 16;
const DIRECTORIES_LISTED_AT_ONCE = 8;
const { STATUS_CODE } = utils.sftp;

type Done<T> = (error: Error | null | undefined, value: T) => void;

/** The SFTP session of one connection. */
interface Session {
  sftp: SFTPWrapper;
  /**
   * An ssh2 call as a promise, which also rejects once the connection is lost: ssh2 silently
   * drops a request sent on a closed channel, whose callback then never runs.
   */
  call<T = void>(request: (done: Done<T>) => void): Promise<T>;
}

interface Connection {
  client: Client;
  session: Promise<Session>;
  /** Set as soon as the connection ends, before its pending requests fail. */
  lost: boolean;
}

/**
 * Objects are files under `path` on the server, written atomically: to `tmp/<random>.tmp`,
 * flushed with fsync@openssh.com where offered, then renamed into place with
 * posix-rename@openssh.com (rename(2), which replaces an existing object in one step). A
 * server without that extension gets a plain SFTP rename, and when that refuses to replace
 * (OpenSSH's does), the old object is removed first: for that moment the object is missing,
 * but it is never seen half-written.
 *
 * One SSH connection is opened on first use and reopened when it drops; operations share it
 * concurrently. An operation cut off by a dropped connection runs once more on a new one
 * (all of them are safe to repeat: a put writes a fresh temporary file).
 */
export class SftpBackend implements RepositoryBackend {
  readonly location: string;
  private readonly config: SftpConfig;
  private readonly port: number;
  private readonly root: string;
  private readonly pinnedHostKey: string | undefined;
  /** The key the first connection saw, which later ones must match when nothing is pinned. */
  private firstHostKey: string | undefined;
  private current: Connection | undefined;
  private closed = false;
  private readonly directories = new Map<string, Promise<void>>();

  constructor(config: SftpConfig) {
    this.config = validateSftpConfig(config);
    const { host, port = 22, username, path, hostKeySha256 } = this.config;
    this.port = port;
    const normalized = posix.normalize(path);
    this.root = normalized.length > 1 ? normalized.replace(/\/+$/, '') : normalized;
    this.pinnedHostKey = hostKeySha256 === undefined ? undefined : normalizeFingerprint(hostKeySha256);
    // As curl writes SFTP URLs: `/~/` starts a path relative to the login directory.
    const where = this.root.startsWith('/') ? this.root : this.root === '.' ? '/~' : `/~/${this.root}`;
    this.location = `sftp://${username}@${host.includes(':') ? `[${host}]` : host}:${port}${where}`;
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    const path = this.pathOf(key);
    return this.run(`reading ${key} from ${this.location}`, async (s) => {
      try {
        return await withHandle(s, path, 'r', async (handle) => {
          if (range) return readAt(s, handle, range.offset, range.length);
          const { size } = await s.call<Stats>((done) => s.sftp.fstat(handle, done));
          return readAt(s, handle, 0, size);
        });
      } catch (error) {
        throw this.notFound(error, key);
      }
    });
  }

  async put(key: string, data: ObjectData): Promise<void> {
    const target = this.pathOf(key);
    const bytes = wholeObject(data);
    await this.run(`writing ${key} to ${this.location}`, async (s) => {
      const tmp = posix.join(this.root, TMP_DIR, `${randomBytes(8).toString('hex')}.tmp`);
      try {
        await Promise.all([this.ensureDirectory(s, posix.dirname(tmp)), this.ensureDirectory(s, posix.dirname(target))]);
        // Data reaches the disk before the name does: a crash leaves either nothing or the whole object.
        await withHandle(s, tmp, 'w', async (handle) => {
          await writeAt(s, handle, bytes);
          await tryExtension(s, (done) => s.sftp.ext_openssh_fsync(handle, done));
        });
        await replace(s, tmp, target);
      } catch (error) {
        await s.call((done) => s.sftp.unlink(tmp, done)).catch(() => undefined);
        throw error;
      }
    });
  }

  async has(key: string): Promise<boolean> {
    const path = this.pathOf(key);
    return this.run(`checking ${key} in ${this.location}`, async (s) => {
      try {
        await s.call<Stats>((done) => s.sftp.stat(path, done));
        return true;
      } catch (error) {
        if (hasStatus(error, STATUS_CODE.NO_SUCH_FILE)) return false;
        throw error;
      }
    });
  }

  async list(prefix: string): Promise<string[]> {
    // The empty prefix is the repository's own directory, which keyParts rightly refuses as an object key.
    const parts = prefix === '' ? [] : this.keyParts(prefix);
    return this.run(`listing ${prefix} in ${this.location}`, async (s) => {
      const keys: string[] = [];
      const slot = limiter(DIRECTORIES_LISTED_AT_ONCE);
      const walk = async (dir: string, keyPrefix: string): Promise<void> => {
        let entries: Awaited<ReturnType<typeof readdir>>;
        try {
          entries = await slot(() => readdir(s, dir));
        } catch (error) {
          if (hasStatus(error, STATUS_CODE.NO_SUCH_FILE)) return;
          throw error;
        }
        const below: Promise<void>[] = [];
        for (const entry of entries) {
          // readdir's attributes are lstat's: a symlink is listed as an object, as the local backend does.
          if (entry.attrs.isDirectory()) below.push(walk(posix.join(dir, entry.filename), `${keyPrefix}${entry.filename}/`));
          else keys.push(`${keyPrefix}${entry.filename}`);
        }
        await Promise.all(below);
      };
      await walk(posix.join(this.root, ...parts), parts.length ? `${parts.join('/')}/` : '');
      return keys;
    });
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    await this.run(`deleting ${key} from ${this.location}`, async (s) => {
      try {
        await s.call((done) => s.sftp.unlink(path, done));
      } catch (error) {
        if (!hasStatus(error, STATUS_CODE.NO_SUCH_FILE)) throw error;
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const connection = this.current;
    this.current = undefined;
    if (!connection || connection.lost) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        connection.client.destroy();
        resolve();
      }, 5_000);
      connection.client.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      connection.client.end();
    });
  }

  /** The key's segments, or INVALID_PATH for a key that is empty, absolute or climbs out of the repository. */
  private keyParts(key: string): string[] {
    const parts: string[] = [];
    const invalid = () => new RepositoryError('INVALID_PATH', `object key escapes the repository: ${key}`);
    if (key.startsWith('/') || key.includes('\0')) throw invalid();
    for (const part of key.split('/')) {
      if (part === '' || part === '.') continue;
      if (part !== '..') parts.push(part);
      else if (parts.pop() === undefined) throw invalid();
    }
    if (parts.length === 0) throw invalid();
    return parts;
  }

  private pathOf(key: string): string {
    return posix.join(this.root, ...this.keyParts(key));
  }

  private notFound(error: unknown, key: string): unknown {
    if (!hasStatus(error, STATUS_CODE.NO_SUCH_FILE)) return error;
    return new RepositoryError('NOT_FOUND', `${key} is missing from the repository at ${this.location}`, { cause: error });
  }

  /** Runs an operation on the connection, opening it if needed, and once more on a new one if it drops meanwhile. */
  private async run<T>(doing: string, operation: (s: Session) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const connection = this.connection();
      const session = await connection.session;
      try {
        return await operation(session);
      } catch (error) {
        if (error instanceof RepositoryError) throw error;
        if (connection.lost && attempt === 1 && !this.closed) continue;
        if (connection.lost) {
          const message = error instanceof Error ? error.message : String(error);
          throw new RepositoryError('IO', `${doing} failed: the SSH connection to ${this.config.host}:${this.port} was lost (${message})`, { cause: error });
        }
        if (hasStatus(error, STATUS_CODE.PERMISSION_DENIED)) {
          throw new RepositoryError('IO', `${doing} failed: permission denied; check that ${this.config.username} may read and write ${this.root} on the server`, { cause: error });
        }
        throw describeIoError(error, doing);
      }
    }
  }

  private connection(): Connection {
    if (this.closed) throw new RepositoryError('IO', `the SFTP backend for ${this.location} was closed`);
    if (this.current && !this.current.lost) return this.current;
    this.directories.clear();
    this.current = this.connect();
    return this.current;
  }

  private connect(): Connection {
    const client = new Client();
    let refusedHostKey: { seen: string; expected: string } | undefined;
    let markLost!: (error: Error) => void;
    const whenLost = new Promise<never>((_, reject) => (markLost = reject));
    whenLost.catch(() => undefined);
    const connection: Connection = { client, lost: false, session: whenLost };
    const lose = (why: string) => {
      if (connection.lost) return;
      connection.lost = true;
      if (this.current === connection) this.current = undefined;
      markLost(new Error(why));
    };
    const call = <T>(request: (done: Done<T>) => void): Promise<T> => {
      if (connection.lost) return whenLost;
      return Promise.race([promised(request), whenLost]);
    };
    connection.session = new Promise<Session>((resolve, reject) => {
      const fail = (error: unknown) => {
        lose(error instanceof Error ? error.message : String(error));
        reject(this.connectError(error, refusedHostKey));
      };
      // After 'ready' these only mark the connection lost: the promise has settled, and pending requests fail with the reason.
      client.on('error', fail);
      client.on('end', () => lose('the server closed the connection'));
      client.on('close', () => fail(new Error('the server closed the connection')));
      client.on('ready', () => {
        client.sftp((error, sftp) => {
          if (error) {
            fail(error);
            client.end();
            return;
          }
          sftp.on('error', (error: Error) => lose(`SFTP session error: ${error.message}`));
          sftp.on('close', () => {
            lose('the server ended the SFTP session');
            client.end();
          });
          resolve({ sftp, call });
        });
      });
      try {
        client.connect({
          host: this.config.host,
          port: this.port,
          username: this.config.username,
          privateKey: this.config.privateKey,
          passphrase: this.config.passphrase,
          readyTimeout: READY_TIMEOUT_MS,
          keepaliveInterval: KEEPALIVE_INTERVAL_MS,
          keepaliveCountMax: 3,
          hostVerifier: (key: Buffer) => {
            const seen = fingerprintOf(key);
            const expected = this.pinnedHostKey ?? this.firstHostKey;
            if (expected === undefined) this.firstHostKey = seen;
            else if (seen !== expected) {
              refusedHostKey = { seen, expected };
              return false;
            }
            return true;
          },
        });
      } catch (error) {
        fail(error);
      }
    });
    // The caller awaits it at once; this only keeps a late rejection from counting as unhandled.
    connection.session.catch(() => undefined);
    return connection;
  }

  /** A message a person can act on, for a connection that could not be opened. Never contains the key or passphrase. */
  private connectError(error: unknown, refusedHostKey: { seen: string; expected: string } | undefined): RepositoryError {
    const server = `the SSH server at ${this.config.host}:${this.port}`;
    const err = error as { code?: unknown; level?: unknown; message?: unknown };
    const message = typeof err?.message === 'string' ? err.message : String(error);
    let why: string;
    if (refusedHostKey) {
      const whose = this.pinnedHostKey ? 'hostKeySha256 pins' : "this backend's first connection saw";
      why =
        `host key mismatch: ${server} presented SHA256:${refusedHostKey.seen}, but ${whose} SHA256:${refusedHostKey.expected}; refusing to connect. ` +
        `If the server's host key was changed on purpose, set hostKeySha256 to its new fingerprint (ssh-keygen -lf on the server's public host key)`;
    } else if (err?.level === 'client-authentication') {
      why = `${server} refused key authentication for user "${this.config.username}"; add the public half of privateKey to that user's authorized_keys on the server, or check username`;
    } else if (err?.code === 'ECONNREFUSED') {
      why = `connection refused by ${this.config.host}:${this.port}; check host and port, and that the SSH server is running`;
    } else if (err?.code === 'ENOTFOUND' || err?.code === 'EAI_AGAIN') {
      why = `the host name ${this.config.host} cannot be resolved`;
    } else if (err?.level === 'client-timeout' || err?.code === 'ETIMEDOUT' || err?.code === 'EHOSTUNREACH' || err?.code === 'ENETUNREACH') {
      why = `${server} did not complete the SSH handshake within ${READY_TIMEOUT_MS / 1000} s (${message}); check host, port and firewalls`;
    } else if (/privateKey|passphrase/i.test(message)) {
      why = `the private key cannot be used: ${message}`;
    } else {
      why = `${message}`;
    }
    return new RepositoryError('IO', `cannot open the SFTP repository at ${this.location}: ${why}`, { cause: error });
  }

  /** mkdir -p, once per directory and connection; concurrent puts into one new directory share the work. */
  private ensureDirectory(s: Session, dir: string): Promise<void> {
    let making = this.directories.get(dir);
    if (!making) {
      making = makeDirectory(s, dir).catch((error: unknown) => {
        this.directories.delete(dir);
        throw error;
      });
      this.directories.set(dir, making);
    }
    return making;
  }
}

/** A callback-style ssh2 call as a promise; ssh2 also throws synchronously (a closed channel, a bad argument). */
function promised<T>(call: (done: Done<T>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      call((error, value) => (error ? reject(error) : resolve(value)));
    } catch (error) {
      reject(error);
    }
  });
}

/** Runs an OpenSSH extension; false when the server does not offer it (ssh2 throws before sending anything then). */
async function tryExtension(s: Session, request: (done: (error?: Error | null) => void) => void): Promise<boolean> {
  let offered = true;
  await s.call<unknown>((done) => {
    try {
      request((error) => done(error, undefined));
    } catch {
      offered = false;
      done(undefined, undefined);
    }
  });
  return offered;
}

function hasStatus(error: unknown, status: number): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === status;
}

async function withHandle<T>(s: Session, path: string, flags: 'r' | 'w', use: (handle: Buffer) => Promise<T>): Promise<T> {
  const handle = await s.call<Buffer>((done) => s.sftp.open(path, flags, { mode: 0o600 }, done));
  let result: T;
  try {
    result = await use(handle);
  } catch (error) {
    await s.call((done) => s.sftp.close(handle, done)).catch(() => undefined);
    throw error;
  }
  // A failed close can mean data that never reached the file, so it fails the operation.
  await s.call((done) => s.sftp.close(handle, done));
  return result;
}

/** `length` bytes from `offset`, fewer at the end of the file, with several read requests in flight. */
async function readAt(s: Session, handle: Buffer, offset: number, length: number): Promise<Buffer> {
  if (length <= 0) return Buffer.alloc(0);
  const buffer = Buffer.allocUnsafe(length);
  let end = length;
  await inParallel(chunkStarts(length), CHUNKS_IN_FLIGHT, async (start) => {
    const want = Math.min(CHUNK_BYTES, length - start);
    // A server may answer a read with fewer bytes than asked for before the end of the file.
    for (let got = 0; got < want; ) {
      const read = await s.call<number>((done) => s.sftp.read(handle, buffer, start + got, want - got, offset + start + got, done));
      if (read === 0) {
        end = Math.min(end, start + got);
        return;
      }
      got += read;
    }
  });
  return buffer.subarray(0, end);
}

async function writeAt(s: Session, handle: Buffer, data: Buffer): Promise<void> {
  await inParallel(chunkStarts(data.length), CHUNKS_IN_FLIGHT, (start) =>
    s.call((done) => s.sftp.write(handle, data, start, Math.min(CHUNK_BYTES, data.length - start), start, done)),
  );
}

function chunkStarts(length: number): number[] {
  return Array.from({ length: Math.ceil(length / CHUNK_BYTES) }, (_, i) => i * CHUNK_BYTES);
}

/** Runs `work` on every item, at most `limit` at once; on a failure, starts nothing new and lets the running ones finish before rejecting. */
async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      try {
        await work(items[next++]!);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}

/** A gate letting at most `max` calls run at once. */
function limiter(max: number): <T>(call: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (call) => {
    if (running >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await call();
    } finally {
      // Hands the slot straight to a waiting call, so a newcomer cannot take it in between.
      const nextInLine = waiting.shift();
      if (nextInLine) nextInLine();
      else running--;
    }
  };
}

function readdir(s: Session, dir: string) {
  return s.call<{ filename: string; attrs: Stats }[]>((done) => s.sftp.readdir(dir, done));
}

async function makeDirectory(s: Session, dir: string, parentMade = false): Promise<void> {
  try {
    await s.call((done) => s.sftp.mkdir(dir, done));
    return;
  } catch (error) {
    const parent = posix.dirname(dir);
    // Only once: some places (/proc, odd servers) let the parent exist yet answer "no such file" for every child.
    if (hasStatus(error, STATUS_CODE.NO_SUCH_FILE) && parent !== dir && !parentMade) {
      await makeDirectory(s, parent);
      return makeDirectory(s, dir, true);
    }
    // SFTP v3 has no "already exists" status (OpenSSH answers FAILURE): look before giving up.
    const stats = await s.call<Stats>((done) => s.sftp.stat(dir, done)).catch(() => undefined);
    if (stats?.isDirectory()) return;
    const message = error instanceof Error ? error.message : String(error);
    throw Object.assign(new Error(`cannot create the directory ${dir} on the server (${message})`, { cause: error }), { code: (error as { code?: unknown }).code });
  }
}

/** Renames `from` onto `to`, replacing `to` if it exists (see the class comment for how). */
async function replace(s: Session, from: string, to: string): Promise<void> {
  if (await tryExtension(s, (done) => s.sftp.ext_openssh_rename(from, to, done))) return;
  try {
    await s.call((done) => s.sftp.rename(from, to, done));
  } catch (error) {
    const exists = await s.call<Stats>((done) => s.sftp.stat(to, done)).then(
      () => true,
      () => false,
    );
    if (!exists) throw error;
    await s.call((done) => s.sftp.unlink(to, done));
    await s.call((done) => s.sftp.rename(from, to, done));
  }
}
