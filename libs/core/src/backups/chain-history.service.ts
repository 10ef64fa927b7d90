/**
 * The per-network history document of chain-data backups (the shape Kaleido publishes):
 * `{ latest_backup, provider, history: [...] }`. A method declares the entries its backups add
 * (plugin API 2: `history(metadata)`, block-range files with their boundary hashes); for a 1.x
 * plugin, or one no longer loaded, they are the `history` list of the backup's metadata;
 * `provider` is the client the plugin names in `metadata.provider` (geth, quorum, besu), or the
 * network's protocol.
 */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { BackupEntity, BackupStatus } from '../catalog/entities';
import { NetworkService } from '../networks/network.service';
import { PluginRegistry } from '../plugins/plugin-registry.service';

export interface ChainHistoryDocument {
  latest_backup: string | null;
  provider: string;
  history: unknown[];
  [key: string]: unknown;
}

/** The history entries a backup's metadata carries, if any: what hosts read before plugins declared them. */
function metadataHistory(metadata: Record<string, unknown>): unknown[] | undefined {
  return Array.isArray(metadata.history) ? metadata.history : undefined;
}

/** A backup as the history document reads it. */
export interface HistorySource {
  pluginId: string;
  method: string;
  createdAt: Date;
  metadata: Record<string, unknown>;
}

@Injectable()
export class ChainHistoryService {
  constructor(
    @InjectRepository(BackupEntity) private readonly backups: Repository<BackupEntity>,
    private readonly networks: NetworkService,
    private readonly plugins: PluginRegistry,
  ) {}

  /** The entries a backup adds to the history document, or undefined when its method keeps none. */
  async entries(backup: Pick<HistorySource, 'pluginId' | 'method' | 'metadata'>): Promise<unknown[] | undefined> {
    const loaded = this.plugins.find(backup.pluginId);
    const method = loaded?.plugin.methods[backup.method];
    // Awaited: an isolated plugin answers from its own process.
    if (method?.history) return (await method.history(backup.metadata as never)) ?? undefined;
    if (method && loaded && !loaded.plugin.apiVersion.startsWith('1.')) return undefined;
    return metadataHistory(backup.metadata);
  }

  async forNetwork(networkId: string): Promise<ChainHistoryDocument> {
    return this.document(networkId);
  }

  /** The document as it stands, plus a backup being written now (its time and metadata), for the copy stored with it. */
  async document(networkId: string, pending?: HistorySource): Promise<ChainHistoryDocument> {
    const network = await this.networks.get(networkId);
    const backups = await this.backups.find({
      where: { networkId: network.id, status: In([BackupStatus.COMPLETED, BackupStatus.PARTIAL]) },
      order: { createdAt: 'ASC' },
    });
    const all: HistorySource[] = [...backups.map((b) => ({ pluginId: b.pluginId, method: b.method, createdAt: b.createdAt, metadata: b.metadata as Record<string, unknown> })), ...(pending ? [pending] : [])];
    const chained: (HistorySource & { entries: unknown[] })[] = [];
    for (const b of all) {
      const entries = await this.entries(b);
      if (entries !== undefined) chained.push({ ...b, entries });
    }
    const latest = chained[chained.length - 1];
    const provider = [...chained].reverse().find((b) => typeof b.metadata.provider === 'string')?.metadata.provider as string | undefined;
    return {
      latest_backup: latest ? latest.createdAt.toISOString() : null,
      provider: provider ?? network.protocol,
      history: chained.flatMap((b) => b.entries!),
    };
  }
}
