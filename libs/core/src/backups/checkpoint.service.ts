/**
 * Checkpoints of a node, where a plugin keeps them (API 2.0 `inventory`): those on the node's own
 * disk, asked of the plugin now, and those backed up to destinations, from the catalog; and an
 * on-demand checkpoint, which runs the node's checkpoint policy now.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { InventoryItem, JsonObject } from '@chainvault/plugin-sdk';
import { randomUUID } from 'node:crypto';
import { BackupStatus, type JobEntity, type NodeEntity, type PolicyEntity } from '../catalog/entities';
import { CHAINVAULT_CONFIG, type ChainvaultConfig } from '../config/chainvault-config';
import { ChainvaultError } from '../errors/chainvault.errors';
import { describeFailure } from '../jobs/failure';
import { secretsOf, withPluginContext } from '../jobs/plugin-context';
import { NodeService } from '../nodes/node.service';
import { PluginRegistry } from '../plugins/plugin-registry.service';
import { PolicyService } from '../policies/policy.service';
import { BackupRequests } from './backup-requests.service';
import { BackupService } from './backup.service';

export type CheckpointLocation = 'NODE' | 'DESTINATION';

export interface CheckpointView {
  location: CheckpointLocation;
  nodeId: string;
  method: string;
  id: string;
  lastBlockId: string | null;
  sizeBytes: number | null;
  createdAt: Date | null;
  ageSeconds: number | null;
  path: string | null;
  complete: boolean;
  backupId: string | null;
  destinationId: string | null;
  policyId: string | null;
}

/** How long a plugin may take to list a node's checkpoints (an SSH connection and a few listings). */
const INVENTORY_TIMEOUT_MS = 60_000;

@Injectable()
export class CheckpointService {
  constructor(
    @Inject(CHAINVAULT_CONFIG) private readonly config: ChainvaultConfig,
    private readonly nodes: NodeService,
    private readonly policies: PolicyService,
    private readonly plugins: PluginRegistry,
    private readonly backups: BackupService,
    private readonly requests: BackupRequests,
  ) {}

  /** The node's checkpoints: on the node (newest first), then in destinations (newest first). */
  async list(nodeId: string): Promise<CheckpointView[]> {
    const node = await this.nodes.get(nodeId);
    const methods = this.checkpointMethods(node);
    const policies = (await this.policies.list()).filter((p) => p.nodeId === node.id && methods.includes(p.method));
    const now = Date.now();
    const age = (at: Date | null) => (at ? Math.max(0, Math.round((now - at.getTime()) / 1000)) : null);
    const views: CheckpointView[] = [];
    for (const method of methods) {
      const policy = policies.find((p) => p.method === method && p.enabled) ?? policies.find((p) => p.method === method);
      const items = await this.onNode(node, method, policy?.options ?? {});
      for (const item of [...items].reverse()) {
        const createdAt = item.createdAt ? new Date(item.createdAt) : null;
        views.push({
          location: 'NODE', nodeId: node.id, method, id: String(item.id), lastBlockId: item.lastBlockId ?? null, sizeBytes: item.sizeBytes ?? null,
          createdAt, ageSeconds: age(createdAt), path: item.path ?? null, complete: item.complete !== false, backupId: null, destinationId: null, policyId: policy?.id ?? null,
        });
      }
    }
    const stored = await this.backups.list({ nodeId: node.id, statuses: [BackupStatus.COMPLETED, BackupStatus.PARTIAL] }, 500);
    for (const backup of stored.items.filter((b) => methods.includes(b.method))) {
      const metadata = (backup.metadata ?? {}) as JsonObject;
      const id = metadata.checkpointId ?? metadata.lastBlockId ?? backup.id;
      views.push({
        location: 'DESTINATION', nodeId: node.id, method: backup.method, id: String(id), lastBlockId: metadata.lastBlockId === undefined ? null : String(metadata.lastBlockId),
        sizeBytes: backup.logicalBytes ?? null, createdAt: backup.createdAt, ageSeconds: age(backup.createdAt), path: null, complete: true,
        backupId: backup.id, destinationId: backup.destinationId, policyId: backup.policyId,
      });
    }
    return views;
  }

  /** Runs the node's checkpoint policy now (a manual run: the plugin may ask the node for a new checkpoint first). */
  async create(nodeId: string, actor: string): Promise<JobEntity> {
    const node = await this.nodes.get(nodeId);
    const methods = this.checkpointMethods(node);
    const policies = (await this.policies.list()).filter((p: PolicyEntity) => p.nodeId === node.id && methods.includes(p.method) && p.enabled);
    if (policies.length === 0) {
      throw ChainvaultError.badInput(`node "${node.name}" has no enabled checkpoint policy: create one (createPolicy with the node and method ${methods.join(' or ')}) and ask again`);
    }
    if (policies.length > 1) {
      throw ChainvaultError.badInput(`node "${node.name}" has ${policies.length} checkpoint policies (${policies.map((p) => p.name).join(', ')}): run the one you mean with runBackup(policyId)`);
    }
    return this.requests.runBackup(policies[0].id, actor);
  }

  private checkpointMethods(node: NodeEntity): string[] {
    const plugin = this.plugins.require(node.pluginId).plugin;
    const methods = Object.entries(plugin.methods).filter(([, m]) => typeof m.inventory === 'function').map(([name]) => name);
    if (methods.length === 0) throw ChainvaultError.badInput(`plugin "${node.pluginId}" of node "${node.name}" keeps no checkpoints on its nodes`);
    return methods;
  }

  private async onNode(node: NodeEntity, method: string, options: Record<string, unknown>): Promise<InventoryItem[]> {
    const plugin = this.plugins.require(node.pluginId).plugin;
    const handle = this.nodes.handle(node);
    const lines: string[] = [];
    const log = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
    const run = { job: { id: `inventory-${randomUUID()}` } as JobEntity, signal: AbortSignal.timeout(INVENTORY_TIMEOUT_MS), progress: { update: () => undefined }, log };
    const scope = { method, options, networkId: node.networkId, nodeIds: [node.id], secrets: secretsOf(plugin.nodeConfigSchema, [handle.config]) };
    try {
      return await withPluginContext(this.config.dataDir, run, scope, (common) =>
        plugin.methods[method].inventory!({ node: handle, options, log: common.log, signal: common.signal, tempDir: common.tempDir, commands: common.commands, machines: common.machines }),
      );
    } catch (error) {
      throw ChainvaultError.badInput(`the checkpoints on node "${node.name}" could not be listed: ${describeFailure(error)}`);
    }
  }
}
