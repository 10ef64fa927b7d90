/**
 * The prune plan on plain values: what is kept, repacked and deleted follows from the index and
 * the live backups alone, with no storage behind it.
 */
import type { PackInventory } from './blob-store';
import type { FileEntry, Manifest } from './manifest';
import type { PackBlob } from './pack-format';
import { planPrune, withoutRepacking } from './prune-plan';

const id = (name: string) => name.padEnd(64, '0');
const blob = (name: string, length: number): PackBlob => ({ id: id(name), offset: 0, length, rawLength: length, encoding: 'raw' });

function inventory(packs: Record<string, PackBlob[]>, options: { unindexed?: string[]; unreadable?: Record<string, number>; missing?: Record<string, PackBlob[]> } = {}): PackInventory {
  return {
    indexKeys: ['index/a'],
    indexBytes: new Map([['index/a', 100]]),
    damagedIndexes: [],
    packs: new Map(Object.entries(packs).map(([name, blobs]) => [id(name), blobs])),
    unindexed: new Set((options.unindexed ?? []).map(id)),
    unreadable: new Map(Object.entries(options.unreadable ?? {}).map(([name, bytes]) => [id(name), bytes])),
    missing: new Map(Object.entries(options.missing ?? {}).map(([name, blobs]) => [id(name), blobs])),
  };
}

function backup(...chunks: string[]): Manifest {
  const file: FileEntry = { path: 'f', type: 'file', mode: 0o644, mtimeNs: '0', size: 0, sha256: id('s'), chunks: chunks.map(id) };
  return {
    format: 'chainvault-manifest',
    version: 2,
    backupId: 'b',
    createdAt: '',
    parent: null,
    labels: {},
    metadata: {},
    entries: [{ path: '.', type: 'directory', mode: 0o755, mtimeNs: '0' }, file],
    stats: { filesRead: 0, filesUnchanged: 0, bytesRead: 0, logicalBytes: 0, storedBytes: 0, chunksAdded: 0, chunksReused: 0 },
  };
}

describe('planPrune', () => {
  it('keeps a mostly used pack whole, repacks a half-empty one, and deletes a pack nothing uses', () => {
    const plan = planPrune(
      inventory({
        p1: [blob('a', 900), blob('b', 100)], // 90% used: kept whole
        p2: [blob('c', 400), blob('d', 600)], // 40% used: repacked
        p3: [blob('e', 500)], // unused: deleted
      }),
      [backup('a', 'c')],
    );
    expect(plan.keep.map((p) => p.id)).toEqual([id('p1')]);
    expect(plan.repack).toEqual([{ id: id('p2'), blobs: [blob('c', 400)], bytes: 1000, indexed: true }]);
    expect(plan.remove).toEqual([{ id: id('p3'), bytes: 500, blobs: 1, indexed: true }]);
    expect(plan.bytesFreed).toBe(600 + 500);
    expect(plan.blobsRemoved).toBe(2);
    expect(plan.missing).toEqual([]);
    expect(plan.packsBefore).toBe(3);
  });

  it('keeps a blob stored twice once, from the pack most used', () => {
    const plan = planPrune(inventory({ p1: [blob('a', 100), blob('x', 900)], p2: [blob('a', 100), blob('b', 100)] }), [backup('a', 'b')]);
    // p2 is all used and kept; p1 then holds nothing needed, since its copy of a is not the one kept.
    expect(plan.keep.map((p) => p.id)).toEqual([id('p2')]);
    expect(plan.remove.map((p) => p.id)).toEqual([id('p1')]);
  });

  it('marks the packs of a failed backup as unindexed and deletes unreadable packs', () => {
    const plan = planPrune(inventory({ p1: [blob('a', 100)], p2: [blob('z', 300)] }, { unindexed: ['p2'], unreadable: { p3: 77 } }), [backup('a')]);
    expect(plan.remove).toEqual(
      expect.arrayContaining([
        { id: id('p2'), bytes: 300, blobs: 1, indexed: false },
        { id: id('p3'), bytes: 77, blobs: 0, indexed: false },
      ]),
    );
    expect(plan.packsBefore).toBe(3);
  });

  it('names a chunk a backup uses that no pack holds, and keeps a missing pack indexed while only it held a needed chunk', () => {
    const plan = planPrune(inventory({ p1: [blob('a', 100)] }, { missing: { gone: [blob('m', 10)] } }), [backup('a', 'm', 'n')]);
    expect(plan.missing).toEqual([id('n')]);
    expect(plan.keep.map((p) => p.id)).toEqual([id('p1'), id('gone')]);
  });

  it('repacks at the threshold given', () => {
    const packs = { p1: [blob('a', 700), blob('b', 300)] };
    expect(planPrune(inventory(packs), [backup('a')], 0.5).repack).toEqual([]);
    expect(planPrune(inventory(packs), [backup('a')], 0.3).repack.map((p) => p.id)).toEqual([id('p1')]);
  });

  it('given up repacking, keeps the half-empty packs whole and counts only what deleting frees', () => {
    const inv = inventory({ p2: [blob('c', 400), blob('d', 600)], p3: [blob('e', 500)] });
    const plan = withoutRepacking(planPrune(inv, [backup('c')]), inv);
    expect(plan.repack).toEqual([]);
    expect(plan.keep).toEqual([{ id: id('p2'), blobs: [blob('c', 400), blob('d', 600)] }]);
    expect(plan.bytesFreed).toBe(500);
    expect(plan.blobsRemoved).toBe(1);
  });
});
