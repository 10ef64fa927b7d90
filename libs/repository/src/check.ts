/**
 * What a whole-repository check says besides damage: the data no backup uses (a failed
 * backup's packs, or those of deleted backups), which only a prune gives back.
 */
import type { PackInventory } from './blob-store';
import type { Manifest } from './manifest';
import { planPrune } from './prune-plan';

export interface UnreferencedData {
  /** Packs no backup uses, and their stored bytes: what a prune deletes outright. */
  packs: number;
  bytes: number;
  /** Of those, the packs no index names: left by a backup that failed or was killed before writing its index. */
  unindexedPacks: number;
  unindexedBytes: number;
}

/** The packs a prune would delete outright, from what is on storage and every backup's manifest. */
export function findUnreferenced(inventory: PackInventory, manifests: Manifest[]): UnreferencedData {
  const data: UnreferencedData = { packs: 0, bytes: 0, unindexedPacks: 0, unindexedBytes: 0 };
  for (const pack of planPrune(inventory, manifests).remove) {
    data.packs += 1;
    data.bytes += pack.bytes;
    if (!pack.indexed) {
      data.unindexedPacks += 1;
      data.unindexedBytes += pack.bytes;
    }
  }
  return data;
}
