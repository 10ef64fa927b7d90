/**
 * The blocks a backup holds, read from its plugin's metadata, so backups can be listed and
 * filtered by block height whatever their protocol. A plugin says it in its own words:
 *
 * - `blocks: { first, last }`: said outright (any plugin may);
 * - `startBlock` … `endBlock`: a block-range export (the Ethereum chain export);
 * - `lastBlockId` or `blockId`: a snapshot of the whole database up to that block (RocksDB
 *   checkpoints, VMware Blockchain replicas), which holds blocks 0 to it.
 *
 * Anything else (a folder, Fabric resources) holds no block range: null.
 */
export interface BlockRange {
  first: number;
  last: number;
}

const height = (value: unknown): number | null => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null);

export function blockRangeOf(metadata: unknown): BlockRange | null {
  if (typeof metadata !== 'object' || metadata === null) return null;
  const m = metadata as Record<string, unknown>;
  const said = m.blocks as Record<string, unknown> | undefined;
  const range = (first: number | null, last: number | null) => (first !== null && last !== null && first <= last ? { first, last } : null);
  if (typeof said === 'object' && said !== null) return range(height(said.first), height(said.last));
  if (m.endBlock !== undefined) return range(height(m.startBlock), height(m.endBlock));
  const snapshot = height(m.lastBlockId) ?? height(m.blockId);
  return snapshot === null ? null : { first: 0, last: snapshot };
}
