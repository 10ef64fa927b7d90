/**
 * Chunks on a backend: named by the SHA-256 of their content, so identical data is stored
 * once across files and backups.
 */
import { createHash } from 'node:crypto';
import type { RepositoryBackend } from './backend';
import { RepositoryError } from './repository.errors';

export function chunkKey(id: string): string {
  return `chunks/${id.slice(0, 2)}/${id}`;
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export class ChunkStore {
  /** Chunks known to be stored, so a chunk seen twice in one run is checked once. */
  private readonly known = new Set<string>();

  constructor(private readonly backend: RepositoryBackend) {}

  /** Stores a chunk unless it is already there. Returns its id and whether it was new. */
  async put(data: Uint8Array): Promise<{ id: string; added: boolean }> {
    const id = sha256(data);
    if (this.known.has(id) || (await this.backend.has(chunkKey(id)))) {
      this.known.add(id);
      return { id, added: false };
    }
    await this.backend.put(chunkKey(id), data);
    this.known.add(id);
    return { id, added: true };
  }

  /** Reads a chunk and checks it still hashes to its id. */
  async get(id: string): Promise<Buffer> {
    const data = await this.backend.get(chunkKey(id));
    if (sha256(data) !== id) throw new RepositoryError('CORRUPT', `chunk ${id} is damaged: its content no longer matches its hash`);
    return data;
  }

  has(id: string): Promise<boolean> {
    return this.backend.has(chunkKey(id));
  }
}

/**
 * Cuts a byte stream into chunks of `size` bytes (the last one shorter). Fixed-size chunking
 * is format version 1's; the repository config names the algorithm so later versions can
 * cut by content without breaking what is stored.
 */
export async function* fixedSizeChunks(stream: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const piece of stream) {
    let buf = Buffer.isBuffer(piece) ? piece : Buffer.from(piece);
    while (buf.length > 0) {
      const take = Math.min(size - pendingBytes, buf.length);
      pending.push(buf.subarray(0, take));
      pendingBytes += take;
      buf = buf.subarray(take);
      if (pendingBytes === size) {
        yield Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
      }
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}
