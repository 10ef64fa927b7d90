/**
 * The per-network history document of chain-data backups (the shape Kaleido publishes):
 * `{ latest_backup, provider, history: [...] }`. Each entry comes from the `history` list a
 * protocol plugin records in a backup's metadata (block-range files with their boundary hashes);
 * `provider` is the client the plugin names in `metadata.provider` (geth, quorum, besu), or the
 * network's protocol.
 */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { BackupEntity, BackupStatus } from '../catalog/entities';
import { NetworkService } from '../networks/network.service';

export interface ChainHistoryDocument {
  latest_backup: string | null;
  provider: string;
  history: unknown[];
  [key: string]: unknown;
}

/** The history entries a backup's metadata carries, if any. */
export function historyEntries(metadata: Record<string, unknown>): unknown[] | undefined {
  return Array.isArray(metadata.history) ? metadata.history : undefined;
}

@Injectable()
export class ChainHistoryService {
  constructor(
    @InjectRepository(BackupEntity) private readonly backups: Repository<BackupEntity>,
    private readonly networks: NetworkService,
  ) {}

  async forNetwork(networkId: string): Promise<ChainHistoryDocument> {
    return this.document(networkId);
  }

  /** The document as it stands, plus a backup being written now (its time and metadata), for the copy stored with it. */
  async document(networkId: string, pending?: { createdAt: Date; metadata: Record<string, unknown> }): Promise<ChainHistoryDocument> {
    const network = await this.networks.get(networkId);
    const backups = await this.backups.find({
      where: { networkId: network.id, status: In([BackupStatus.COMPLETED, BackupStatus.PARTIAL]) },
      order: { createdAt: 'ASC' },
    });
    const all = [...backups.map((b) => ({ createdAt: b.createdAt, metadata: b.metadata as Record<string, unknown> })), ...(pending ? [pending] : [])];
    const chained = all.filter((b) => historyEntries(b.metadata) !== undefined);
    const latest = chained[chained.length - 1];
    const provider = [...chained].reverse().find((b) => typeof b.metadata.provider === 'string')?.metadata.provider as string | undefined;
    return {
      latest_backup: latest ? latest.createdAt.toISOString() : null,
      provider: provider ?? network.protocol,
      history: chained.flatMap((b) => historyEntries(b.metadata)!),
    };
  }
}
