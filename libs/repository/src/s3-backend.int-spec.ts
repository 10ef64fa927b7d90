import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { startS3rver, type RunningS3rver } from '@chainvault/testing';
import { describeBackendContract } from './backend.contract';
import { RepositoryError } from './repository.errors';
import { S3Backend, validateS3Config, type S3BackendConfig } from './s3-backend';

let s3: RunningS3rver;

beforeAll(async () => {
  s3 = await startS3rver();
});

afterAll(async () => {
  await s3?.stop();
});

function configFor(prefix: string, overrides: Partial<S3BackendConfig> = {}): S3BackendConfig {
  return { bucket: s3.bucket, prefix, endpoint: s3.endpoint, forcePathStyle: true, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, ...overrides };
}

const freshPrefix = () => `repos/${randomBytes(6).toString('hex')}`;

describeBackendContract('s3', () => ({
  create: async () => new S3Backend(configFor(freshPrefix())),
}));

describe('S3Backend', () => {
  const opened: S3Backend[] = [];
  const open = (config: S3BackendConfig) => {
    const backend = new S3Backend(config);
    opened.push(backend);
    return backend;
  };

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((backend) => backend.close()));
  });

  it('keeps repositories under different prefixes of one bucket apart', async () => {
    const [first, second] = [freshPrefix(), freshPrefix()];
    const a = open(configFor(first));
    const b = open(configFor(`/${second}/`));
    await a.put('config', Buffer.from('repository a'));
    await b.put('config', Buffer.from('repository b'));
    await a.put('data/00/only-a', Buffer.from('x'));

    expect((await a.get('config')).toString()).toBe('repository a');
    expect((await b.get('config')).toString()).toBe('repository b');
    expect((await a.list('')).sort()).toEqual(['config', 'data/00/only-a']);
    expect(await b.list('')).toEqual(['config']);
    expect(await b.has('data/00/only-a')).toBe(false);
    await b.delete('config');
    expect(await a.has('config')).toBe(true);
    expect(a.location).toBe(`s3://${s3.bucket}/${first} at ${s3.endpoint}`);
    expect(b.location).toBe(`s3://${s3.bucket}/${second} at ${s3.endpoint}`);
  });

  it('names the key and the location when an object is missing', async () => {
    const backend = open(configFor(freshPrefix()));
    await expect(backend.get('snapshots/gone')).rejects.toThrow(`snapshots/gone is missing from the repository at ${backend.location}`);
  });

  it('says the bucket does not exist, rather than that an object is missing', async () => {
    const backend = open(configFor('repo', { bucket: 'no-such-bucket' }));
    for (const attempt of [() => backend.get('config'), () => backend.put('config', Buffer.from('x')), () => backend.list('')]) {
      const error = await attempt().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(RepositoryError);
      expect(error).toMatchObject({ code: 'IO', message: expect.stringContaining('the bucket no-such-bucket does not exist') });
    }
  });

  // s3rver checks that the access key id is one of its accounts but not the SigV4 signature,
  // so a wrong secret key goes unnoticed there; a wrong key id is refused.
  it('refuses unknown credentials with a clean error that does not contain the secret key', async () => {
    const secretAccessKey = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY';
    const backend = open(configFor(freshPrefix(), { accessKeyId: 'AKIANOTANACCOUNT', secretAccessKey }));
    const error = await backend.put('config', Buffer.from('x')).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(RepositoryError);
    expect(error).toMatchObject({ code: 'IO', message: expect.stringContaining('the credentials were refused (InvalidAccessKeyId)') });
    expect(inspect(error, { depth: 10 })).not.toContain(secretAccessKey);
    // A HEAD answer has no body to name the reason; opening a repository starts with one.
    const headError = await backend.has('config').then(() => undefined, (e: unknown) => e);
    expect(headError).toMatchObject({ code: 'IO', message: expect.stringContaining('access denied (HTTP 403, no reason given); check accessKeyId and secretAccessKey') });
    expect(inspect(headError, { depth: 10 })).not.toContain(secretAccessKey);
  });

  it('says when the service cannot be reached', async () => {
    const backend = open(configFor('repo', { endpoint: 'http://127.0.0.1:1' }));
    await expect(backend.has('config')).rejects.toMatchObject({ code: 'IO', message: expect.stringContaining('cannot reach the S3 service (ECONNREFUSED)') });
  });

  it('refuses a list prefix that escapes the repository', async () => {
    const backend = open(configFor(freshPrefix()));
    await expect(backend.list('../other-repo')).rejects.toMatchObject({ code: 'INVALID_PATH' });
  });

  it('reads single bytes and ranges past the end', async () => {
    const backend = open(configFor(freshPrefix()));
    await backend.put('data/ab/ab02', Buffer.from('0123456789'));
    expect((await backend.get('data/ab/ab02', { offset: 0, length: 1 })).toString()).toBe('0');
    expect((await backend.get('data/ab/ab02', { offset: 9, length: 1 })).toString()).toBe('9');
    expect((await backend.get('data/ab/ab02', { offset: 4, length: 0 })).length).toBe(0);
    expect((await backend.get('data/ab/ab02', { offset: 10, length: 5 })).length).toBe(0);
    expect((await backend.get('data/ab/ab02', { offset: 50, length: 5 })).length).toBe(0);
    await expect(backend.get('data/ab/none', { offset: 0, length: 0 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(backend.get('data/ab/none', { offset: 3, length: 2 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('validateS3Config', () => {
  it('accepts a full config and normalises the prefix', () => {
    expect(validateS3Config({ bucket: 'my-backups', prefix: '/nodes/geth/', region: 'eu-west-1', endpoint: 'https://s3.example.com', forcePathStyle: false, accessKeyId: 'AK', secretAccessKey: 'SK' })).toEqual({
      bucket: 'my-backups',
      prefix: 'nodes/geth',
      region: 'eu-west-1',
      endpoint: 'https://s3.example.com',
      forcePathStyle: false,
      accessKeyId: 'AK',
      secretAccessKey: 'SK',
    });
    expect(validateS3Config({ bucket: 'my-backups' })).toEqual({ bucket: 'my-backups' });
  });

  it.each([
    [null, /config must be an object/],
    [[], /config must be an object/],
    [{}, /bucket is required/],
    [{ bucket: 42 }, /bucket must be a string/],
    [{ bucket: 's3://my-backups' }, /bucket must be a bucket name/],
    [{ bucket: 'ab' }, /bucket must be a bucket name/],
    [{ bucket: 'my-backups', prefix: 'a/../b' }, /prefix must be a folder path/],
    [{ bucket: 'my-backups', prefix: 'a//b' }, /prefix must be a folder path/],
    [{ bucket: 'my-backups', region: '' }, /region must not be empty/],
    [{ bucket: 'my-backups', endpoint: 'minio:9000' }, /endpoint must be an http\(s\) URL/],
    [{ bucket: 'my-backups', endpoint: 'not a url' }, /endpoint must be an http\(s\) URL/],
    [{ bucket: 'my-backups', endpoint: 'http://ak:sk@minio:9000' }, /endpoint must not contain credentials/],
    [{ bucket: 'my-backups', forcePathStyle: 'yes' }, /forcePathStyle must be a boolean/],
    [{ bucket: 'my-backups', accessKeyId: 'AK' }, /secretAccessKey is required/],
    [{ bucket: 'my-backups', secretAccessKey: 'SK' }, /accessKeyId is required/],
    [{ bucket: 'my-backups', endpiont: 'http://minio:9000' }, /endpiont is not a known field/],
  ])('rejects %j naming the field', (raw, message) => {
    expect(() => validateS3Config(raw)).toThrow(message);
  });

  it('never repeats a secret key in its message', () => {
    const message = (() => {
      try {
        validateS3Config({ bucket: 'my-backups', secretAccessKey: 'TOPSECRET', endpoint: 'ftp://minio' });
      } catch (error) {
        return (error as Error).message;
      }
      return 'no error';
    })();
    expect(message).toMatch(/endpoint must be an http\(s\) URL/);
    expect(message).not.toContain('TOPSECRET');
  });
});
