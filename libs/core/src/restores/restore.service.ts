/** Restore requests: checked in full before a job is queued, so a bad target changes nothing. */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { JsonObject, NodeHandle, RestorePhase, RestoreTarget } from '@chainvault/plugin-sdk';
import type { JsonMap } from '../catalog/columns';
import { randomUUID } from 'node:crypto';
import { Repository } from 'typeorm';
import { JobKind, ReplicaState, RestoreEntity, RestoreStatus, type BackupEntity, type JobEntity } from '../catalog/entities';
import { BackupReplicas } from '../backups/backup-replicas.service';
import { BackupService, dependencyIds } from '../backups/backup.service';
import { ChainvaultError, ChainvaultErrorCode } from '../errors/chainvault.errors';
import { JobService } from '../jobs/job.service';
import { NodeService } from '../nodes/node.service';
import { PluginRegistry } from '../plugins/plugin-registry.service';
import { RestoreRoots } from './restore-roots';
import { SecretBox } from '../secrets/secret-box';
import { mergeSecrets, splitSecrets, withSecretsMasked } from '../secrets/secret-fields';
import { requireObject } from '../validation';
import { InterruptedRestores } from './interrupted-restores';
import { RestoreTemplateService } from './restore-templates.service';

export interface RequestRestore {
  backupId: string;
  /** Restore from this destination's copy instead of the primary (it must hold a completed copy). */
  fromDestinationId?: string | null;
  targetNodeId?: string | null;
  /** A restore set: several registered nodes restored in one job, in the phases the plugin orders. */
  targetNodeIds?: string[] | null;
  targetConfig?: unknown;
  options?: unknown;
  /** A stored template (id or name): its target nodes and options, the request's options over them. */
  templateId?: string | null;
}

@Injectable()
export class RestoreService {
  constructor(
    @InjectRepository(RestoreEntity) private readonly restores: Repository<RestoreEntity>,
    private readonly backups: BackupService,
    private readonly nodes: NodeService,
    private readonly plugins: PluginRegistry,
    private readonly jobs: JobService,
    private readonly secretBox: SecretBox,
    private readonly replicas: BackupReplicas,
    private readonly restoreRoots: RestoreRoots,
    private readonly interrupted: InterruptedRestores,
    private readonly templates: RestoreTemplateService,
  ) {}

  /** Restores, newest first; of one backup when given. */
  list(filter: { backupId?: string | null; first?: number | null } = {}): Promise<RestoreEntity[]> {
    const first = filter.first ?? 100;
    if (!Number.isInteger(first) || first < 1 || first > 1000) throw ChainvaultError.badInput('first must be 1 to 1000');
    return this.restores.find({ where: filter.backupId ? { backupId: filter.backupId } : {}, order: { createdAt: 'DESC', id: 'DESC' }, take: first });
  }

  async get(id: string): Promise<RestoreEntity> {
    const restore = await this.restores.findOneBy({ id });
    if (!restore) throw ChainvaultError.notFound('restore', id);
    return restore;
  }

  async request(request: RequestRestore, actor: string): Promise<JobEntity> {
    const input = request.templateId ? await this.withTemplate(request) : request;
    const backup = await this.backups.getUsable(input.backupId);
    const hasConfig = input.targetConfig !== undefined && input.targetConfig !== null;
    const hasSet = Array.isArray(input.targetNodeIds) && input.targetNodeIds.length > 0;
    if ([Boolean(input.targetNodeId), hasConfig, hasSet].filter(Boolean).length !== 1) {
      throw ChainvaultError.badInput('give one of targetNodeId (a registered node), targetNodeIds (several, restored as a set) or targetConfig');
    }
    const method = this.plugins.method(backup.pluginId, backup.method);
    const from = input.fromDestinationId ?? backup.destinationId;
    if (from !== backup.destinationId) {
      const replica = (await this.replicas.forBackup(backup.id)).find((r) => r.destinationId === from);
      if (replica?.state !== ReplicaState.COMPLETED) throw ChainvaultError.badInput(`destination ${from} holds no completed copy of backup ${backup.id}`);
    }
    const options = structuredClone(requireObject(input.options ?? {}, 'options'));
    this.plugins.checkRestoreOptions(backup.pluginId, backup.method, options);

    const restore = this.restores.create({
      id: randomUUID(),
      backupId: backup.id,
      targetNodeId: null,
      targetConfig: null,
      targetSecrets: null,
      options,
      status: RestoreStatus.QUEUED,
      details: null,
      error: null,
      createdAt: new Date(),
      finishedAt: null,
    });
    let targets: RestoreTarget[];
    if (hasSet) {
      const ids = input.targetNodeIds!;
      targets = await this.setTargets(backup, ids);
      await this.phasesOf(backup, targets);
      restore.targetNodeIds = ids;
    } else if (input.targetNodeId) {
      const node = await this.nodes.get(input.targetNodeId);
      if (node.pluginId !== backup.pluginId) throw ChainvaultError.badInput(`node ${node.name} uses plugin "${node.pluginId}", but the backup was made with "${backup.pluginId}"`);
      const handle = this.nodes.handle(node);
      await this.restoreRoots.checkTarget(handle.config, `node "${node.name}" config`);
      targets = [{ node: handle, config: handle.config }];
      restore.targetNodeId = node.id;
    } else {
      const config = structuredClone(requireObject(input.targetConfig, 'targetConfig'));
      const schema = method.restoreTargetSchema ?? this.plugins.require(backup.pluginId).plugin.nodeConfigSchema;
      await withSecretsMasked([splitSecrets(schema, config).secrets], async () => {
        this.plugins.checkTargetConfig(backup.pluginId, backup.method, config);
        // Before the plugin's own check, which may look into the target.
        await this.restoreRoots.checkTarget(config, 'targetConfig');
      });
      const { publicConfig, secrets } = splitSecrets(schema, config);
      restore.targetConfig = publicConfig;
      restore.targetSecrets = secrets ? this.secretBox.seal(secrets) : null;
      targets = [{ config: config as JsonObject }];
    }
    const sources = await this.sourceHandles(backup);
    // The plugin's check sees every config with its secrets; its refusal is shown without them.
    const nodeSchema = this.plugins.require(backup.pluginId).plugin.nodeConfigSchema;
    const targetSchema = method.restoreTargetSchema ?? nodeSchema;
    const given = [
      ...sources.map((source) => splitSecrets(nodeSchema, source.config).secrets),
      ...targets.map((target) => splitSecrets(target.node ? nodeSchema : targetSchema, target.config).secrets),
    ];
    const record = { id: backup.id, createdAt: backup.createdAt, metadata: backup.metadata as JsonObject, dependsOn: dependencyIds(backup) };
    await withSecretsMasked(given, async () => {
      for (const target of targets) {
        // A target left holding only what an interrupted restore wrote is emptied, so this one starts over.
        await this.interrupted.clear(target.config);
        await this.plugins.callPluginCheck(() => method.checkRestoreTarget?.({ sources, target, options, backup: record }));
      }
    });

    await this.restores.insert(restore);
    return this.jobs.create({ kind: JobKind.RESTORE, policyId: backup.policyId, backupId: backup.id, restoreId: restore.id, payload: { destinationId: from } }, actor);
  }

  /** A request that names a template: the template's nodes (unless the request gives its own) and options, the request's on top. */
  private async withTemplate(request: RequestRestore): Promise<RequestRestore> {
    const template = await this.templates.get(request.templateId!);
    const backup = await this.backups.getUsable(request.backupId);
    if (backup.pluginId !== template.pluginId) throw ChainvaultError.badInput(`template "${template.name}" restores "${template.pluginId}" backups; backup ${backup.id} was made with "${backup.pluginId}"`);
    const hasOwnTarget = Boolean(request.targetNodeId) || (request.targetConfig !== undefined && request.targetConfig !== null) || Boolean(request.targetNodeIds?.length);
    return {
      ...request,
      targetNodeIds: hasOwnTarget ? request.targetNodeIds : template.targetNodeIds,
      options: { ...template.options, ...requireObject(request.options ?? {}, 'options') },
    };
  }

  /** The nodes a backup was taken from, as the plugin sees them. */
  async sourceHandles(backup: BackupEntity): Promise<NodeHandle[]> {
    const nodes = backup.nodeId ? [await this.nodes.getSource(backup.nodeId)] : await this.nodes.list(backup.networkId);
    return nodes.map((n) => this.nodes.handle(n));
  }

  /**
   * The phases of a restore set, as the plugin orders them (default: one phase of every
   * target). An order that leaves out a target, names one twice or names a stranger is refused.
   */
  async phasesOf(backup: BackupEntity, targets: RestoreTarget[]): Promise<RestorePhase[]> {
    const method = this.plugins.method(backup.pluginId, backup.method);
    const ids = targets.map((t) => t.node!.id);
    let phases: RestorePhase[];
    try {
      // Awaited: an isolated plugin answers from its own process.
      phases = method.restorePhases ? await method.restorePhases(targets) : [{ name: 'all nodes', nodeIds: ids }];
    } catch (error) {
      throw ChainvaultError.badInput(`plugin "${backup.pluginId}" could not order the restore set: ${(error as Error).message}`);
    }
    const seen = phases.flatMap((p) => (Array.isArray(p?.nodeIds) ? p.nodeIds : []));
    const wrong = !Array.isArray(phases) || phases.some((p) => typeof p?.name !== 'string' || !Array.isArray(p.nodeIds)) || seen.length !== ids.length || new Set(seen).size !== seen.length || seen.some((id) => !ids.includes(id));
    if (wrong) throw new ChainvaultError(ChainvaultErrorCode.INTERNAL, `plugin "${backup.pluginId}" ordered the restore set wrongly: every target must be in exactly one phase`);
    return phases.filter((p) => p.nodeIds.length > 0);
  }

  /** The nodes of a restore set, checked: each once, at most 100, of the backup's plugin, with configs under the restore roots. */
  private async setTargets(backup: BackupEntity, ids: string[]): Promise<RestoreTarget[]> {
    if (ids.length === 0) throw ChainvaultError.badInput('targetNodeIds lists no node');
    if (new Set(ids).size !== ids.length) throw ChainvaultError.badInput('targetNodeIds lists a node twice');
    if (ids.length > 100) throw ChainvaultError.badInput(`targetNodeIds lists ${ids.length} nodes; a restore set holds at most 100`);
    const targets: RestoreTarget[] = [];
    for (const id of ids) {
      const node = await this.nodes.get(id);
      if (node.pluginId !== backup.pluginId) throw ChainvaultError.badInput(`node ${node.name} uses plugin "${node.pluginId}", but the backup was made with "${backup.pluginId}"`);
      const handle = this.nodes.handle(node);
      await this.restoreRoots.checkTarget(handle.config, `node "${node.name}" config`);
      targets.push({ node: handle, config: handle.config });
    }
    return targets;
  }

  /** The phases a restore set of `backupId` onto these nodes would run in, as restoreBackup would order them; nothing is queued. */
  async planSet(backupId: string, ids: string[]): Promise<RestorePhase[]> {
    const backup = await this.backups.getUsable(backupId);
    return this.phasesOf(backup, await this.setTargets(backup, ids));
  }

  /** Every target of a restore: the nodes of a set, in the order given, or its one target. */
  async targets(restore: RestoreEntity): Promise<RestoreTarget[]> {
    if (!restore.targetNodeIds?.length) return [await this.target(restore)];
    const targets: RestoreTarget[] = [];
    for (const id of restore.targetNodeIds) {
      const handle = this.nodes.handle(await this.nodes.get(id));
      targets.push({ node: handle, config: handle.config });
    }
    return targets;
  }

  async target(restore: RestoreEntity): Promise<RestoreTarget> {
    if (restore.targetNodeId) {
      const handle = this.nodes.handle(await this.nodes.get(restore.targetNodeId));
      return { node: handle, config: handle.config };
    }
    const secrets = restore.targetSecrets ? this.secretBox.open<Record<string, unknown>>(restore.targetSecrets) : null;
    return { config: mergeSecrets(restore.targetConfig ?? {}, secrets) as RestoreTarget['config'] };
  }

  async markRunning(id: string): Promise<void> {
    await this.restores.update({ id }, { status: RestoreStatus.RUNNING });
  }

  async markQueued(id: string): Promise<void> {
    await this.restores.update({ id }, { status: RestoreStatus.QUEUED });
  }

  async finish(id: string, status: RestoreStatus, outcome: { details?: JsonMap | null; error?: string | null }): Promise<void> {
    // What the restore extracted where stays on it: a failed one's for a retry to clear, a
    // completed one's so that no later retry clears what is now the user's.
    const extracts = (await this.restores.findOneBy({ id }))?.details?.extracts;
    const details = outcome.details !== undefined || extracts ? { ...(outcome.details ?? {}), ...(extracts ? { extracts } : {}) } : undefined;
    await this.restores.update({ id }, { status, ...(details ? { details } : {}), error: outcome.error ?? null, finishedAt: new Date() });
  }
}
