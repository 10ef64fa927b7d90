/**
 * An encrypted destination, end to end: the passphrase is a secret the API never returns, the
 * repository holds no plaintext, and a wrong passphrase is refused with a clear error.
 */
import { compareTrees } from '@chainvault/testing';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { CREATE_DESTINATION, CREATE_NETWORK, CREATE_POLICY, REGISTER_NODE, backupNow, restoreTo } from './support/scenario';
import { startTestServer, type TestServer } from './support/test-server';

async function allBytes(dir: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const name of await readdir(dir)) {
    const full = join(dir, name);
    if ((await stat(full)).isDirectory()) parts.push(await allBytes(full));
    else parts.push(await readFile(full));
  }
  return Buffer.concat(parts);
}

describe('an encrypted LOCAL destination', () => {
  let server: TestServer;
  let work: string;
  const passphrase = 'correct horse battery staple';
  const secretLine = 'validator key 7f3a-a-very-distinctive-line-of-plaintext\n';

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-encrypted-'));
    server = await startTestServer();
  });

  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('keeps the passphrase secret, stores no plaintext, and restores identical', async () => {
    const { client } = server;
    const source = join(work, 'source');
    await mkdir(join(source, 'keystore'), { recursive: true });
    await writeFile(join(source, 'keystore', 'notes.txt'), secretLine.repeat(2000));
    const repository = join(work, 'vault');

    const { createDestination } = await client.ok(`${CREATE_DESTINATION.replace('config }', 'config secretFields }')}`, {
      input: { name: 'vault', kind: 'LOCAL', config: { path: repository, passphrase } },
    });
    expect(createDestination.config).toEqual({ path: repository });
    expect(createDestination.secretFields).toEqual(['passphrase']);
    const config = JSON.parse(await readFile(join(repository, 'chainvault-repository.json'), 'utf8'));
    expect(config.encryption).toEqual({ cipher: 'aes-256-gcm', blobIds: 'hmac-sha256' });

    const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name: 'secret-net', protocol: 'directory' } });
    const { registerNode } = await client.ok(REGISTER_NODE, { input: { networkId: createNetwork.id, name: 'keys', plugin: 'directory', role: 'node', config: { path: source } } });
    const { createPolicy } = await client.ok(CREATE_POLICY, { input: { name: 'keys-policy', nodeId: registerNode.id, method: 'snapshot', destinationIds: [createDestination.id] } });

    const job = await backupNow(client, createPolicy.id);
    expect(job.status).toBe('COMPLETED');
    const stored = await allBytes(repository);
    expect(stored.includes(Buffer.from('very-distinctive-line'))).toBe(false);
    const catalog = await allBytes(server.config.dataDir);
    expect(catalog.includes(Buffer.from(passphrase))).toBe(false);
    const rows = await server.app.get(DataSource).query(`SELECT config, secrets FROM destination WHERE id = '${createDestination.id}'`);
    expect(rows[0].config).not.toContain(passphrase);
    expect(rows[0].secrets).toMatch(/^v1:/);

    const restored = join(work, 'restored');
    expect((await restoreTo(client, job.backupId, restored)).status).toBe('COMPLETED');
    expect(await compareTrees(source, restored)).toEqual([]);
  });

  it('refuses a second destination on the same repository with a wrong or missing passphrase', async () => {
    const repository = join(work, 'vault');
    const wrong = await server.client.fails(CREATE_DESTINATION, { input: { name: 'vault-wrong', kind: 'LOCAL', config: { path: repository, passphrase: 'not the passphrase' } } });
    expect(wrong.extensions?.code).toBe('BAD_USER_INPUT');
    expect(wrong.message).toMatch(/passphrase does not open the repository/);
    const missing = await server.client.fails(CREATE_DESTINATION, { input: { name: 'vault-open', kind: 'LOCAL', config: { path: repository } } });
    expect(missing.message).toMatch(/is encrypted: give its passphrase/);
    const short = await server.client.fails(CREATE_DESTINATION, { input: { name: 'vault-short', kind: 'LOCAL', config: { path: join(work, 'other'), passphrase: 'short' } } });
    expect(short.message).toMatch(/config\.passphrase: must NOT have fewer than 8 characters/);
    const { destinations } = await server.client.ok(`{ destinations { name } }`);
    expect(destinations.map((d: { name: string }) => d.name).sort()).toEqual(['local', 'vault']);
  });
});
