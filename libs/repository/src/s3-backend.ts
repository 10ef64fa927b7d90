/** A repository backend in an S3 bucket (AWS or any S3-compatible service: MinIO, Ceph, Garage…). */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { wholeObject, type ByteRange, type ObjectData, type RepositoryBackend } from './backend';
import { RepositoryError } from './repository.errors';

/**
 * Where an S3 repository lives, as a Destination's config holds it.
 *
 * | field             | type    | required | meaning |
 * |-------------------|---------|----------|---------|
 * | `bucket`          | string  | yes      | The bucket; it must already exist. |
 * | `prefix`          | string  | no       | Folder inside the bucket that holds the repository (`backups/node-1`); leading and trailing `/` are ignored. Default: the bucket's root. |
 * | `region`          | string  | no       | The bucket's region. Default: the SDK's (`AWS_REGION`, `~/.aws/config`), or `us-east-1` when `endpoint` is set. |
 * | `endpoint`        | string  | no       | An `http(s)://` URL for an S3-compatible service; without credentials in it. Default: AWS. |
 * | `forcePathStyle`  | boolean | no       | Address the bucket as `endpoint/bucket` rather than `bucket.endpoint`. Default: `true` when `endpoint` is set, else `false`. |
 * | `accessKeyId`     | string  | no       | With `secretAccessKey`: static credentials. Both or neither. |
 * | `secretAccessKey` | string  | no       | Without them the SDK's default chain applies (environment, `~/.aws`, instance or task role). |
 */
export interface S3BackendConfig {
  bucket: string;
  prefix?: string;
  region?: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
}

const CONFIG_FIELDS: Record<keyof S3BackendConfig, 'string' | 'boolean'> = {
  bucket: 'string',
  prefix: 'string',
  region: 'string',
  endpoint: 'string',
  forcePathStyle: 'boolean',
  accessKeyId: 'string',
  secretAccessKey: 'string',
};

// Loose enough for legacy us-east-1 names and S3-compatible services, strict enough to catch a URL or a path.
const BUCKET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/;

/**
 * Checks an S3 destination's config and returns it typed, with `prefix` normalised (no leading
 * or trailing `/`). Throws an Error that names the bad field; it never repeats a credential.
 */
export function validateS3Config(raw: unknown): S3BackendConfig {
  const fail = (field: string, problem: string): never => {
    throw new Error(`S3 destination config: ${field} ${problem}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('config', 'must be an object with at least a bucket');
  const input = raw as Record<string, unknown>;
  for (const [field, value] of Object.entries(input)) {
    const type = CONFIG_FIELDS[field as keyof S3BackendConfig];
    if (!type) fail(field, `is not a known field (known: ${Object.keys(CONFIG_FIELDS).join(', ')})`);
    if (value !== undefined && typeof value !== type) fail(field, `must be a ${type}`);
    if (type === 'string' && value === '' && field !== 'prefix') fail(field, 'must not be empty');
  }

  const config = { ...input } as unknown as S3BackendConfig;
  if (config.bucket === undefined) fail('bucket', 'is required');
  if (!BUCKET_NAME.test(config.bucket)) fail('bucket', `must be a bucket name (3 to 255 letters, digits, '.', '-' or '_'), not ${JSON.stringify(config.bucket)}`);

  if (config.prefix !== undefined) {
    config.prefix = config.prefix.replace(/^\/+|\/+$/g, '');
    if (config.prefix !== '' && !isCleanKey(config.prefix)) fail('prefix', `must be a folder path without empty, '.' or '..' segments, not ${JSON.stringify(config.prefix)}`);
  }

  if (config.endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(config.endpoint);
    } catch {
      return fail('endpoint', `must be an http(s) URL, not ${JSON.stringify(config.endpoint)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') fail('endpoint', `must be an http(s) URL, not ${url.protocol} one`);
    if (url.username || url.password) fail('endpoint', 'must not contain credentials; use accessKeyId and secretAccessKey');
  }

  if ((config.accessKeyId === undefined) !== (config.secretAccessKey === undefined)) {
    fail(config.accessKeyId === undefined ? 'accessKeyId' : 'secretAccessKey', 'is required when the other credential is given');
  }
  return config;
}

/** Every `/`-separated segment is a real name: no empty, `.` or `..` segment, no NUL. */
function isCleanKey(key: string): boolean {
  return !key.includes('\0') && key.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

export class S3Backend implements RepositoryBackend {
  readonly location: string;
  private readonly bucket: string;
  /** `prefix/`, or `''` for the bucket's root. */
  private readonly keyPrefix: string;
  private readonly client: S3Client;

  constructor(config: S3BackendConfig) {
    const valid = validateS3Config(config);
    this.bucket = valid.bucket;
    this.keyPrefix = valid.prefix ? `${valid.prefix}/` : '';
    this.location = `s3://${valid.bucket}${valid.prefix ? `/${valid.prefix}` : ''}${valid.endpoint ? ` at ${valid.endpoint}` : ''}`;
    const clientConfig: S3ClientConfig = {
      region: valid.region ?? (valid.endpoint ? 'us-east-1' : undefined),
      endpoint: valid.endpoint,
      forcePathStyle: valid.forcePathStyle ?? valid.endpoint !== undefined,
      // A bucket in another region than configured still works on AWS instead of failing with a redirect.
      followRegionRedirects: true,
    };
    if (valid.accessKeyId !== undefined && valid.secretAccessKey !== undefined) {
      clientConfig.credentials = { accessKeyId: valid.accessKeyId, secretAccessKey: valid.secretAccessKey };
    }
    this.client = new S3Client(clientConfig);
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    const objectKey = this.objectKey(key);
    if (range && range.length <= 0) {
      // `bytes=n-(n-1)` is not a range S3 honours (it would send the whole object).
      if (!(await this.has(key))) throw this.notFound(key);
      return Buffer.alloc(0);
    }
    try {
      const response = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: objectKey,
          Range: range ? `bytes=${range.offset}-${range.offset + range.length - 1}` : undefined,
        }),
      );
      const bytes = (await response.Body?.transformToByteArray()) ?? new Uint8Array();
      const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (!range) return body;
      // Some S3-compatible servers ignore or stretch a range; cut what was asked for from what came.
      const start = response.ContentRange ? Number(/^bytes (\d+)-/.exec(response.ContentRange)?.[1]) : 0;
      if (!Number.isInteger(start) || start > range.offset) {
        throw new RepositoryError('IO', `reading ${key} from ${this.location} failed: the server answered range ${response.ContentRange} for bytes ${range.offset}+${range.length}`);
      }
      return body.subarray(range.offset - start, range.offset - start + range.length);
    } catch (error) {
      // S3 refuses a range that starts past the end; the contract says that is an empty read.
      if (range && errorName(error) === 'InvalidRange') return Buffer.alloc(0);
      if (isMissingObject(error)) throw this.notFound(key, error);
      throw this.describe(error, `reading ${key} from ${this.location}`);
    }
  }

  async put(key: string, objectData: ObjectData): Promise<void> {
    const data = wholeObject(objectData);
    const objectKey = this.objectKey(key);
    try {
      // One PutObject: S3 shows the new object only once all of it has arrived.
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: objectKey, Body: data, ContentLength: data.byteLength }));
    } catch (error) {
      throw this.describe(error, `writing ${key} to ${this.location}`);
    }
  }

  /**
   * Whether the object exists. A HEAD response has no body, so a missing bucket looks like a
   * missing object here (false); get, put and list name the missing bucket.
   */
  async has(key: string): Promise<boolean> {
    const objectKey = this.objectKey(key);
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return true;
    } catch (error) {
      if (isMissingObject(error)) return false;
      throw this.describe(error, `checking ${key} in ${this.location}`);
    }
  }

  async list(prefix: string): Promise<string[]> {
    // Like a directory: 'data' lists data/…, never database/….
    const folder = prefix.replace(/\/+$/, '');
    if (folder !== '' && !isCleanKey(folder)) throw invalidPath(prefix);
    const listPrefix = this.keyPrefix + (folder === '' ? '' : `${folder}/`);
    const keys: string[] = [];
    let continuationToken: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: listPrefix || undefined, ContinuationToken: continuationToken }),
        );
        for (const object of page.Contents ?? []) {
          const key = object.Key?.slice(this.keyPrefix.length);
          // Skips "folder" markers that consoles create (`prefix/data/`): they are not repository objects.
          if (key && !key.endsWith('/')) keys.push(key);
        }
        continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (continuationToken);
    } catch (error) {
      throw this.describe(error, `listing ${prefix || 'everything'} in ${this.location}`);
    }
    return keys;
  }

  async delete(key: string): Promise<void> {
    const objectKey = this.objectKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey }));
    } catch (error) {
      if (isMissingObject(error)) return;
      throw this.describe(error, `deleting ${key} from ${this.location}`);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private objectKey(key: string): string {
    // S3 keys are plain strings, but a key with '..' means a bug upstream, and other backends refuse it too.
    if (!isCleanKey(key)) throw invalidPath(key);
    return this.keyPrefix + key;
  }

  private notFound(key: string, cause?: unknown): RepositoryError {
    return new RepositoryError('NOT_FOUND', `${key} is missing from the repository at ${this.location}`, { cause });
  }

  /**
   * An S3 or network failure as a RepositoryError that says what was being done. The secret key
   * never leaves the client (requests carry only signatures), so no S3 or network message holds it.
   */
  private describe(error: unknown, doing: string): RepositoryError {
    if (error instanceof RepositoryError) return error;
    const name = errorName(error);
    const status = (error as SdkError)?.$metadata?.httpStatusCode;
    let why: string;
    switch (name) {
      case 'NoSuchBucket':
        // IO, not NOT_FOUND: callers read NOT_FOUND as "this object is missing", which would hide the real problem.
        why = `the bucket ${this.bucket} does not exist; create it or fix the destination's bucket`;
        break;
      case 'AccessDenied':
      case 'Forbidden':
        why = `access denied (${name}); check the credentials and the bucket's policy`;
        break;
      case 'InvalidAccessKeyId':
      case 'SignatureDoesNotMatch':
      case 'InvalidToken':
      case 'ExpiredToken':
      case 'CredentialsProviderError':
        why = `the credentials were refused (${name}); check accessKeyId and secretAccessKey`;
        break;
      case 'ECONNREFUSED':
      case 'ECONNRESET':
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
      case 'ETIMEDOUT':
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
      case 'TimeoutError':
        why = `cannot reach the S3 service (${name})`;
        break;
      default:
        // A HEAD answer has no body, so refused credentials or a denied read arrive as a bare 403 the SDK calls "Unknown".
        if (status === 403) why = `access denied (HTTP 403, no reason given); check accessKeyId and secretAccessKey, and the bucket's policy`;
        else why = `${name ?? 'error'}${status ? ` (HTTP ${status})` : ''}: ${(error as SdkError)?.message ?? String(error)}`;
    }
    return new RepositoryError('IO', `${doing} failed: ${why}`, { cause: error });
  }
}

const NETWORK_ERROR = /\b(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)\b/;

function errorName(error: unknown): string | undefined {
  const { name, code, message } = (error ?? {}) as SdkError;
  // Network errors from Node carry the useful part in `code`; the SDK's own errors in `name`.
  if (code && /^E[A-Z]+$/.test(code)) return code;
  // The SDK's retry layer turns an error from another realm (Jest's sandbox, a worker) into
  // "AWS SDK error wrapper for Error: connect ECONNREFUSED …", keeping only the text.
  return (name === 'Error' && message && NETWORK_ERROR.exec(message)?.[1]) || name;
}

function isMissingObject(error: unknown): boolean {
  const name = errorName(error);
  return name === 'NoSuchKey' || name === 'NotFound' || (name !== 'NoSuchBucket' && (error as SdkError)?.$metadata?.httpStatusCode === 404);
}

function invalidPath(key: string): RepositoryError {
  return new RepositoryError('INVALID_PATH', `object key escapes the repository or is not a plain path: ${key}`);
}
