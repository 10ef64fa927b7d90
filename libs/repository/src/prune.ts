/**
 * Prune: removes what no backup references. Run under the repository's exclusive lock, so no
 * backup is writing. Steps, in an order that leaves a valid repository if killed at any point:
 * write repacked packs → write one new index of everything kept → delete the old indexes →
 * delete packs nothing indexes any more. A pack deleted too early is impossible: until the
 * old indexes are gone, the packs they name still exist.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { packKey, type BlobStore, type PackBlob, type PackRecord } from './blob-store';
import type { Manifest } from './manifest';
import { RepositoryError, throwIfAborted } from './repository.errors';

export interface PruneOptions {
  /** Only say what would be done. */
  dryRun?: boolean;
  /** Repack a pack when at least this share of its bytes is unused (default 0.5). */
  repackThreshold?: number;
  signal?: AbortSignal;
}

export interface PruneResult {
  backups: number;
  packsBefore: number;
  packsDeleted: number;
  packsRepacked: number;
  packsWritten: number;
  blobsRemoved: number;
  bytesFreed: number;
  dryRun: boolean;
}

const PACK_KEY = /^data\/[0-9a-f]{2}\/([0-9a-f]{64})$/;

export async function prune(store: BlobStore, manifests: Manifest[], options: PruneOptions = {}): Promise<PruneResult> {
  const backend = store.backend;
  const threshold = options.repackThreshold ?? 0.5;
  const referenced = new Set<string>();
  for (const manifest of manifests) {
    for (const entry of manifest.entries) if (entry.type === 'file') for (const id of entry.chunks) referenced.add(id);
  }

  // Everything the indexes know, and packs no index knows (garbage of interrupted backups).
  const indexKeys = await backend.list('index/');
  const packs = new Map<string, PackBlob[]>();
  for (const key of indexKeys) {
    const file = JSON.parse(store.open(await backend.get(key), key).toString('utf8')) as { packs: PackRecord[] };
    for (const pack of file.packs) packs.set(pack.id, pack.blobs);
  }
  // A pack no index lists is not garbage by itself: a backup running beside another on the same
  // repository may have reused its blobs before the writer that uploaded it failed. Its own
  // header says what it holds; only a pack whose header cannot be read is dropped outright.
  const unindexed: string[] = [];
  for (const key of await backend.list('data/')) {
    const id = PACK_KEY.exec(key)?.[1];
    if (!id || packs.has(id)) continue;
    try {
      packs.set(id, store.readPackHeader(await backend.get(key), key));
    } catch {
      unindexed.push(id);
    }
  }

  // Keep whole packs that are mostly used first, so a blob stored twice is kept once.
  const usage = [...packs].map(([id, blobs]) => {
    const total = blobs.reduce((n, b) => n + b.length, 0);
    const used = blobs.filter((b) => referenced.has(b.id)).reduce((n, b) => n + b.length, 0);
    return { id, blobs, total, used };
  });
  usage.sort((a, b) => b.used / Math.max(1, b.total) - a.used / Math.max(1, a.total));
  const kept = new Set<string>();
  const keepPacks: PackRecord[] = [];
  const repack: { id: string; blobs: PackBlob[] }[] = [];
  const drop: string[] = [...unindexed];
  let blobsRemoved = 0;
  let bytesFreed = 0;
  for (const pack of usage) {
    const needed = pack.blobs.filter((b) => referenced.has(b.id) && !kept.has(b.id));
    const neededBytes = needed.reduce((n, b) => n + b.length, 0);
    if (needed.length === 0) {
      drop.push(pack.id);
      blobsRemoved += pack.blobs.length;
      bytesFreed += pack.total;
    } else if (pack.total - neededBytes >= threshold * pack.total && pack.total - neededBytes > 0) {
      repack.push({ id: pack.id, blobs: needed });
      blobsRemoved += pack.blobs.length - needed.length;
      bytesFreed += pack.total - neededBytes;
      for (const b of needed) kept.add(b.id);
    } else {
      keepPacks.push({ id: pack.id, blobs: pack.blobs });
      for (const b of pack.blobs) kept.add(b.id);
    }
  }
  const missing = [...referenced].filter((id) => !kept.has(id));
  if (missing.length > 0) {
    throw new RepositoryError('CORRUPT', `prune stopped: ${missing.length} chunk(s) that backups need are in no pack (first: ${missing[0]}); run verify to see which backups are hurt`);
  }
  const result: PruneResult = {
    backups: manifests.length,
    packsBefore: packs.size + unindexed.length,
    packsDeleted: drop.length,
    packsRepacked: repack.length,
    packsWritten: 0,
    blobsRemoved,
    bytesFreed,
    dryRun: Boolean(options.dryRun),
  };
  if (options.dryRun || (drop.length === 0 && repack.length === 0)) return result;

  // 1. Copy the blobs still needed out of half-empty packs. Stored bytes are copied as they
  //    are: each blob is sealed on its own, so nothing is decrypted or re-encrypted.
  const written: PackRecord[] = [];
  let parts: Buffer[] = [];
  let entries: PackBlob[] = [];
  let size = 0;
  const flush = async () => {
    if (entries.length === 0) return;
    const header = store.close(Buffer.from(JSON.stringify({ version: 1, blobs: entries })));
    const length = Buffer.alloc(4);
    length.writeUInt32LE(header.length);
    const pack = [...parts, header, length];
    const id = randomBytes(32).toString('hex');
    await backend.put(packKey(id), pack);
    written.push({ id, blobs: entries });
    parts = [];
    entries = [];
    size = 0;
  };
  for (const pack of repack) {
    throwIfAborted(options.signal);
    const bytes = await backend.get(packKey(pack.id));
    for (const blob of pack.blobs) {
      const stored = bytes.subarray(blob.offset, blob.offset + blob.length);
      entries.push({ ...blob, offset: size });
      parts.push(Buffer.from(stored));
      size += stored.length;
      if (size >= store.packSize) await flush();
    }
  }
  await flush();
  result.packsWritten = written.length;

  // 2. One index of everything kept, then 3. the old indexes go, then 4. the packs.
  throwIfAborted(options.signal);
  await backend.put(`index/${randomUUID()}`, store.close(Buffer.from(JSON.stringify({ version: 1, packs: [...keepPacks, ...written] }))));
  for (const key of indexKeys) await backend.delete(key);
  // Never delete what was just written (names are random, so this is a guard, not a case).
  const rewritten = new Set(written.map((p) => p.id));
  for (const id of [...drop, ...repack.map((p) => p.id)]) if (!rewritten.has(id)) await backend.delete(packKey(id));
  for (const key of await backend.list('tmp/')) await backend.delete(key);
  return result;
}
