/**
 * Prune: removes what no backup references. Run under the repository's exclusive lock, so no
 * backup is writing. `planPrune` (prune-plan.ts) decides from what is on storage;
 * `applyPrunePlan` does it in an order that frees space before it needs any and leaves a valid
 * repository wherever it is killed: packs no index names and nothing uses → repacked packs →
 * one new index of everything kept → the old indexes → the packs nothing indexes any more.
 * See README.md, "Prune".
 */
import { freeSpace, type BlobStore, type PackInventory } from './blob-store';
import type { Manifest } from './manifest';
import { indexObject, newIndexKey, newPackId, packKey, packObject, type PackBlob, type PackRecord } from './pack-format';
import { planPrune, withoutRepacking, type PrunePlan } from './prune-plan';
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

/** Plans a prune of what is on storage for these backups and, unless it is a dry run, carries it out. */
export async function prune(store: BlobStore, manifests: Manifest[], options: PruneOptions = {}): Promise<PruneResult> {
  const inventory = await store.readInventory();
  const plan = planPrune(inventory, manifests, options.repackThreshold ?? 0.5);
  if (plan.missing.length > 0) {
    throw new RepositoryError('CORRUPT', `prune stopped: ${plan.missing.length} chunk(s) that backups need are in no pack (first: ${plan.missing[0]}); run verify to see which backups are hurt`);
  }
  if (options.dryRun || (plan.remove.length === 0 && plan.repack.length === 0)) return { ...summarize(plan), dryRun: Boolean(options.dryRun) };
  return applyPrunePlan(store, inventory, plan, options.signal);
}

/** What a plan does, in the figures a prune reports. */
function summarize(plan: PrunePlan): PruneResult {
  return {
    backups: plan.backups,
    packsBefore: plan.packsBefore,
    packsDeleted: plan.remove.length,
    packsRepacked: plan.repack.length,
    packsWritten: 0,
    blobsRemoved: plan.blobsRemoved,
    bytesFreed: plan.bytesFreed,
    packsNotRepacked: 0,
    dryRun: false,
  };
}

/**
 * Carries out `plan`, made from `inventory`, on storage. When the destination has no room for
 * the repacked copies, it falls back to the plan without repacking (and says so in the result).
 */
export async function applyPrunePlan(store: BlobStore, inventory: PackInventory, plan: PrunePlan, signal?: AbortSignal): Promise<PruneResult> {
  const backend = store.backend;
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
    throwIfAborted(signal);
    await deletePack(pack.id);
  }

  // 2. Copy the blobs still needed out of half-empty packs. Stored bytes are copied as they
  //    are: each blob is sealed on its own, so nothing is decrypted or re-encrypted. Without
  //    room for the copies, the half-empty packs stay whole this time.
  const written: PackRecord[] = [];
  let packsNotRepacked = 0;
  try {
    await copyStillNeeded(store, plan.repack, written, signal);
  } catch (error) {
    if (!(error instanceof RepositoryError && error.code === 'NO_SPACE')) throw error;
    // The copies written so far are named by no index, and the blobs in them are still in their
    // source packs, which stay: deleting the copies loses nothing.
    for (const pack of written.splice(0)) await backend.delete(packKey(pack.id));
    packsNotRepacked = plan.repack.length;
    plan = withoutRepacking(plan, inventory);
  }
  const result: PruneResult = { ...summarize(plan), packsWritten: written.length, packsNotRepacked };

  // 3. One index of everything kept, then 4. the old indexes go, then 5. the packs.
  throwIfAborted(signal);
  const index = indexObject([...plan.keep, ...written], store);
  const indexKey = newIndexKey();
  const leftToDelete = [...plan.remove.filter((p) => p.indexed), ...plan.repack];
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
    const id = newPackId();
    await store.backend.put(packKey(id), packObject(parts, entries, store));
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
