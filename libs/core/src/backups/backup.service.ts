/** The backup catalog: listing, reading, pinning and deleting backups. */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { ArtifactEntry } from '@chainvault/plugin-sdk';
import type { Manifest } from '@chainvault/repository';
import { In, Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { BackupEntity, BackupReplicaEntity, BackupStatus, JobKind, JobStatus, JobEntity, VerificationState, type PolicyEntity } from '../catalog/entities';
import { DestinationService } from '../destinations/destination.service';
import { ChainvaultError } from '../errors/chainvault.errors';
import { blockRangeOf } from './block-range';

export interface BackupFilter {
  policyId?: string | null;
  nodeId?: string | null;
  networkId?: string | null;
  statuses?: BackupStatus[] | null;
  /** Created at or after. */
  since?: Date | null;
  /** Created before. */
  until?: Date | null;
  /** Holding this block (first_block ≤ block ≤ last_block). */
  block?: number | null;
}

export interface BackupPage {
  items: BackupEntity[];
  totalCount: number;
  endCursor: string | null;
  hasNextPage: boolean;
}

const MAX_PAGE = 500;

/** The backups a backup needs for a restore, from either column (catalogs written before plugin API 2 hold only the one). */
export function dependencyIds(backup: Pick<BackupEntity, 'dependsOnId' | 'dependsOnIds'>): string[] {
  return backup.dependsOnIds ?? (backup.dependsOnId ? [backup.dependsOnId] : []);
}

/** How each node of a network-scope run fared; a backup with a failed node is PARTIAL. */
export interface BackupReport {
  nodes: { nodeId: string; name: string; status: 'completed' | 'failed'; reason?: string }[];
}

/** An opaque position in the newest-first list of backups. */
export function backupCursor(backup: BackupEntity): string {
  return Buffer.from(`${backup.createdAt.toISOString()}|${backup.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const [createdAt, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!createdAt || !id || Number.isNaN(Date.parse(createdAt))) throw ChainvaultError.badInput(`after: "${cursor}" is not a cursor this API returned`);
  return { createdAt, id };
}

@Injectable()
export class BackupService {
  constructor(
    @InjectRepository(BackupEntity) private readonly backups: Repository<BackupEntity>,
    @InjectRepository(JobEntity) private readonly jobs: Repository<JobEntity>,
    @InjectRepository(BackupReplicaEntity) private readonly replicaRows: Repository<BackupReplicaEntity>,
    private readonly destinations: DestinationService,
    private readonly audit: AuditService,
  ) {}

  async list(filter: BackupFilter = {}, first = 50, after?: string | null): Promise<BackupPage> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw ChainvaultError.badInput(`first must be between 1 and ${MAX_PAGE}, got ${first}`);
    const query = this.backups.createQueryBuilder('b');
    if (filter.policyId) query.andWhere('b.policy_id = :policyId', { policyId: filter.policyId });
    if (filter.nodeId) query.andWhere('b.node_id = :nodeId', { nodeId: filter.nodeId });
    if (filter.networkId) query.andWhere('b.network_id = :networkId', { networkId: filter.networkId });
    if (filter.since) query.andWhere('b.created_at >= :since', { since: filter.since.toISOString() });
    if (filter.until) query.andWhere('b.created_at < :until', { until: filter.until.toISOString() });
    if (filter.block !== undefined && filter.block !== null) {
      if (!Number.isSafeInteger(filter.block) || filter.block < 0) throw ChainvaultError.badInput(`block must be a block height (a whole number from 0), got ${filter.block}`);
      query.andWhere('b.first_block <= :block AND b.last_block >= :block', { block: filter.block });
    }
    if (filter.statuses?.length) query.andWhere('b.status IN (:...statuses)', { statuses: filter.statuses });
    else query.andWhere('b.status <> :deleted', { deleted: BackupStatus.DELETED });
    const totalCount = await query.getCount();
    if (after) {
      const cursor = decodeCursor(after);
      query.andWhere('(b.created_at < :c OR (b.created_at = :c AND b.id < :id))', { c: cursor.createdAt, id: cursor.id });
    }
    const rows = await query.orderBy('b.created_at', 'DESC').addOrderBy('b.id', 'DESC').take(first + 1).getMany();
    const items = rows.slice(0, first);
    return { items, totalCount, endCursor: items.length ? backupCursor(items[items.length - 1]) : null, hasNextPage: rows.length > first };
  }

  async get(id: string): Promise<BackupEntity> {
    const backup = await this.backups.findOneBy({ id });
    if (!backup) throw ChainvaultError.notFound('backup', id);
    return backup;
  }

  /** The backups with these ids that exist, in one query (for loading the backups of a page of jobs). */
  getMany(ids: readonly string[]): Promise<BackupEntity[]> {
    return ids.length ? this.backups.findBy({ id: In([...ids]) }) : Promise.resolve([]);
  }

  /** A backup that can be restored or verified: it exists and was not deleted or left failed. */
  async getUsable(id: string): Promise<BackupEntity> {
    const backup = await this.get(id);
    if (backup.status !== BackupStatus.COMPLETED && backup.status !== BackupStatus.PARTIAL) {
      throw ChainvaultError.conflict(`backup ${id} is ${backup.status} and cannot be used`);
    }
    return backup;
  }

  /** The newest completed backup of a policy: the base for the next incremental run. */
  latestCompleted(policyId: string): Promise<BackupEntity | null> {
    return this.backups.findOne({ where: { policyId, status: In([BackupStatus.COMPLETED, BackupStatus.PARTIAL]) }, order: { createdAt: 'DESC' } });
  }

  /** Every entry of a backup (files, directories, symlinks), as its manifest lists them; none once it is deleted. */
  async files(backup: Pick<BackupEntity, 'id' | 'destinationId' | 'status'>): Promise<ArtifactEntry[]> {
    if (backup.status === BackupStatus.DELETED) return [];
    const repository = await this.destinations.openRepository(await this.destinations.get(backup.destinationId));
    return (await repository.openBackup(backup.id)).list();
  }

  exists(id: string): Promise<boolean> {
    return this.backups.existsBy({ id });
  }

  async record(backup: BackupEntity): Promise<void> {
    await this.backups.insert(backup);
  }

  async recordVerification(id: string, state: VerificationState, problems: string[]): Promise<void> {
    await this.backups.update({ id }, { verification: state, verifiedAt: new Date(), verificationProblems: problems.slice(0, 100) });
  }

  async pin(id: string, pinned: boolean, actor: string): Promise<BackupEntity> {
    const backup = await this.get(id);
    if (backup.status === BackupStatus.DELETED) throw ChainvaultError.conflict(`backup ${id} was deleted`);
    await this.backups.update({ id }, { pinned });
    await this.audit.record({ actor, action: pinned ? 'backup.pin' : 'backup.unpin', subjectType: 'backup', subjectId: id });
    return this.get(id);
  }

  /**
   * Deletes a backup from the catalog (kept as DELETED for the record) and its manifest from
   * the repository. Refused while it is pinned, in use, or needed by another backup.
   */
  async delete(id: string, actor: string): Promise<void> {
    const backup = await this.get(id);
    if (backup.status === BackupStatus.DELETED) throw ChainvaultError.conflict(`backup ${id} was already deleted`);
    if (backup.pinned) throw ChainvaultError.conflict(`backup ${id} is pinned; unpin it before deleting it`);
    const dependant = await this.backups
      .createQueryBuilder('b')
      .where('b.status <> :deleted', { deleted: BackupStatus.DELETED })
      .andWhere('(b.depends_on_id = :id OR b.depends_on_ids LIKE :quoted)', { id, quoted: `%"${id}"%` })
      .getOne();
    if (dependant) throw ChainvaultError.conflict(`backup ${dependant.id} depends on backup ${id}; delete it first`);
    const user = await this.jobs.findOneBy({ backupId: id, status: In([JobStatus.QUEUED, JobStatus.RUNNING]), kind: In([JobKind.RESTORE, JobKind.VERIFY, JobKind.EXPORT, JobKind.REPLICATE]) });
    if (user) throw ChainvaultError.conflict(`job ${user.id} (${user.kind}) is using backup ${id}; wait for it or cancel it`);
    await this.backups.update({ id }, { status: BackupStatus.DELETED, deletedAt: new Date() });
    // The primary and every destination that received a copy.
    const copies = await this.replicaRows.findBy({ backupId: id });
    for (const destinationId of [backup.destinationId, ...copies.map((c) => c.destinationId)]) {
      const repository = await this.destinations.openRepository(await this.destinations.get(destinationId));
      await repository.deleteBackup(id);
    }
    await this.audit.record({ actor, action: 'backup.delete', subjectType: 'backup', subjectId: id });
  }

  /** Builds the catalog row of a backup from its committed manifest. */
  static fromManifest(manifest: Manifest, policy: PolicyEntity, details: { jobId: string; startedAt: Date; dependsOn: string[]; report?: BackupReport | null }): BackupEntity {
    const files = manifest.entries.filter((e) => e.type === 'file').length;
    const partial = details.report?.nodes.some((n) => n.status === 'failed') ?? false;
    return Object.assign(new BackupEntity(), {
      id: manifest.backupId,
      policyId: policy.id,
      networkId: policy.networkId,
      nodeId: policy.nodeId,
      pluginId: policy.pluginId,
      method: policy.method,
      status: partial ? BackupStatus.PARTIAL : BackupStatus.COMPLETED,
      destinationId: policy.destinationIds[0],
      jobId: details.jobId,
      startedAt: details.startedAt,
      createdAt: new Date(manifest.createdAt),
      logicalBytes: manifest.stats.logicalBytes,
      storedBytes: manifest.stats.storedBytes,
      bytesRead: manifest.stats.bytesRead,
      fileCount: files,
      filesRead: manifest.stats.filesRead,
      filesUnchanged: manifest.stats.filesUnchanged,
      metadata: manifest.metadata,
      dependsOnId: details.dependsOn[0] ?? null,
      dependsOnIds: details.dependsOn,
      report: details.report ?? null,
      verification: VerificationState.UNVERIFIED,
      verifiedAt: null,
      verificationProblems: [],
      pinned: false,
      deletedAt: null,
      firstBlock: blockRangeOf(manifest.metadata)?.first ?? null,
      lastBlock: blockRangeOf(manifest.metadata)?.last ?? null,
    });
  }
}
