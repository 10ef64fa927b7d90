/**
 * What a prune would do, as a pure function of what is on storage (every index and pack
 * header, read once into a PackInventory) and the backups that live (their manifests): which
 * packs to keep whole, which to repack, which to delete. prune.ts carries a plan out; check
 * reports from one. Nothing here touches storage, so it is tested on plain values.
 */
import type { PackInventory } from './blob-store';
import type { Manifest } from './manifest';
import { packBytes, type PackBlob, type PackRecord } from './pack-format';

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

/**
 * The plan with its repacking given up: half-empty packs are kept whole, and what their repack
 * would have freed is not counted. Prune falls back to it when the destination has no room for
 * the copies; the next prune with room repacks them.
 */
export function withoutRepacking(plan: PrunePlan, inventory: PackInventory): PrunePlan {
  const whole = plan.repack.map((pack) => ({ id: pack.id, blobs: inventory.packs.get(pack.id)! }));
  return {
    ...plan,
    keep: [...plan.keep, ...whole],
    repack: [],
    blobsRemoved: plan.blobsRemoved - whole.reduce((n, pack, i) => n + pack.blobs.length - plan.repack[i].blobs.length, 0),
    bytesFreed: plan.bytesFreed - plan.repack.reduce((n, pack) => n + pack.bytes - packBytes(pack.blobs), 0),
  };
}
