/**
 * S3 and SFTP destinations through GraphQL, against a real s3rver and a real OpenSSH sshd on
 * loopback: credentials are secrets the API never returns, a tree backed up to each restores
 * identical and verifies, and a wrong bucket, key or host is refused when the destination is
 * created, with nothing recorded.
 */
import { S3Backend } from '@chainvault/repository';
import { compareTrees, startS3rver, startSshd, writeSampleTree, type RunningS3rver, type RunningSshd } from '@chainvault/testing';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { utils } from 'ssh2';
import { DataSource } from 'typeorm';
import { BACKUP, CREATE_DESTINATION, CREATE_NETWORK, CREATE_POLICY, REGISTER_NODE, VERIFY, backupNow, restoreTo } from './support/scenario';
import { startTestServer, type TestServer } from './support/test-server';

const MiB = 1024 * 1024;
const CREATE_DESTINATION_WITH_SECRETS = CREATE_DESTINATION.replace('config }', 'config secretFields }');
const DESTINATIONS = `{ destinations { id name kind config secretFields } }`;

describe('S3 and SFTP destinations through GraphQL', () => {
  let server: TestServer;
  let s3: RunningS3rver;
  let sshd: RunningSshd;
  let work: string;
  let source: string;
  const passphrase = 'an s3 repository passphrase';
  // s3rver checks the key id but not the signature, so any secret key works with its account: this one can be looked for.
  const secretAccessKey = 'a-distinctive-secret-access-key';

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-remote-'));
    [s3, sshd] = await Promise.all([startS3rver(), startSshd()]);
    server = await startTestServer();
    source = join(work, 'source');
    await writeSampleTree(source, { bigFileBytes: 3 * MiB + 17 });
  });

  afterAll(async () => {
    await server?.close();
    await Promise.all([s3?.stop(), sshd?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  const s3Config = (overrides: Record<string, unknown> = {}) => ({
    bucket: s3.bucket,
    prefix: 'chainvault/e2e',
    endpoint: s3.endpoint,
    accessKeyId: s3.accessKeyId,
    secretAccessKey,
    ...overrides,
  });
  const sftpConfig = (overrides: Record<string, unknown> = {}) => ({
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    path: join(sshd.root, 'repository'),
    privateKey: sshd.privateKey,
    hostKeySha256: sshd.hostKeySha256,
    ...overrides,
  });

  /** A directory node for the sample tree and a policy writing to `destinationId`. */
  async function policyTo(name: string, destinationId: string): Promise<string> {
    const { client } = server;
    const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name, protocol: 'directory' } });
    const { registerNode } = await client.ok(REGISTER_NODE, { input: { networkId: createNetwork.id, name: `${name}-files`, plugin: 'directory', role: 'node', config: { path: source } } });
    const { createPolicy } = await client.ok(CREATE_POLICY, { input: { name: `${name}-policy`, nodeId: registerNode.id, method: 'snapshot', destinationIds: [destinationId] } });
    return createPolicy.id;
  }

  /** Backs the sample tree up through the policy, restores it, compares, and verifies with read-data. */
  async function roundTrip(policyId: string, restoreName: string): Promise<string> {
    const { client } = server;
    const backup = await backupNow(client, policyId);
    expect({ status: backup.status, error: backup.error }).toEqual({ status: 'COMPLETED', error: null });

    const restored = join(work, restoreName);
    const restore = await restoreTo(client, backup.backupId, restored);
    expect({ status: restore.status, error: restore.error }).toEqual({ status: 'COMPLETED', error: null });
    expect(await compareTrees(source, restored)).toEqual([]);

    const { verifyBackup } = await client.ok(VERIFY, { id: backup.backupId, readData: true });
    expect((await client.waitForJob(verifyBackup.id)).status).toBe('COMPLETED');
    const { backup: verified } = await client.ok(BACKUP, { id: backup.backupId });
    expect({ verification: verified.verification, problems: verified.verificationProblems }).toEqual({ verification: 'VERIFIED', problems: [] });
    return backup.backupId;
  }

  /** The destination row as the catalog stores it, to look for secrets in plain text. */
  async function storedRow(id: string): Promise<string> {
    const rows = await server.app.get(DataSource).query(`SELECT config, secrets FROM destination WHERE id = '${id}'`);
    return JSON.stringify(rows[0]);
  }

  it('backs up to an encrypted S3 destination, restores identical and verifies, and never returns its secrets', async () => {
    const { createDestination } = await server.client.ok(CREATE_DESTINATION_WITH_SECRETS, {
      input: { name: 's3-vault', kind: 'S3', config: s3Config({ prefix: '/chainvault/e2e/', passphrase }) },
    });
    // The prefix is stored as the backend uses it; the secret key and the passphrase are not returned.
    expect(createDestination.config).toEqual({ bucket: s3.bucket, prefix: 'chainvault/e2e', endpoint: s3.endpoint, accessKeyId: s3.accessKeyId });
    expect([...createDestination.secretFields].sort()).toEqual(['passphrase', 'secretAccessKey']);
    const row = await storedRow(createDestination.id);
    expect(row).not.toContain(passphrase);
    expect(row).not.toContain(secretAccessKey);

    const backupId = await roundTrip(await policyTo('s3-net', createDestination.id), 'restored-from-s3');

    // The repository is in the bucket under the prefix, encrypted, and holds the backup's manifest.
    const bucket = new S3Backend({ bucket: s3.bucket, prefix: 'chainvault/e2e', endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
    try {
      const keys = await bucket.list('');
      expect(keys).toEqual(expect.arrayContaining(['chainvault-repository.json', `manifests/${backupId}`]));
      expect(keys.some((key) => key.startsWith('data/'))).toBe(true);
      expect(keys.filter((key) => key.startsWith('keys/'))).toHaveLength(1);
      const config = JSON.parse((await bucket.get('chainvault-repository.json')).toString('utf8'));
      expect(config.encryption).toEqual({ cipher: 'aes-256-gcm', blobIds: 'hmac-sha256' });
    } finally {
      await bucket.close();
    }

    const { destinations } = await server.client.ok(DESTINATIONS);
    const listed = destinations.find((d: { id: string }) => d.id === createDestination.id);
    expect(listed.config).toEqual(createDestination.config);
    expect(JSON.stringify(destinations)).not.toContain(secretAccessKey);
    expect(JSON.stringify(destinations)).not.toContain(passphrase);
  });

  it('backs up to a plain SFTP destination, restores identical and verifies, and never returns the private key', async () => {
    const path = join(sshd.root, 'repository');
    const { createDestination } = await server.client.ok(CREATE_DESTINATION_WITH_SECRETS, {
      input: { name: 'sftp-repo', kind: 'SFTP', config: sftpConfig({ path, compression: 'none' }) },
    });
    expect(createDestination.config).toEqual({ host: sshd.host, port: sshd.port, username: sshd.username, path, hostKeySha256: sshd.hostKeySha256, compression: 'none' });
    expect(createDestination.secretFields).toEqual(['privateKey']);
    expect(await storedRow(createDestination.id)).not.toContain('PRIVATE KEY');

    const backupId = await roundTrip(await policyTo('sftp-net', createDestination.id), 'restored-from-sftp');

    // The repository is on the server, plain, as the format describes it.
    const config = JSON.parse(await readFile(join(path, 'chainvault-repository.json'), 'utf8'));
    expect(config).toMatchObject({ encryption: null, compression: 'none' });
    expect(await readdir(join(path, 'manifests'))).toEqual([backupId]);
    expect(await readdir(join(path, 'tmp'))).toEqual([]);

    const { destinations } = await server.client.ok(DESTINATIONS);
    expect(JSON.stringify(destinations)).not.toContain('PRIVATE KEY');
  });

  it('closes its SFTP connection when the server stops', async () => {
    const count = (what: string) => sshd.log().split('\n').filter((line) => line.startsWith(what)).length;
    const other = await startTestServer();
    let stopped = false;
    try {
      const loginsBefore = count('Accepted publickey');
      await other.client.ok(CREATE_DESTINATION, { input: { name: 'sftp-short-lived', kind: 'SFTP', config: sftpConfig({ path: join(sshd.root, 'short-lived') }) } });
      const logins = count('Accepted publickey') - loginsBefore;
      expect(logins).toBeGreaterThan(0);
      const disconnectsBefore = count('Disconnected from user');
      await other.close();
      stopped = true;
      // sshd logs the client's disconnect a moment after it arrives.
      const deadline = Date.now() + 5_000;
      while (count('Disconnected from user') - disconnectsBefore < logins && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(count('Disconnected from user') - disconnectsBefore).toBe(logins);
    } finally {
      if (!stopped) await other.close();
    }
  });

  describe('bad input: refused at creation with a message naming the problem, and nothing recorded', () => {
    async function refused(kind: 'S3' | 'SFTP', config: Record<string, unknown>, ...patterns: RegExp[]): Promise<string> {
      const before = await server.client.ok(DESTINATIONS);
      const error = await server.client.fails(CREATE_DESTINATION, { input: { name: `bad-${kind.toLowerCase()}`, kind, config } });
      expect({ code: error.extensions?.code, message: error.message }).toEqual({ code: 'BAD_USER_INPUT', message: expect.any(String) });
      for (const pattern of patterns) expect(error.message).toMatch(pattern);
      expect(await server.client.ok(DESTINATIONS)).toEqual(before);
      return error.message;
    }

    it('refuses a bucket that does not exist', async () => {
      await refused('S3', s3Config({ bucket: 'no-such-bucket', prefix: 'wrong-bucket' }), /destination "bad-s3"/, /the bucket no-such-bucket does not exist/);
    });

    it('refuses an access key id the service does not know, without repeating the secret key', async () => {
      const message = await refused('S3', s3Config({ accessKeyId: 'AKIANOTANACCOUNT', prefix: 'wrong-key' }), /destination "bad-s3"/, /access denied/, /check accessKeyId and secretAccessKey/);
      expect(message).not.toContain(secretAccessKey);
    });

    it('refuses an S3 config with an unknown field or a half pair of credentials', async () => {
      await refused('S3', s3Config({ secretKey: 'x' }), /config: unknown field "secretKey"/);
      await refused('S3', s3Config({ secretAccessKey: undefined }), /S3 destination config: secretAccessKey is required when the other credential is given/);
      await refused('S3', s3Config({ endpoint: 'ftp://127.0.0.1' }), /endpoint must be an http\(s\) URL/);
    });

    it('refuses an SFTP server whose host key does not match the pinned fingerprint', async () => {
      const other = `SHA256:${createHash('sha256').update('another host key').digest('base64').replace(/=+$/, '')}`;
      // A relative path is the server's, relative to the login directory; it is not taken from the local data directory.
      await refused('SFTP', sftpConfig({ hostKeySha256: other, path: 'relative/repository' }), /destination "bad-sftp"/, /host key mismatch/, new RegExp(`/~/relative/repository`), new RegExp(other.replace(/[+/]/g, '\\$&')));
    });

    it('refuses a private key the server does not accept, without repeating it', async () => {
      const { private: privateKey } = utils.generateKeyPairSync('ed25519');
      const message = await refused('SFTP', sftpConfig({ privateKey, path: join(sshd.root, 'never') }), /refused key authentication for user/, new RegExp(`"${sshd.username}"`));
      expect(message).not.toContain(privateKey.split('\n')[1]);
      await expect(readdir(join(sshd.root, 'never'))).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('refuses an SFTP config with an unknown field, a file name for a key, or an encrypted key without its passphrase', async () => {
      await refused('SFTP', sftpConfig({ keyFile: '/root/.ssh/id_ed25519' }), /config: unknown field "keyFile"/);
      await refused('SFTP', sftpConfig({ privateKey: '/root/.ssh/id_ed25519' }), /privateKey must be the text of a private key/);
      const { private: encrypted } = utils.generateKeyPairSync('ed25519', { passphrase: 'key passphrase', cipher: 'aes256-ctr', rounds: 16 });
      await refused('SFTP', sftpConfig({ privateKey: encrypted }), /privateKey cannot be read/);
      await refused('SFTP', sftpConfig({ privateKey: encrypted, privateKeyPassphrase: 'not the key passphrase' }), /privateKey cannot be read/);
    });
  });
});
