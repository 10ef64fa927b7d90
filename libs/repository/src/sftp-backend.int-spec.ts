import { startSshd, type RunningSshd } from '@chainvault/testing';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { utils } from 'ssh2';
import { describeBackendContract } from './backend.contract';
import { RepositoryError } from './repository.errors';
import { SftpBackend, validateSftpConfig, type SftpConfig } from './sftp-backend';

let sshd: RunningSshd;

beforeAll(async () => {
  sshd = await startSshd();
});

afterAll(async () => {
  await sshd?.stop();
});

function configFor(overrides: Partial<SftpConfig> = {}): SftpConfig {
  return {
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKey: sshd.privateKey,
    path: join(sshd.root, `repo-${randomBytes(6).toString('hex')}`),
    ...overrides,
  };
}

const logins = () => sshd.log().split('\n').filter((line) => line.startsWith('Accepted publickey')).length;

describeBackendContract('sftp', () => ({ create: async () => new SftpBackend(configFor()) }));

describe('SftpBackend', () => {
  const opened: SftpBackend[] = [];
  const backendFor = (overrides: Partial<SftpConfig> = {}) => {
    const backend = new SftpBackend(configFor(overrides));
    opened.push(backend);
    return backend;
  };

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((backend) => backend.close()));
  });

  it('keeps objects as plain files under the repository path, with nothing left in tmp/', async () => {
    const config = configFor();
    const backend = new SftpBackend(config);
    opened.push(backend);
    expect(backend.location).toBe(`sftp://${sshd.username}@127.0.0.1:${sshd.port}${config.path}`);
    await backend.put('snapshots/s1', Buffer.from('a snapshot'));
    await backend.put('snapshots/s1', Buffer.from('the snapshot, replaced'));
    expect(await readFile(join(config.path, 'snapshots/s1'), 'utf8')).toBe('the snapshot, replaced');
    expect(await readdir(join(config.path, 'tmp'))).toEqual([]);
  });

  it('names the key and the sftp:// location when an object is missing', async () => {
    const config = configFor();
    const backend = backendFor({ path: config.path });
    const error = await backend.get('snapshots/nope').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RepositoryError);
    expect(error).toMatchObject({ code: 'NOT_FOUND' });
    expect((error as Error).message).toContain('snapshots/nope');
    expect((error as Error).message).toContain(`sftp://${sshd.username}@127.0.0.1:${sshd.port}${config.path}`);
  });

  it('lists a directory with more entries than the server sends in one READDIR reply', async () => {
    const backend = backendFor();
    const keys = Array.from({ length: 250 }, (_, i) => `index/${String(i).padStart(4, '0')}`);
    await Promise.all(keys.map((key) => backend.put(key, Buffer.from(key))));
    expect((await backend.list('index')).sort()).toEqual(keys);
  });

  it('runs many operations at once on its one connection', async () => {
    const backend = backendFor();
    const before = logins();
    const objects = Array.from({ length: 40 }, (_, i) => [`data/${i % 4}/${i}`, randomBytes(100_000 + i)] as const);
    await Promise.all(objects.map(([key, data]) => backend.put(key, data)));
    const read = await Promise.all(objects.map(([key]) => backend.get(key)));
    expect(read.every((data, i) => data.equals(objects[i]![1]))).toBe(true);
    expect(logins() - before).toBe(1);
  });

  it('fails a put whose directories cannot be made, instead of trying forever', async () => {
    // /proc answers "no such file" for any new directory, even right under itself.
    const backend = backendFor({ path: '/proc/chainvault-repo' });
    await expect(backend.put('data/ab/ab01', Buffer.from('x'))).rejects.toMatchObject({
      code: 'IO',
      message: expect.stringContaining('cannot create the directory /proc/chainvault-repo'),
    });
  });

  it('refuses a key the server does not accept with an IO error that says so, without the key', async () => {
    const stranger = utils.generateKeyPairSync('ed25519').private;
    const backend = backendFor({ privateKey: stranger });
    const error = await backend.has('config').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'IO' });
    expect((error as Error).message).toMatch(new RegExp(`refused key authentication for user "${sshd.username}"`));
    expect((error as Error).message).not.toContain(stranger.split('\n')[1]!);
  });

  it('says the connection was refused when nothing listens on the port', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const error = await backendFor({ port: closedPort }).has('config').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'IO' });
    expect((error as Error).message).toContain(`connection refused by 127.0.0.1:${closedPort}`);
  });

  it('refuses a server whose host key does not match hostKeySha256, naming both fingerprints', async () => {
    const pinned = `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`;
    const config = configFor({ hostKeySha256: pinned });
    const error = await backendFor(config).put('config', Buffer.from('x')).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'IO' });
    expect((error as Error).message).toContain('host key mismatch');
    expect((error as Error).message).toContain(sshd.hostKeySha256);
    expect((error as Error).message).toContain(pinned);
    // Refused before logging in: nothing reached the server's disk.
    await expect(stat(config.path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('connects when hostKeySha256 matches, with or without the SHA256: prefix', async () => {
    for (const hostKeySha256 of [sshd.hostKeySha256, sshd.hostKeySha256.replace(/^SHA256:/, '')]) {
      const backend = backendFor({ hostKeySha256 });
      await backend.put('config', Buffer.from('pinned'));
      expect((await backend.get('config')).toString()).toBe('pinned');
    }
  });

  it('reconnects when the server drops the connection', async () => {
    const backend = backendFor();
    await backend.put('snapshots/s1', Buffer.from('before the drop'));
    const before = logins();
    await sshd.dropConnections();
    expect((await backend.get('snapshots/s1')).toString()).toBe('before the drop');
    await backend.put('snapshots/s2', Buffer.from('after the drop'));
    expect((await backend.list('snapshots')).sort()).toEqual(['snapshots/s1', 'snapshots/s2']);
    expect(logins() - before).toBe(1);
  });

  it('finishes a put that the connection dropped under, on a new connection', async () => {
    const config = configFor();
    const backend = backendFor({ path: config.path });
    await backend.put('config', Buffer.from('x'));
    const data = randomBytes(32 * 1024 * 1024);
    const writing = backend.put('data/big', data);
    // Drop while the temporary file is being written: requests are in flight, and the put must not hang on them.
    const deadline = Date.now() + 5_000;
    while (readdirSync(join(config.path, 'tmp')).length === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    const before = logins();
    await sshd.dropConnections();
    await writing;
    expect(logins() - before).toBe(1);
    expect((await backend.get('data/big')).equals(data)).toBe(true);
  });

  it('reconnects when its own connection ends under it', async () => {
    const backend = backendFor();
    await backend.put('snapshots/s1', Buffer.from('x'));
    const before = logins();
    (backend as any).current.client.end();
    expect(await backend.has('snapshots/s1')).toBe(true);
    expect(logins() - before).toBe(1);
  });

  it('is not usable after close', async () => {
    const backend = backendFor();
    await backend.put('config', Buffer.from('x'));
    await backend.close();
    await expect(backend.has('config')).rejects.toMatchObject({ code: 'IO', message: expect.stringContaining('closed') });
  });
});

describe('validateSftpConfig', () => {
  const valid = () => ({ host: 'backup.example', port: 2222, username: 'chainvault', path: '/srv/repo', privateKey: sshd.privateKey });

  it('returns a valid config as given', () => {
    expect(validateSftpConfig(valid())).toEqual(valid());
    const { port: _port, ...withoutPort } = valid();
    expect(validateSftpConfig({ ...withoutPort, hostKeySha256: sshd.hostKeySha256 })).toMatchObject({ hostKeySha256: sshd.hostKeySha256 });
  });

  it.each([
    ['host', { host: '' }],
    ['host', { host: undefined }],
    ['port', { port: 0 }],
    ['port', { port: '22' }],
    ['port', { port: 22.5 }],
    ['username', { username: 42 }],
    ['path', { path: undefined }],
    ['privateKey', { privateKey: '/root/.ssh/id_ed25519' }],
    ['privateKey', { privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----\n' }],
    ['passphrase', { passphrase: 7 }],
    ['hostKeySha256', { hostKeySha256: 'MD5:12:34:56' }],
    ['hostkeySha256', { hostkeySha256: 'SHA256:typo-in-the-field-name' }],
  ])('names %s when it is bad (%j)', (field, change) => {
    expect(() => validateSftpConfig({ ...valid(), ...change })).toThrow(new RegExp(`\\b${field}\\b`));
  });

  it('names privateKey when an encrypted key comes without its passphrase, and accepts it with', () => {
    const encrypted = utils.generateKeyPairSync('ed25519', { passphrase: 'correct horse', cipher: 'aes256-ctr', rounds: 4 }).private;
    expect(() => validateSftpConfig({ ...valid(), privateKey: encrypted })).toThrow(/privateKey.*passphrase/);
    expect(validateSftpConfig({ ...valid(), privateKey: encrypted, passphrase: 'correct horse' })).toMatchObject({ passphrase: 'correct horse' });
  });

  it('refuses what is not an object', () => {
    expect(() => validateSftpConfig('sftp://backup.example/srv/repo')).toThrow(/must be an object/);
  });

  it('is what the constructor applies', () => {
    expect(() => new SftpBackend({ ...valid(), port: -1 })).toThrow(/port/);
  });
});
