/**
 * The pack loop verify (one backup) and check (every backup) share: the chunks they must vouch
 * for, grouped by pack, each pack read once and in order, so both report damage the same way.
 */
import type { BlobStore } from './blob-store';
import { packKey } from './pack-format';
import { throwIfAborted } from './repository.errors';

export interface ChunkCheckOptions {
  /** Read every pack and re-hash every chunk. Without it, only that each chunk is indexed and its pack exists. */
  readData: boolean;
  signal?: AbortSignal;
  /** Plaintext bytes checked so far, after each pack. */
  onBytes?: (bytes: number) => void;
}

export interface ChunkCheck {
  /** Each damaged or missing chunk, with what is wrong with it. */
  damaged: Map<string, string>;
  /** Packs that hold the chunks. */
  packs: number;
  /** Plaintext bytes read and found intact. */
  bytesRead: number;
}

/** Checks `chunks` where the index says they are. */
export async function checkChunks(store: BlobStore, chunks: Iterable<string>, options: ChunkCheckOptions): Promise<ChunkCheck> {
  const damaged = new Map<string, string>();
  const byPack = new Map<string, string[]>();
  for (const chunk of chunks) {
    const where = store.location(chunk);
    if (!where) damaged.set(chunk, `chunk ${chunk} is in no pack of the index`);
    else {
      const list = byPack.get(where.pack);
      if (list) list.push(chunk);
      else byPack.set(where.pack, [chunk]);
    }
  }
  let bytesRead = 0;
  for (const [pack, ids] of [...byPack].sort(([a], [b]) => (a < b ? -1 : 1))) {
    throwIfAborted(options.signal);
    if (options.readData) {
      const problems = await store.checkPack(pack);
      for (const id of ids) {
        const problem = problems.get(id);
        if (problem) damaged.set(id, problem);
        else bytesRead += store.location(id)!.rawLength;
      }
      options.onBytes?.(bytesRead);
    } else if (!(await store.backend.has(packKey(pack)))) {
      for (const id of ids) damaged.set(id, `pack ${pack} is missing`);
    }
  }
  return { damaged, packs: byPack.size, bytesRead };
}
