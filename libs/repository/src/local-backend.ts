/** A repository backend on a local (or mounted) directory. */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { ByteRange, ObjectData, RepositoryBackend } from './backend';
import { RepositoryError, describeIoError } from './repository.errors';

const TMP_DIR = 'tmp';

export class LocalBackend implements RepositoryBackend {
  readonly location: string;
  private readonly createdDirs = new Set<string>();

  constructor(root: string) {
    this.location = resolve(root);
  }

  private pathOf(key: string): string {
    const full = resolve(this.location, key);
    if (!full.startsWith(this.location + sep)) throw new RepositoryError('INVALID_PATH', `object key escapes the repository: ${key}`);
    return full;
  }

  /** The file that holds an object, for a reader on this machine (a sealing thread restoring small files). */
  fileOf(key: string): string {
    return this.pathOf(key);
  }

  /** What `get` says of an object that is not there. */
  missing(key: string): string {
    return `${key} is missing from the repository at ${this.location}`;
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    try {
      if (!range) return await readFile(this.pathOf(key));
      const handle = await open(this.pathOf(key), 'r');
      try {
        const buffer = range.into && range.into.length >= range.length ? range.into : Buffer.allocUnsafe(range.length);
        let filled = 0;
        while (filled < range.length) {
          const { bytesRead } = await handle.read(buffer, filled, range.length - filled, range.offset + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        return buffer.subarray(0, filled);
      } finally {
        await handle.close();
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new RepositoryError('NOT_FOUND', this.missing(key), { cause: error });
      }
      throw describeIoError(error, `reading ${key} from ${this.location}`);
    }
  }

  async put(key: string, data: ObjectData): Promise<void> {
    const target = this.pathOf(key);
    const tmp = join(this.location, TMP_DIR, `${randomBytes(8).toString('hex')}.tmp`);
    try {
      await this.ensureDir(dirname(tmp));
      await this.ensureDir(dirname(target));
      // Data reaches the disk before the name does: a crash leaves either nothing or the whole object.
      const handle = await open(tmp, 'w', 0o600);
      try {
        if (Array.isArray(data)) {
          // writev takes a limited number of buffers at once, and on a full disk writes what fits
          // without an error: the rest is written again, which then fails with ENOSPC. (Renaming a
          // short file into place would put a truncated pack under its final name.)
          let position = 0;
          for (let i = 0; i < data.length; i += 512) {
            const batch = data.slice(i, i + 512) as Uint8Array[];
            const wanted = batch.reduce((n, b) => n + b.byteLength, 0);
            const { bytesWritten } = await handle.writev(batch, position);
            position += bytesWritten;
            if (bytesWritten < wanted) {
              const rest = Buffer.concat(batch).subarray(bytesWritten);
              for (let done = 0; done < rest.length; ) {
                const { bytesWritten: more } = await handle.write(rest, done, rest.length - done, position);
                if (more === 0) throw Object.assign(new Error('the file system took no more bytes'), { code: 'ENOSPC' });
                done += more;
                position += more;
              }
            }
          }
        } else {
          await handle.writeFile(data as Uint8Array);
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, target);
    } catch (error) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw describeIoError(error, `writing ${key} to ${this.location}`);
    }
  }

  async has(key: string): Promise<boolean> {
    try {
      await stat(this.pathOf(key));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw describeIoError(error, `checking ${key} in ${this.location}`);
    }
  }

  async list(prefix: string): Promise<string[]> {
    // The empty prefix is the repository's own directory, which pathOf rightly refuses as an object key.
    const base = prefix === '' ? this.location : this.pathOf(prefix);
    const keys: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let names: import('node:fs').Dirent[];
      try {
        names = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw describeIoError(error, `listing ${prefix} in ${this.location}`);
      }
      for (const entry of names) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else keys.push(relative(this.location, full).split(sep).join('/'));
      }
    };
    await walk(base);
    return keys;
  }

  async delete(key: string): Promise<void> {
    try {
      await rm(this.pathOf(key), { force: true });
    } catch (error) {
      throw describeIoError(error, `deleting ${key} from ${this.location}`);
    }
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.createdDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.createdDirs.add(dir);
  }
}
