import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretBox } from './secret-box';

const newKey = () => randomBytes(32).toString('base64');

describe('SecretBox', () => {
  it('opens what it sealed, and the sealed text does not contain the secret', () => {
    const box = SecretBox.fromKey(newKey());
    const secret = { password: 'hunter2-correct-horse', tls: { key: '-----BEGIN KEY-----' }, n: 42 };
    const sealed = box.seal(secret);
    expect(sealed).not.toContain('hunter2');
    expect(sealed.startsWith('v1:')).toBe(true);
    expect(box.open(sealed)).toEqual(secret);
  });

  it('seals the same value differently each time (fresh nonce)', () => {
    const box = SecretBox.fromKey(newKey());
    expect(box.seal('same')).not.toEqual(box.seal('same'));
  });

  it('refuses a tampered ciphertext with a message that says it cannot be decrypted', () => {
    const box = SecretBox.fromKey(newKey());
    const [prefix, iv, tag, body] = box.seal({ password: 'p4ssw0rd' }).split(':');
    const bytes = Buffer.from(body, 'base64');
    bytes[0] ^= 0x01;
    const tampered = [prefix, iv, tag, bytes.toString('base64')].join(':');
    expect(() => box.open(tampered)).toThrow(/cannot be decrypted/);
  });

  it('refuses a tampered authentication tag', () => {
    const box = SecretBox.fromKey(newKey());
    const [prefix, iv, tag, body] = box.seal('x').split(':');
    const bytes = Buffer.from(tag, 'base64');
    bytes[bytes.length - 1] ^= 0x80;
    expect(() => box.open([prefix, iv, bytes.toString('base64'), body].join(':'))).toThrow(/cannot be decrypted/);
  });

  it('refuses to open with another key, and says the key may have changed', () => {
    const sealed = SecretBox.fromKey(newKey()).seal({ password: 'p' });
    expect(() => SecretBox.fromKey(newKey()).open(sealed)).toThrow(/secret key changed/);
  });

  it('refuses text that is not a sealed secret', () => {
    const box = SecretBox.fromKey(newKey());
    expect(() => box.open('plain text')).toThrow(/unknown format/);
    expect(() => box.open('v2:a:b:c')).toThrow(/unknown format/);
  });

  it('refuses a key that is not 32 bytes, saying how to make one', () => {
    expect(() => SecretBox.fromKey(randomBytes(16).toString('base64'))).toThrow(/32 bytes.*openssl rand -base64 32/);
  });

  describe('fromDataDir', () => {
    let dataDir: string;
    beforeEach(async () => {
      dataDir = join(await mkdtemp(join(tmpdir(), 'chainvault-secret-')), 'data');
    });
    afterEach(async () => {
      await rm(join(dataDir, '..'), { recursive: true, force: true });
    });

    it('creates secret.key with mode 0600 and reuses it on the next start', async () => {
      const first = await SecretBox.fromDataDir(dataDir);
      const file = join(dataDir, 'secret.key');
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const key = (await readFile(file, 'utf8')).trim();
      expect(Buffer.from(key, 'base64')).toHaveLength(32);

      const sealed = first.seal({ password: 'kept across restarts' });
      const second = await SecretBox.fromDataDir(dataDir);
      expect(second.open(sealed)).toEqual({ password: 'kept across restarts' });
      expect((await readFile(file, 'utf8')).trim()).toBe(key);
    });

    it('two servers starting at once share one key', async () => {
      const [a, b] = await Promise.all([SecretBox.fromDataDir(dataDir), SecretBox.fromDataDir(dataDir)]);
      expect(b.open(a.seal('shared'))).toBe('shared');
    });

    it('tightens a key file that others can read back to 0600', async () => {
      await SecretBox.fromDataDir(dataDir);
      const file = join(dataDir, 'secret.key');
      const { chmod } = await import('node:fs/promises');
      await chmod(file, 0o644);
      await SecretBox.fromDataDir(dataDir);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
    });

    it('uses an existing key file and fails clearly on a broken one', async () => {
      const { mkdir } = await import('node:fs/promises');
      await mkdir(dataDir, { recursive: true });
      const key = newKey();
      await writeFile(join(dataDir, 'secret.key'), `${key}\n`, { mode: 0o600 });
      const sealed = SecretBox.fromKey(key).seal('from the operator');
      expect((await SecretBox.fromDataDir(dataDir)).open(sealed)).toBe('from the operator');

      await writeFile(join(dataDir, 'secret.key'), 'too-short\n', { mode: 0o600 });
      await expect(SecretBox.fromDataDir(dataDir)).rejects.toThrow(/32 bytes/);
    });
  });
});
