/**
 * Copies a backup from one repository to another (replication to a second destination). The
 * two repositories usually have different keys, so chunk ids differ: each chunk is read and
 * checked in the source, named with the target's key, and uploaded only if the target lacks
 * it. Chunk boundaries are kept, so data the target already holds is never sent again. The
 * manifest is written last, under the same backup id, exactly as a backup would write it.
 */
import { createHash } from 'node:crypto';
import type { Manifest, ManifestEntry } from './manifest';
import type { Repository } from './repository';
import { RepositoryError, throwIfAborted } from './repository.errors';

export interface CopyOptions {
  signal?: AbortSignal;
  /** Who holds the target's lock meanwhile, as other lockers are told. */
  purpose?: string;
  onProgress?: (progress: { files: number; bytes: number }) => void;
}

export interface CopyResult {
  backupId: string;
  /** False when the target already had the backup. */
  copied: boolean;
  chunksSent: number;
  chunksPresent: number;
  bytesSent: number;
}

export async function copyBackup(source: Repository, target: Repository, backupId: string, options: CopyOptions = {}): Promise<CopyResult> {
  const result: CopyResult = { backupId, copied: false, chunksSent: 0, chunksPresent: 0, bytesSent: 0 };
  if (await target.hasBackup(backupId)) return result;
  const manifest = await source.readManifest(backupId);
  const reader = await source.openBackup(backupId, { signal: options.signal });
  const lock = await target.lock('shared', options.purpose ?? `replication of backup ${backupId}`);
  try {
    await target.refreshIndex();
    const blobs = target.chunkWriter(options.signal);
    const entries: ManifestEntry[] = [];
    let files = 0;
    let bytes = 0;
    for (const entry of manifest.entries) {
      throwIfAborted(options.signal);
      if (entry.type !== 'file') {
        entries.push(entry);
        continue;
      }
      const chunks: string[] = [];
      const whole = createHash('sha256');
      for await (const data of reader.chunksOf(entry.path)) {
        const put = await blobs.put(data);
        whole.update(data);
        chunks.push(put.id);
        if (put.added) {
          result.chunksSent += 1;
          result.bytesSent += put.storedBytes;
        } else {
          result.chunksPresent += 1;
        }
        bytes += data.length;
        options.onProgress?.({ files, bytes });
      }
      if (whole.digest('hex') !== entry.sha256) throw new RepositoryError('CORRUPT', `file "${entry.path}" of backup ${backupId} does not match its SHA-256 in the source`);
      entries.push({ ...entry, chunks });
      files += 1;
    }
    await blobs.finish();
    const copy: Manifest = { ...manifest, entries, stats: { ...manifest.stats, storedBytes: result.bytesSent, chunksAdded: result.chunksSent, chunksReused: result.chunksPresent } };
    await target.writeManifest(copy, blobs);
    result.copied = true;
    return result;
  } finally {
    await lock.release();
  }
}
