/**
 * Encrypts the secret fields of node configs at rest (AES-256-GCM). The key comes from the
 * configuration, or is generated on first start into the data directory with mode 0600.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const PREFIX = 'v1';

export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  static fromKey(base64Key: string): SecretBox {
    const key = Buffer.from(base64Key, 'base64');
    if (key.length !== 32) throw new Error('the secret key must be 32 bytes, base64-encoded (try: openssl rand -base64 32)');
    return new SecretBox(key);
  }

  /** Reads `secret.key` from the data directory, creating it (mode 0600) if it is missing. */
  static async fromDataDir(dataDir: string): Promise<SecretBox> {
    const file = join(dataDir, 'secret.key');
    try {
      const info = await stat(file);
      if ((info.mode & 0o077) !== 0) await chmod(file, 0o600);
      return SecretBox.fromKey((await readFile(file, 'utf8')).trim());
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await mkdir(dataDir, { recursive: true });
    const key = randomBytes(32).toString('base64');
    try {
      await writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      // Another process created it first: use theirs.
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return SecretBox.fromDataDir(dataDir);
      throw error;
    }
    return SecretBox.fromKey(key);
  }

  seal(value: unknown): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return [PREFIX, iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join(':');
  }

  open<T = unknown>(sealed: string): T {
    const [prefix, iv, tag, body] = sealed.split(':');
    if (prefix !== PREFIX || !iv || !tag || body === undefined) throw new Error('stored secret has an unknown format');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    try {
      const plain = Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as T;
    } catch {
      throw new Error('stored secrets cannot be decrypted with this server key; was the secret key changed?');
    }
  }
}
