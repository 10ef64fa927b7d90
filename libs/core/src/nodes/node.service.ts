/** Nodes: registered with a plugin, their config checked by its schema, their secrets sealed. */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { NodeHandle } from '@chainvault/plugin-sdk';
import { randomUUID } from 'node:crypto';
import { In, IsNull, Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { NodeEntity, PolicyEntity, RestoreEntity, RestoreStatus, RestoreTemplateEntity } from '../catalog/entities';
import { retiredName } from '../catalog/retired-name';
import { uniqueViolation } from '../catalog/unique-violation';
import { ChainvaultError } from '../errors/chainvault.errors';
import { NetworkService } from '../networks/network.service';
import { PluginRegistry } from '../plugins/plugin-registry.service';
import { RestoreRoots } from '../restores/restore-roots';
import { SecretBox } from '../secrets/secret-box';
import { keepSecrets, mergeSecrets, secretFieldNames, splitSecrets, withSecretsMasked } from '../secrets/secret-fields';
import { requireName, requireObject } from '../validation';

export interface UpdateNode {
  name?: string | null;
  role?: string | null;
  /** The whole new config; secret fields it does not give again keep their values. */
  config?: unknown;
}

export interface RegisterNode {
  networkId: string;
  name: string;
  plugin: string;
  role: string;
  config: unknown;
}

@Injectable()
export class NodeService {
  constructor(
    @InjectRepository(NodeEntity) private readonly nodes: Repository<NodeEntity>,
    @InjectRepository(PolicyEntity) private readonly policies: Repository<PolicyEntity>,
    @InjectRepository(RestoreEntity) private readonly restores: Repository<RestoreEntity>,
    @InjectRepository(RestoreTemplateEntity) private readonly templates: Repository<RestoreTemplateEntity>,
    private readonly networks: NetworkService,
    private readonly plugins: PluginRegistry,
    private readonly secretBox: SecretBox,
    private readonly audit: AuditService,
    private readonly restoreRoots: RestoreRoots,
  ) {}

  list(networkId?: string | null): Promise<NodeEntity[]> {
    return this.nodes.find({ where: networkId ? { networkId } : {}, order: { name: 'ASC' } });
  }

  async get(id: string): Promise<NodeEntity> {
    const node = await this.nodes.findOneBy({ id });
    if (!node) throw ChainvaultError.notFound('node', id);
    return node;
  }

  /**
   * A node a backup was taken of, deleted or not: a deleted node's backups stay restorable, and
   * the plugin still sees the node they came from.
   */
  async getSource(id: string): Promise<NodeEntity> {
    const node = await this.nodes.findOne({ where: { id }, withDeleted: true });
    if (!node) throw ChainvaultError.notFound('node', id);
    return node;
  }

  /**
   * Deletes a node. Refused while a policy backs it up (its own, or its network's), a restore
   * template names it, or a restore onto it is queued or running. Its backups stay listed and
   * restorable (the row stays, retired, under a freed name).
   */
  async delete(id: string, actor: string): Promise<NodeEntity> {
    const node = await this.get(id);
    const policies = await this.policies.find({ where: [{ nodeId: id }, { networkId: node.networkId, nodeId: IsNull() }], order: { name: 'ASC' } });
    if (policies.length) {
      throw ChainvaultError.conflict(`node "${node.name}" is backed up by ${policies.length} policy(ies) (${policies.map((p) => p.name).join(', ')}); delete them or, for a network policy, move the node out of its network first`);
    }
    const templates = (await this.templates.find({ order: { name: 'ASC' } })).filter((t) => t.targetNodeIds.includes(id));
    if (templates.length) throw ChainvaultError.conflict(`node "${node.name}" is a target of restore template(s) ${templates.map((t) => `"${t.name}"`).join(', ')}; delete them first`);
    const restoring = (await this.restores.find({ where: { status: In([RestoreStatus.QUEUED, RestoreStatus.RUNNING]) } })).find((r) => r.targetNodeId === id || r.targetNodeIds?.includes(id));
    if (restoring) throw ChainvaultError.conflict(`restore ${restoring.id} is writing to node "${node.name}"; wait for it or cancel its job`);
    const now = new Date();
    await this.nodes.update({ id }, { deletedAt: now, name: retiredName(node.name, now) });
    await this.audit.record({ actor, action: 'node.delete', subjectType: 'node', subjectId: id, details: { name: node.name, plugin: node.pluginId, networkId: node.networkId } });
    return node;
  }

  /** Refuses while registered nodes use a plugin, naming them. */
  async refuseWhilePluginUsed(pluginId: string): Promise<void> {
    const users = await this.nodes.find({ where: { pluginId }, order: { name: 'ASC' } });
    if (users.length) throw ChainvaultError.conflict(`plugin "${pluginId}" is used by ${users.length} node(s) (${users.map((n) => n.name).join(', ')}); delete them first`);
  }

  async register(input: RegisterNode, actor: string): Promise<NodeEntity> {
    const network = await this.networks.get(input.networkId);
    const name = requireName(input.name, 'name');
    const role = requireName(input.role, 'role');
    const loaded = this.plugins.require(input.plugin);
    if (!loaded.record.protocols.includes(network.protocol)) {
      throw ChainvaultError.badInput(
        `plugin "${input.plugin}" serves ${loaded.record.protocols.join(', ')}, but network "${network.name}" is ${network.protocol}`,
      );
    }
    if (loaded.plugin.roles && !loaded.plugin.roles.includes(role)) {
      throw ChainvaultError.badInput(`plugin "${input.plugin}" knows the roles ${loaded.plugin.roles.join(', ')}, not "${role}"`);
    }
    const taken = () => ChainvaultError.conflict(`network "${network.name}" already has a node named "${name}"`);
    if (await this.nodes.existsBy({ networkId: network.id, name })) throw taken();
    const config = structuredClone(requireObject(input.config, 'config'));
    // A config that fails a check is refused with a message that never quotes one of its secrets
    // (a schema error, or a plugin's check that reports what it was given).
    const given = splitSecrets(loaded.plugin.nodeConfigSchema, config).secrets;
    await withSecretsMasked([given], async () => {
      await this.plugins.checkNodeConfig(input.plugin, config);
      // Its `path` and `…Path` fields: backups read there and restores to the node write there.
      await this.restoreRoots.checkNodeConfig(config, 'config');
    });
    const { publicConfig, secrets } = splitSecrets(loaded.plugin.nodeConfigSchema, config);
    const node = this.nodes.create({
      id: randomUUID(),
      networkId: network.id,
      name,
      pluginId: input.plugin,
      role,
      config: publicConfig,
      secrets: secrets ? this.secretBox.seal(secrets) : null,
      createdAt: new Date(),
    });
    try {
      await this.nodes.insert(node);
    } catch (error) {
      // A registration of the same name that passed the check at the same time, here or in another instance.
      if (uniqueViolation(error)) throw taken();
      throw error;
    }
    await this.audit.record({
      actor,
      action: 'node.register',
      subjectType: 'node',
      subjectId: node.id,
      details: { name, plugin: input.plugin, networkId: network.id, secretFields: secretFieldNames(secrets) },
    });
    return node;
  }

  /**
   * Renames a node, changes its role or its config. A new config is checked as at registration
   * (schema, plugin check, restore roots); secret fields it does not give again keep their
   * values, unless the config no longer has a place for them.
   */
  async update(id: string, input: UpdateNode, actor: string): Promise<NodeEntity> {
    const node = await this.get(id);
    const loaded = this.plugins.require(node.pluginId);
    const changes: Partial<NodeEntity> = {};
    if (input.name !== undefined && input.name !== null) changes.name = requireName(input.name, 'name');
    if (input.role !== undefined && input.role !== null) {
      changes.role = requireName(input.role, 'role');
      if (loaded.plugin.roles && !loaded.plugin.roles.includes(changes.role)) throw ChainvaultError.badInput(`plugin "${node.pluginId}" knows the roles ${loaded.plugin.roles.join(', ')}, not "${changes.role}"`);
    }
    let changedSecrets: string[] = [];
    if (input.config !== undefined && input.config !== null) {
      const schema = loaded.plugin.nodeConfigSchema;
      const given = splitSecrets(schema, structuredClone(requireObject(input.config, 'config')));
      const earlier = node.secrets ? this.secretBox.open<Record<string, unknown>>(node.secrets) : null;
      const kept = keepSecrets(earlier, node.config, given.publicConfig, given.secrets);
      const check = async (config: Record<string, unknown>) =>
        withSecretsMasked([given.secrets, earlier], async () => {
          await this.plugins.checkNodeConfig(node.pluginId, config);
          await this.restoreRoots.checkNodeConfig(config, 'config');
        });
      let config = mergeSecrets(given.publicConfig, kept);
      try {
        await check(config);
      } catch (error) {
        // The earlier secrets no longer fit the new shape (an SSH machine become local): they go.
        if (JSON.stringify(kept) === JSON.stringify(given.secrets)) throw error;
        config = mergeSecrets(given.publicConfig, given.secrets);
        await check(config).catch(() => {
          throw error;
        });
      }
      const split = splitSecrets(schema, config);
      changes.config = split.publicConfig;
      changes.secrets = split.secrets ? this.secretBox.seal(split.secrets) : null;
      changedSecrets = secretFieldNames(given.secrets);
    }
    if (Object.keys(changes).length === 0) throw ChainvaultError.badInput('give name, role or config to change');
    const taken = () => ChainvaultError.conflict(`network already has a node named "${changes.name}"`);
    if (changes.name && changes.name !== node.name && (await this.nodes.existsBy({ networkId: node.networkId, name: changes.name }))) throw taken();
    try {
      await this.nodes.update({ id }, changes);
    } catch (error) {
      if (uniqueViolation(error)) throw taken();
      throw error;
    }
    await this.audit.record({
      actor,
      action: 'node.update',
      subjectType: 'node',
      subjectId: id,
      details: { changed: Object.keys(changes).filter((k) => k !== 'secrets'), ...(changes.name ? { name: changes.name, previousName: node.name } : {}), ...(changes.role ? { role: changes.role } : {}), secretFieldsGiven: changedSecrets },
    });
    return this.get(id);
  }

  /** The node as a plugin sees it: config with its secrets decrypted. Never leaves the server. */
  handle(node: NodeEntity): NodeHandle {
    const secrets = node.secrets ? this.secretBox.open<Record<string, unknown>>(node.secrets) : null;
    return { id: node.id, name: node.name, role: node.role, config: mergeSecrets(node.config, secrets) as NodeHandle['config'] };
  }

  /** Names of the secret fields a node has set, without their values. */
  secretFields(node: NodeEntity): string[] {
    return node.secrets ? secretFieldNames(this.secretBox.open<Record<string, unknown>>(node.secrets)) : [];
  }
}
