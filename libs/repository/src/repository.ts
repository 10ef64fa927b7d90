/**
 * The backup repository: opens or creates one on a backend, starts backups, reads them back,
 * verifies them and manages encryption keys. See README.md for the on-storage format.
 */
import { randomUUID } from 'node:crypto';
import type { RepositoryBackend } from './backend';
import { BackupReader, type BackupReaderOptions } from './backup-reader';
import { BackupWriter, type WriteProgress } from './backup-writer';
import { BlobStore, type BlobLocation, type BlobWriter } from './blob-store';
import type { CompressionName } from './compression';
import { DEFAULT_CHUNK_SIZES, checkChunkSizes, type ChunkSizes } from './content-chunker';
import { DEFAULT_SCRYPT, createKeyFile, newMasterKey, openKeyFile, type KeyFile, type MasterKey } from './crypto';
import { findUnreferenced, type UnreferencedData } from './check';
import { checkChunks } from './check-chunks';
import { checkManifestStructure, type Manifest } from './manifest';
import { prune, type PruneOptions, type PruneResult } from './prune';
import { DEFAULT_LOCK_TIMING, RepositoryLock, type LockTiming } from './repository-lock';
import { RepositoryError } from './repository.errors';

export const REPOSITORY_FORMAT = 'chainvault-repository';
export const REPOSITORY_VERSION = 2;
const CONFIG_KEY = 'chainvault-repository.json';
const DEFAULT_PACK_SIZE = 16 * 1024 * 1024;

export interface RepositoryConfig {
  format: typeof REPOSITORY_FORMAT;
  version: typeof REPOSITORY_VERSION;
  id: string;
  createdAt: string;
  chunking: { algorithm: 'fastcdc-gear-v1' } & ChunkSizes;
  /** Packs are closed once they reach this many bytes. */
  packSize: number;
  compression: CompressionName;
  /** Null for a plain repository; otherwise how objects are sealed. */
  encryption: null | { cipher: 'aes-256-gcm'; blobIds: 'hmac-sha256' };
}

export interface RepositoryOptions {
  /** Opens (or, on creation, encrypts) the repository with this passphrase. */
  passphrase?: string;
  /** On creation only. Default: brotli. */
  compression?: CompressionName;
  /** On creation only, for tests. */
  chunkSizes?: ChunkSizes;
  /** On creation only, for tests. */
  packSize?: number;
  /** On creation only, for tests: scrypt cost. */
  scrypt?: typeof DEFAULT_SCRYPT;
}

export interface VerifyOptions {
  /** Read every pack the backup uses and re-hash every chunk. Without it, check the index and that the packs exist. */
  readData: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: { files: number; bytes: number }) => void;
}

export interface VerifyResult {
  /** Empty when the backup is intact. Each problem names the file it hurts. */
  problems: string[];
  files: number;
  chunks: number;
  packs: number;
  bytesRead: number;
}

export interface CheckResult {
  /** Problems by backup id; an intact backup has an empty list. */
  backups: Record<string, string[]>;
  /** Problems that belong to no backup. */
  general: string[];
  packs: number;
  bytesRead: number;
  /** Data no backup uses (a failed backup's packs, deleted backups' packs); null when a manifest cannot be read. */
  unreferenced: UnreferencedData | null;
  /**
   * Shared locks live when the check ended, the caller's own included: a backup among them may be
   * writing packs that are counted as unreferenced until it commits.
   */
  sharedLocks: number;
}

export interface StartBackupOptions {
  backupId?: string;
  previous?: Manifest | null;
  signal?: AbortSignal;
  onProgress?: (progress: WriteProgress) => void;
}

export class Repository {
  private constructor(
    readonly backend: RepositoryBackend,
    readonly config: RepositoryConfig,
    private blobs: BlobStore,
    /** The key file this session was opened with (encrypted repositories). */
    private readonly keyId: string | null,
    private readonly master: MasterKey | null,
  ) {}

  /** Opens the repository on `backend`, creating it if the location is empty. */
  static async openOrInit(backend: RepositoryBackend, options: RepositoryOptions = {}): Promise<Repository> {
    if (!(await backend.has(CONFIG_KEY))) {
      const existing = await backend.list('');
      // Key files without a config are what a creation killed half-way leaves: start over.
      if (existing.every((key) => key.startsWith('tmp/') || key.startsWith('keys/'))) {
        for (const key of existing) await backend.delete(key);
      } else {
        throw new RepositoryError('NOT_A_REPOSITORY', `${backend.location} is not empty and holds no chainvault repository; choose an empty location`);
      }
      const chunkSizes = options.chunkSizes ?? DEFAULT_CHUNK_SIZES;
      checkChunkSizes(chunkSizes);
      const config: RepositoryConfig = {
        format: REPOSITORY_FORMAT,
        version: REPOSITORY_VERSION,
        id: randomUUID(),
        createdAt: new Date().toISOString(),
        chunking: { algorithm: 'fastcdc-gear-v1', ...chunkSizes },
        packSize: options.packSize ?? DEFAULT_PACK_SIZE,
        compression: options.compression ?? 'brotli',
        encryption: options.passphrase ? { cipher: 'aes-256-gcm', blobIds: 'hmac-sha256' } : null,
      };
      // The key is written before the config: a repository whose config exists can always be opened.
      if (options.passphrase) {
        const keyFile = await createKeyFile(newMasterKey(), options.passphrase, options.scrypt);
        await backend.put(`keys/${randomUUID()}`, Buffer.from(JSON.stringify(keyFile)));
      }
      await backend.put(CONFIG_KEY, Buffer.from(JSON.stringify(config, null, 2)));
    }
    return Repository.open(backend, options);
  }

  static async open(backend: RepositoryBackend, options: Pick<RepositoryOptions, 'passphrase'> = {}): Promise<Repository> {
    let config: RepositoryConfig;
    try {
      config = JSON.parse((await backend.get(CONFIG_KEY)).toString('utf8')) as RepositoryConfig;
    } catch (error) {
      if (error instanceof RepositoryError && error.code === 'NOT_FOUND') {
        throw new RepositoryError('NOT_A_REPOSITORY', `${backend.location} holds no chainvault repository`);
      }
      if (error instanceof RepositoryError) throw error;
      throw new RepositoryError('CORRUPT', `the repository config at ${backend.location} cannot be read: ${(error as Error).message}`);
    }
    if (config.format !== REPOSITORY_FORMAT) throw new RepositoryError('NOT_A_REPOSITORY', `${backend.location} is not a chainvault repository`);
    if (config.version !== REPOSITORY_VERSION) {
      throw new RepositoryError('UNSUPPORTED_VERSION', `repository format version ${config.version} at ${backend.location} is not the one this chainvault reads (${REPOSITORY_VERSION})`);
    }
    let master: MasterKey | null = null;
    let keyId: string | null = null;
    if (config.encryption) {
      if (!options.passphrase) throw new RepositoryError('WRONG_PASSPHRASE', `the repository at ${backend.location} is encrypted: give its passphrase`);
      for (const key of await backend.list('keys/')) {
        master = await openKeyFile(JSON.parse((await backend.get(key)).toString('utf8')) as KeyFile, options.passphrase);
        if (master) {
          keyId = key.slice('keys/'.length);
          break;
        }
      }
      if (!master) throw new RepositoryError('WRONG_PASSPHRASE', `the passphrase does not open the repository at ${backend.location}`);
    } else if (options.passphrase) {
      throw new RepositoryError('WRONG_PASSPHRASE', `the repository at ${backend.location} is not encrypted, but a passphrase was given; remove it, or back up to a new, encrypted destination`);
    }
    const blobs = new BlobStore(backend, master, config.compression, config.packSize);
    await blobs.load();
    return new Repository(backend, config, blobs, keyId, master);
  }

  get encrypted(): boolean {
    return this.master !== null;
  }

  /** Lock timing, shortened by tests. */
  lockTiming: LockTiming = DEFAULT_LOCK_TIMING;

  /**
   * Takes the repository lock: shared for a backup (several may run), exclusive for prune.
   * Fails with LOCKED naming the holder of a conflicting lock. Release it when done.
   */
  lock(mode: 'shared' | 'exclusive', purpose: string): Promise<RepositoryLock> {
    return RepositoryLock.acquire(this.backend, mode === 'exclusive', purpose, this.lockTiming);
  }

  /**
   * Removes packs that no backup uses and repacks half-empty ones, under the exclusive lock:
   * it refuses to start while a backup holds the shared lock, and no backup starts meanwhile.
   */
  async prune(options: PruneOptions = {}, purpose = options.dryRun ? 'prune (dry run)' : 'prune'): Promise<PruneResult> {
    const lock = await this.lock('exclusive', purpose);
    try {
      const manifests = await Promise.all((await this.listBackups()).map((id) => this.readManifest(id)));
      const result = await prune(this.blobs, manifests, options);
      if (!result.dryRun) await this.refreshIndex();
      return result;
    } finally {
      await lock.release();
    }
  }

  /**
   * Reads the index again. A process that keeps a repository open must do this after taking
   * the shared lock for a backup: a prune run elsewhere may have moved or removed packs.
   */
  async refreshIndex(): Promise<void> {
    const fresh = new BlobStore(this.backend, this.master, this.config.compression, this.config.packSize);
    await fresh.load();
    this.blobs = fresh;
  }

  startBackup(options: StartBackupOptions = {}): BackupWriter {
    const backupId = options.backupId ?? randomUUID();
    const { algorithm: _algorithm, ...chunkSizes } = this.config.chunking;
    return new BackupWriter(
      this.blobs.newWriter({ signal: options.signal }),
      (manifest) => this.backend.put(manifestKey(backupId), this.blobs.close(Buffer.from(JSON.stringify(manifest)))),
      { backupId, chunkSizes, previous: options.previous ?? null, signal: options.signal, onProgress: options.onProgress },
    );
  }

  /** Where a chunk is stored (pack, offset, stored length, encoding), or undefined if no index or pack lists it. */
  chunkLocation(id: string): BlobLocation | undefined {
    return this.blobs.location(id);
  }

  /** A writer of chunks straight into packs, for copying backups between repositories. */
  chunkWriter(signal?: AbortSignal): BlobWriter {
    return this.blobs.newWriter({ signal });
  }

  /**
   * Writes a manifest built elsewhere (a replicated backup) whose chunks `writer` stored or
   * found. The writer is asked, not the current index: another job may have re-read the index
   * since, without this writer's packs in it yet.
   */
  async writeManifest(manifest: Manifest, writer: BlobWriter): Promise<void> {
    const missing = manifest.entries.flatMap((e) => (e.type === 'file' ? e.chunks : [])).find((id) => !writer.knows(id));
    if (missing) throw new RepositoryError('CORRUPT', `backup ${manifest.backupId} names chunk ${missing}, which this repository does not hold`);
    await this.backend.put(manifestKey(manifest.backupId), this.blobs.close(Buffer.from(JSON.stringify(manifest))));
  }

  async hasBackup(backupId: string): Promise<boolean> {
    return this.backend.has(manifestKey(backupId));
  }

  async listBackups(): Promise<string[]> {
    return (await this.backend.list('manifests/')).map((key) => key.slice('manifests/'.length)).sort();
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
    let manifest: Manifest;
    try {
      manifest = JSON.parse(this.blobs.open(raw, `the manifest of backup ${backupId}`).toString('utf8')) as Manifest;
    } catch (error) {
      if (error instanceof RepositoryError) throw error;
      throw new RepositoryError('CORRUPT', `the manifest of backup ${backupId} is not valid JSON`);
    }
    if (manifest.backupId !== backupId) throw new RepositoryError('CORRUPT', `the manifest stored as backup ${backupId} belongs to backup ${String(manifest.backupId)}`);
    return manifest;
  }

  async openBackup(backupId: string, options: BackupReaderOptions = {}): Promise<BackupReader> {
    return new BackupReader(await this.readManifest(backupId), this.blobs, options);
  }

  /** Removes the backup's manifest. Its chunks stay until a prune finds nothing else uses them. */
  async deleteBackup(backupId: string): Promise<void> {
    await this.backend.delete(manifestKey(backupId));
  }

  /** Adds a passphrase that opens the repository. Returns the new key's id. */
  async addKey(passphrase: string): Promise<string> {
    if (!this.master) throw new RepositoryError('WRONG_PASSPHRASE', 'the repository is not encrypted; it has no keys');
    const id = randomUUID();
    await this.backend.put(`keys/${id}`, Buffer.from(JSON.stringify(await createKeyFile(this.master, passphrase))));
    return id;
  }

  /** Replaces the passphrase this session opened the repository with. Nothing is re-encrypted. */
  async changePassphrase(passphrase: string): Promise<void> {
    const old = this.keyId;
    await this.addKey(passphrase);
    if (old) await this.backend.delete(`keys/${old}`);
  }

  /**
   * Checks every backup in the repository at once, reading each pack a single time: a damaged
   * pack is reported with every backup and file it hurts. Returns the problems by backup id
   * (an intact backup has an empty list) and those that belong to no backup, and the data no
   * backup uses, which is no damage (null when a manifest cannot be read: then nobody can say).
   */
  async check(options: VerifyOptions): Promise<CheckResult> {
    const backups: Record<string, string[]> = {};
    const general = this.blobs.damagedIndexes.map((p) => `index ${p}`);
    const users = new Map<string, { backup: string; path: string }[]>();
    const manifests: Manifest[] = [];
    let unreadable = false;
    for (const id of await this.listBackups()) {
      backups[id] = [];
      let manifest: Manifest;
      try {
        manifest = await this.readManifest(id);
      } catch (error) {
        backups[id].push((error as Error).message);
        unreadable = true;
        continue;
      }
      manifests.push(manifest);
      backups[id].push(...checkManifestStructure(manifest));
      for (const entry of manifest.entries) {
        if (entry.type !== 'file') continue;
        for (const chunk of entry.chunks) {
          const list = users.get(chunk) ?? [];
          if (!list.some((u) => u.backup === id && u.path === entry.path)) list.push({ backup: id, path: entry.path });
          users.set(chunk, list);
        }
      }
    }
    const { damaged, packs, bytesRead } = await checkChunks(this.blobs, users.keys(), {
      readData: options.readData,
      signal: options.signal,
      onBytes: (bytes) => options.onProgress?.({ files: 0, bytes }),
    });
    for (const [chunk, problem] of damaged) {
      for (const { backup, path } of users.get(chunk) ?? []) {
        const line = `file "${path}": ${problem}`;
        if (!backups[backup].includes(line)) backups[backup].push(line);
      }
    }
    // Read again rather than kept from the last load: a long-lived repository need not hold every index record twice.
    const unreferenced = unreadable ? null : findUnreferenced(await this.blobs.readInventory(), manifests);
    const sharedLocks = (await RepositoryLock.live(this.backend)).filter((l) => !l.record.exclusive).length;
    return { backups, general, packs, bytesRead, unreferenced, sharedLocks };
  }

  async verify(backupId: string, options: VerifyOptions): Promise<VerifyResult> {
    const result: VerifyResult = { problems: [], files: 0, chunks: 0, packs: 0, bytesRead: 0 };
    let manifest: Manifest;
    try {
      manifest = await this.readManifest(backupId);
    } catch (error) {
      result.problems.push((error as Error).message);
      return result;
    }
    result.problems.push(...checkManifestStructure(manifest));
    if (result.problems.length > 0) return result;

    // Which files use which chunk, so a damaged chunk names the files it hurts.
    const users = new Map<string, string[]>();
    for (const entry of manifest.entries) {
      if (entry.type !== 'file') continue;
      result.files += 1;
      for (const id of entry.chunks) {
        const list = users.get(id);
        if (list) {
          if (list[list.length - 1] !== entry.path) list.push(entry.path);
        } else users.set(id, [entry.path]);
      }
    }
    result.chunks = users.size;
    const checked = await checkChunks(this.blobs, users.keys(), {
      readData: options.readData,
      signal: options.signal,
      onBytes: (bytes) => options.onProgress?.({ files: result.files, bytes }),
    });
    const damaged = checked.damaged;
    result.packs = checked.packs;
    result.bytesRead = checked.bytesRead;
    const reported = new Set<string>();
    for (const [id, problem] of damaged) {
      for (const path of users.get(id) ?? []) {
        const line = `file "${path}": ${problem}`;
        if (!reported.has(line)) result.problems.push(line);
        reported.add(line);
      }
    }
    // The chunks of each file must add up to its recorded size (their content was checked above).
    for (const entry of manifest.entries) {
      if (entry.type !== 'file' || entry.chunks.some((id) => damaged.has(id) || !this.blobs.location(id))) continue;
      const size = entry.chunks.reduce((n, id) => n + this.blobs.location(id)!.rawLength, 0);
      if (size !== entry.size) result.problems.push(`file "${entry.path}": its chunks hold ${size} bytes but the manifest records ${entry.size}`);
    }
    for (const problem of this.blobs.damagedIndexes) result.problems.push(`index ${problem} (its packs were indexed again from their headers)`);
    return result;
  }
}

function manifestKey(backupId: string): string {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(backupId)) throw new RepositoryError('INVALID_PATH', `"${backupId}" is not a valid backup id`);
  return `manifests/${backupId}`;
}
