/**
 * The per-network history document of chain-data backups (the shape Kaleido publishes):
 * `{ latest_backup, provider, history: [...] }`. Each entry comes from the `history` list a
 * protocol plugin records in a backup's metadata (block-range files with their boundary hashes).
 */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { BackupEntity, BackupStatus } from '../catalog/entities';
import { NetworkService } from '../networks/network.service';

export const HISTORY_PROVIDER = 'chainvault';

@Injectable()
export class ChainHistoryService {
  constructor(
    @InjectRepository(BackupEntity) private readonly backups: Repository<BackupEntity>,
    private readonly networks: NetworkService,
  ) {}

  async forNetwork(networkId: string): Promise<Record<string, unknown>> {
    const network = await this.networks.get(networkId);
    const backups = await this.backups.find({
      where: { networkId: network.id, status: In([BackupStatus.COMPLETED, BackupStatus.PARTIAL]) },
      order: { createdAt: 'ASC' },
    });
    const history = backups.flatMap((b) => {
      const entries = (b.metadata as { history?: unknown }).history;
      return Array.isArray(entries) ? entries : [];
    });
    return {
      latest_backup: backups.length ? backups[backups.length - 1].createdAt.toISOString() : null,
      provider: HISTORY_PROVIDER,
      history,
    };
  }
}
