/**
 * Prune: removes what no backup references. Run under the repository's exclusive lock, so no
 * backup is writing. `planPrune` decides from what is on storage; `prune` does it in an order
 * that frees space before it needs any and leaves a valid repository wherever it is killed:
 * packs no index names and nothing uses → repacked packs → one new index of everything kept →
 * the old indexes → the packs nothing indexes any more. See README.md, "Prune".
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { freeSpace, packBytes, packKey, type BlobStore, type PackBlob, type PackInventory, type PackRecord } from './blob-store';
import type { Manifest } from './manifest';
import { RepositoryError, describeFreeSpace, formatBytes, throwIfAborted } from './repository.errors';

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
  /** Half-empty packs left whole because the destination had no room for their copies. */
  packsNotRepacked: number;
  dryRun: boolean;
}

/** A pack nothing uses: prune deletes it. */
export interface UnusedPack {
  id: string;
  /** Stored bytes (for an unreadable pack, its size on storage). */
  bytes: number;
  blobs: number;
  /** False for a pack no index names: left by a backup that failed or was killed before its index. */
  indexed: boolean;
}

export interface PrunePlan {
  backups: number;
  packsBefore: number;
  /** Packs kept whole, as the new index lists them. */
  keep: PackRecord[];
  /** Packs at least the threshold unused: the blobs still needed are copied out, then the pack goes. */
  repack: { id: string; blobs: PackBlob[]; bytes: number; indexed: boolean }[];
  remove: UnusedPack[];
  blobsRemoved: number;
  bytesFreed: number;
  /** Chunks the backups use that no pack holds. */
  missing: string[];
}

/** What a prune would do with the repository `inventory` describes, for these backups. */
export function planPrune(inventory: PackInventory, manifests: Manifest[], repackThreshold = 0.5): PrunePlan {
  const referenced = new Set<string>();
  for (const manifest of manifests) {
    for (const entry of manifest.entries) if (entry.type === 'file') for (const id of entry.chunks) referenced.add(id);
  }
  // Keep whole packs that are mostly used first, so a blob stored twice is kept once.
  const usage = [...inventory.packs].map(([id, blobs]) => {
    const total = packBytes(blobs);
    const used = packBytes(blobs.filter((b) => referenced.has(b.id)));
    return { id, blobs, total, used };
  });
  usage.sort((a, b) => b.used / Math.max(1, b.total) - a.used / Math.max(1, a.total));
  const plan: PrunePlan = {
    backups: manifests.length,
    packsBefore: inventory.packs.size + inventory.unreadable.size,
    keep: [],
    repack: [],
    remove: [...inventory.unreadable].map(([id, bytes]) => ({ id, bytes, blobs: 0, indexed: false })),
    blobsRemoved: 0,
    bytesFreed: 0,
    missing: [],
  };
  const kept = new Set<string>();
  for (const pack of usage) {
    const needed = pack.blobs.filter((b) => referenced.has(b.id) && !kept.has(b.id));
    const neededBytes = packBytes(needed);
    const indexed = !inventory.unindexed.has(pack.id);
    if (needed.length === 0) {
      plan.remove.push({ id: pack.id, bytes: pack.total, blobs: pack.blobs.length, indexed });
      plan.blobsRemoved += pack.blobs.length;
      plan.bytesFreed += pack.total;
    } else if (pack.total - neededBytes >= repackThreshold * pack.total && pack.total - neededBytes > 0) {
      plan.repack.push({ id: pack.id, blobs: needed, bytes: pack.total, indexed });
      plan.blobsRemoved += pack.blobs.length - needed.length;
      plan.bytesFreed += pack.total - neededBytes;
      for (const b of needed) kept.add(b.id);
    } else {
      plan.keep.push({ id: pack.id, blobs: pack.blobs });
      for (const b of pack.blobs) kept.add(b.id);
    }
  }
  // A pack an index names but storage lacks stays in the index while a backup needs a chunk only
  // it held: the damage stays visible to verify instead of turning into "in no pack".
  for (const [id, blobs] of inventory.missing) {
    if (!blobs.some((b) => referenced.has(b.id) && !kept.has(b.id))) continue;
    plan.keep.push({ id, blobs });
    for (const b of blobs) kept.add(b.id);
  }
  for (const id of referenced) if (!kept.has(id)) plan.missing.push(id);
  return plan;
}

export async function prune(store: BlobStore, manifests: Manifest[], options: PruneOptions = {}): Promise<PruneResult> {
  const backend = store.backend;
  const inventory = await store.readInventory();
  const plan = planPrune(inventory, manifests, options.repackThreshold ?? 0.5);
  if (plan.missing.length > 0) {
    throw new RepositoryError('CORRUPT', `prune stopped: ${plan.missing.length} chunk(s) that backups need are in no pack (first: ${plan.missing[0]}); run verify to see which backups are hurt`);
  }
  const result: PruneResult = {
    backups: plan.backups,
    packsBefore: plan.packsBefore,
    packsDeleted: plan.remove.length,
    packsRepacked: plan.repack.length,
    packsWritten: 0,
    blobsRemoved: plan.blobsRemoved,
    bytesFreed: plan.bytesFreed,
    packsNotRepacked: 0,
    dryRun: Boolean(options.dryRun),
  };
  if (options.dryRun || (plan.remove.length === 0 && plan.repack.length === 0)) return result;
  const deleted = new Set<string>();
  const deletePack = async (id: string) => {
    await backend.delete(packKey(id));
    deleted.add(id);
  };

  // 1. Packs that no index names and nothing uses: no index needs rewriting for them and no
  //    backup runs beside a prune, so they go first, before anything is written. On a full
  //    destination this is the failed backup's data, and the room the rest is written into.
  for (const pack of plan.remove) {
    if (pack.indexed) continue;
    throwIfAborted(options.signal);
    await deletePack(pack.id);
  }

  // 2. Copy the blobs still needed out of half-empty packs. Stored bytes are copied as they
  //    are: each blob is sealed on its own, so nothing is decrypted or re-encrypted. Without
  //    room for the copies, the half-empty packs stay whole this time.
  const written: PackRecord[] = [];
  let repack = plan.repack;
  try {
    await copyStillNeeded(store, repack, written, options.signal);
  } catch (error) {
    if (!(error instanceof RepositoryError && error.code === 'NO_SPACE')) throw error;
    // The copies written so far are named by no index, and the blobs in them are still in their
    // source packs, which stay: deleting the copies loses nothing.
    for (const pack of written.splice(0)) await backend.delete(packKey(pack.id));
    plan.keep.push(...repack.map((pack) => ({ id: pack.id, blobs: inventory.packs.get(pack.id)! })));
    result.packsNotRepacked = repack.length;
    result.packsRepacked = 0;
    result.bytesFreed -= repack.reduce((n, pack) => n + pack.bytes - packBytes(pack.blobs), 0);
    result.blobsRemoved -= repack.reduce((n, pack) => n + inventory.packs.get(pack.id)!.length - pack.blobs.length, 0);
    repack = [];
  }
  result.packsWritten = written.length;

  // 3. One index of everything kept, then 4. the old indexes go, then 5. the packs.
  throwIfAborted(options.signal);
  const index = store.close(Buffer.from(JSON.stringify({ version: 1, packs: [...plan.keep, ...written] })));
  const indexKey = `index/${randomUUID()}`;
  const leftToDelete = [...plan.remove.filter((p) => p.indexed), ...repack];
  let oldIndexesGone = false;
  try {
    await backend.put(indexKey, index);
  } catch (error) {
    if (!(error instanceof RepositoryError && error.code === 'NO_SPACE')) throw error;
    // Still no room. Old index files may go before the new one is written: every pack names its
    // own blobs in its header, so readers index them again from there meanwhile. Then the packs
    // nothing uses, then the new index into the room they leave — when that room is enough.
    const room = [...inventory.indexBytes.values()].reduce((n, b) => n + b, 0) + leftToDelete.reduce((n, p) => n + p.bytes, 0);
    if (room < index.length) throw await indexShortage(store, index.length, deleted.size, error);
    for (const key of inventory.indexKeys) await backend.delete(key);
    oldIndexesGone = true;
    for (const pack of leftToDelete) await deletePack(pack.id);
    try {
      await backend.put(indexKey, index);
    } catch (again) {
      if (again instanceof RepositoryError && again.code === 'NO_SPACE') throw await indexShortage(store, index.length, deleted.size, again);
      throw again;
    }
  }
  if (!oldIndexesGone) for (const key of inventory.indexKeys) await backend.delete(key);
  // Never delete what was just written (names are random, so this is a guard, not a case).
  const rewritten = new Set(written.map((p) => p.id));
  for (const pack of leftToDelete) if (!rewritten.has(pack.id) && !deleted.has(pack.id)) await deletePack(pack.id);
  for (const key of await backend.list('tmp/')) await backend.delete(key);
  return result;
}

/** Writes the blobs still needed out of the packs to repack into new packs, adding each to `written` once stored. */
async function copyStillNeeded(store: BlobStore, repack: PrunePlan['repack'], written: PackRecord[], signal?: AbortSignal): Promise<void> {
  let parts: Buffer[] = [];
  let entries: PackBlob[] = [];
  let size = 0;
  const flush = async () => {
    if (entries.length === 0) return;
    const id = randomBytes(32).toString('hex');
    await store.backend.put(packKey(id), store.packObject(parts, entries));
    written.push({ id, blobs: entries });
    parts = [];
    entries = [];
    size = 0;
  };
  for (const pack of repack) {
    throwIfAborted(signal);
    const bytes = await store.backend.get(packKey(pack.id));
    for (const blob of pack.blobs) {
      const stored = bytes.subarray(blob.offset, blob.offset + blob.length);
      entries.push({ ...blob, offset: size });
      parts.push(Buffer.from(stored));
      size += stored.length;
      if (size >= store.packSize) await flush();
    }
  }
  await flush();
}

async function indexShortage(store: BlobStore, bytes: number, packsDeleted: number, cause: unknown): Promise<RepositoryError> {
  const space = await freeSpace(store.backend);
  const short = space ? Math.max(1, bytes - space.free) : bytes;
  return new RepositoryError(
    'NO_SPACE',
    `prune cannot write its new index on the destination at ${store.backend.location}: the index needs ${formatBytes(bytes)} and ${describeFreeSpace(space, store.backend.location)}` +
      `${packsDeleted > 0 ? `, after deleting ${packsDeleted} pack(s) nothing used` : ''}; free ${space ? `at least ${formatBytes(short)}` : 'some space'} on the destination and run prune again (the repository stays valid meanwhile)`,
    { cause, space: { neededBytes: bytes, freeBytes: space?.free ?? null, totalBytes: space?.total ?? null } },
  );
}
