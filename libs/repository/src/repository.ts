/**
 * The backup repository: opens or creates one on a backend, starts backups, reads them back,
 * verifies and deletes them. See README.md for the on-storage format.
 */
import { randomUUID } from 'node:crypto';
import type { RepositoryBackend } from './backend';
import { BackupReader, type BackupReaderOptions } from './backup-reader';
import { BackupWriter, type WriteProgress } from './backup-writer';
import { ChunkStore } from './chunk-store';
import { checkManifestStructure, type Manifest } from './manifest';
import { RepositoryError, throwIfAborted } from './repository.errors';

export const REPOSITORY_FORMAT = 'chainvault-repository';
export const REPOSITORY_VERSION = 1;
const CONFIG_KEY = 'chainvault-repository.json';
const DEFAULT_CHUNK_SIZE = 1024 * 1024;

export interface RepositoryConfig {
  format: typeof REPOSITORY_FORMAT;
  version: typeof REPOSITORY_VERSION;
  id: string;
  createdAt: string;
  chunking: { algorithm: 'fixed'; size: number };
  hash: 'sha256';
}

export interface VerifyOptions {
  /** Read every chunk and re-hash it, and re-hash every file. Without it, only check chunks exist. */
  readData: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: { files: number; bytes: number }) => void;
}

export interface VerifyResult {
  /** Empty when the backup is intact. Each problem names the file it hurts. */
  problems: string[];
  files: number;
  chunks: number;
  bytesRead: number;
}

export interface StartBackupOptions {
  backupId?: string;
  previous?: Manifest | null;
  signal?: AbortSignal;
  onProgress?: (progress: WriteProgress) => void;
}

export class Repository {
  private readonly chunks: ChunkStore;

  private constructor(
    readonly backend: RepositoryBackend,
    readonly config: RepositoryConfig,
  ) {
    this.chunks = new ChunkStore(backend);
  }

  /** Opens the repository on `backend`, creating it if the location is empty. */
  static async openOrInit(backend: RepositoryBackend): Promise<Repository> {
    if (!(await backend.has(CONFIG_KEY))) {
      const existing = await backend.list('');
      if (existing.some((key) => !key.startsWith('tmp/'))) {
        throw new RepositoryError('NOT_A_REPOSITORY', `${backend.location} is not empty and holds no chainvault repository; choose an empty location`);
      }
      const config: RepositoryConfig = {
        format: REPOSITORY_FORMAT,
        version: REPOSITORY_VERSION,
        id: randomUUID(),
        createdAt: new Date().toISOString(),
        chunking: { algorithm: 'fixed', size: DEFAULT_CHUNK_SIZE },
        hash: 'sha256',
      };
      await backend.put(CONFIG_KEY, Buffer.from(JSON.stringify(config, null, 2)));
    }
    return Repository.open(backend);
  }

  static async open(backend: RepositoryBackend): Promise<Repository> {
    let config: RepositoryConfig;
    try {
      config = JSON.parse((await backend.get(CONFIG_KEY)).toString('utf8')) as RepositoryConfig;
    } catch (error) {
      if (error instanceof RepositoryError && error.code === 'NOT_FOUND') {
        throw new RepositoryError('NOT_A_REPOSITORY', `${backend.location} holds no chainvault repository`);
      }
      throw new RepositoryError('CORRUPT', `the repository config at ${backend.location} cannot be read: ${(error as Error).message}`);
    }
    if (config.format !== REPOSITORY_FORMAT) throw new RepositoryError('NOT_A_REPOSITORY', `${backend.location} is not a chainvault repository`);
    if (config.version !== REPOSITORY_VERSION) {
      throw new RepositoryError('UNSUPPORTED_VERSION', `repository format version ${config.version} at ${backend.location} is newer than this chainvault supports`);
    }
    return new Repository(backend, config);
  }

  startBackup(options: StartBackupOptions = {}): BackupWriter {
    const backupId = options.backupId ?? randomUUID();
    return new BackupWriter(this.chunks, (manifest) => this.backend.put(manifestKey(backupId), Buffer.from(JSON.stringify(manifest))), {
      backupId,
      chunkSize: this.config.chunking.size,
      previous: options.previous ?? null,
      signal: options.signal,
      onProgress: options.onProgress,
    });
  }

  async hasBackup(backupId: string): Promise<boolean> {
    return this.backend.has(manifestKey(backupId));
  }

  async listBackups(): Promise<string[]> {
    return (await this.backend.list('manifests/')).map((key) => key.slice('manifests/'.length, -'.json'.length)).sort();
  }

  async readManifest(backupId: string): Promise<Manifest> {
    let raw: Buffer;
    try {
      raw = await this.backend.get(manifestKey(backupId));
    } catch (error) {
      if (error instanceof RepositoryError && error.code === 'NOT_FOUND') {
        throw new RepositoryError('NOT_FOUND', `backup ${backupId} is not in the repository at ${this.backend.location}`);
      }
      throw error;
    }
    try {
      return JSON.parse(raw.toString('utf8')) as Manifest;
    } catch {
      throw new RepositoryError('CORRUPT', `the manifest of backup ${backupId} is not valid JSON`);
    }
  }

  async openBackup(backupId: string, options: BackupReaderOptions = {}): Promise<BackupReader> {
    return new BackupReader(await this.readManifest(backupId), this.chunks, options);
  }

  /** Removes the backup's manifest. Its chunks stay until a prune finds nothing else uses them. */
  async deleteBackup(backupId: string): Promise<void> {
    await this.backend.delete(manifestKey(backupId));
  }

  async verify(backupId: string, options: VerifyOptions): Promise<VerifyResult> {
    const result: VerifyResult = { problems: [], files: 0, chunks: 0, bytesRead: 0 };
    let manifest: Manifest;
    try {
      manifest = await this.readManifest(backupId);
    } catch (error) {
      result.problems.push((error as Error).message);
      return result;
    }
    result.problems.push(...checkManifestStructure(manifest));
    if (result.problems.length > 0) return result;

    const present = new Map<string, boolean>();
    for (const entry of manifest.entries) {
      if (entry.type !== 'file') continue;
      throwIfAborted(options.signal);
      result.files += 1;
      if (!options.readData) {
        for (const id of entry.chunks) {
          if (!present.has(id)) {
            present.set(id, await this.chunks.has(id));
            result.chunks += 1;
          }
          if (!present.get(id)) result.problems.push(`file "${entry.path}": chunk ${id} is missing`);
        }
        continue;
      }
      const reader = new BackupReader(manifest, this.chunks, { signal: options.signal });
      try {
        for await (const data of reader.read(entry.path)) {
          result.chunks += 1;
          result.bytesRead += data.length;
          options.onProgress?.({ files: result.files, bytes: result.bytesRead });
        }
      } catch (error) {
        if (error instanceof RepositoryError && error.code === 'ABORTED') throw error;
        result.problems.push((error as Error).message);
      }
    }
    return result;
  }
}

function manifestKey(backupId: string): string {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(backupId)) throw new RepositoryError('INVALID_PATH', `"${backupId}" is not a valid backup id`);
  return `manifests/${backupId}.json`;
}
