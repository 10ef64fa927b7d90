/** Nodes: registered with a plugin, their config checked by its schema, their secrets sealed. */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { NodeHandle } from '@chainvault/plugin-sdk';
import { randomUUID } from 'node:crypto';
import { Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { NodeEntity } from '../catalog/entities';
import { uniqueViolation } from '../catalog/unique-violation';
import { ChainvaultError } from '../errors/chainvault.errors';
import { NetworkService } from '../networks/network.service';
import { PluginRegistry } from '../plugins/plugin-registry.service';
import { RestoreRoots } from '../restores/restore-roots';
import { SecretBox } from '../secrets/secret-box';
import { mergeSecrets, secretFieldNames, splitSecrets, withSecretsMasked } from '../secrets/secret-fields';
import { requireName, requireObject } from '../validation';

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
    const config = structuredClone(requireObject(input.config, 'config'));
    // A config that fails a check is refused with a message that never quotes one of its secrets
    // (a schema error, or a plugin's check that reports what it was given).
    const given = splitSecrets(loaded.plugin.nodeConfigSchema, config).secrets;
    await withSecretsMasked([given], async () => {
      await this.plugins.checkNodeConfig(input.plugin, config);
      // Its `path` and `…Path` fields: backups read there and restores to the node write there.
      await this.restoreRoots.checkNodeConfig(config, 'config');
    });
    const taken = () => ChainvaultError.conflict(`network "${network.name}" already has a node named "${name}"`);
    if (await this.nodes.existsBy({ networkId: network.id, name })) throw taken();
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
