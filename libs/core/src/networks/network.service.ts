/** Networks: the groups of nodes that are backed up together. */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { retiredName } from '../catalog/retired-name';
import { uniqueViolation } from '../catalog/unique-violation';
import { NetworkEntity, NodeEntity, PolicyEntity } from '../catalog/entities';
import { ChainvaultError } from '../errors/chainvault.errors';
import { PluginStatus } from '../plugins/plugin-record';
import { PluginRegistry } from '../plugins/plugin-registry.service';
import { requireName } from '../validation';

export interface CreateNetwork {
  name: string;
  protocol: string;
  labels?: Record<string, string>;
}

export interface UpdateNetwork {
  name?: string | null;
  labels?: Record<string, string> | null;
}

function checkLabels(labels: unknown): Record<string, string> {
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) throw ChainvaultError.badInput('labels must be an object of strings');
  if (Object.values(labels).some((v) => typeof v !== 'string')) throw ChainvaultError.badInput('labels: every value must be a string');
  return labels as Record<string, string>;
}

@Injectable()
export class NetworkService {
  constructor(
    @InjectRepository(NetworkEntity) private readonly networks: Repository<NetworkEntity>,
    @InjectRepository(NodeEntity) private readonly nodes: Repository<NodeEntity>,
    @InjectRepository(PolicyEntity) private readonly policies: Repository<PolicyEntity>,
    private readonly audit: AuditService,
    private readonly plugins: PluginRegistry,
  ) {}

  list(): Promise<NetworkEntity[]> {
    return this.networks.find({ order: { name: 'ASC' } });
  }

  /** A network a backup was taken of, deleted or not. */
  async getSource(id: string): Promise<NetworkEntity> {
    const network = await this.networks.findOne({ where: { id }, withDeleted: true });
    if (!network) throw ChainvaultError.notFound('network', id);
    return network;
  }

  async get(id: string): Promise<NetworkEntity> {
    const network = await this.networks.findOneBy({ id });
    if (!network) throw ChainvaultError.notFound('network', id);
    return network;
  }

  async create(input: CreateNetwork, actor: string): Promise<NetworkEntity> {
    const name = requireName(input.name, 'name');
    const protocol = requireName(input.protocol, 'protocol');
    const served = [...new Set(this.plugins.list().filter((p) => p.status === PluginStatus.LOADED || p.status === PluginStatus.DEGRADED).flatMap((p) => p.protocols))].sort();
    if (!served.includes(protocol)) throw ChainvaultError.badInput(`no loaded plugin serves protocol "${protocol}"; the loaded plugins serve: ${served.join(', ') || 'none'}`);
    const taken = () => ChainvaultError.conflict(`a network named "${name}" already exists`);
    if (await this.networks.existsBy({ name })) throw taken();
    const labels = checkLabels(input.labels ?? {});
    const network = this.networks.create({ id: randomUUID(), name, protocol, labels, createdAt: new Date() });
    try {
      await this.networks.insert(network);
    } catch (error) {
      // A create of the same name that passed the check at the same time, here or in another instance.
      if (uniqueViolation(error)) throw taken();
      throw error;
    }
    await this.audit.record({ actor, action: 'network.create', subjectType: 'network', subjectId: network.id, details: { name, protocol } });
    return network;
  }

  /** Renames a network or replaces its labels; its protocol stays (its nodes were registered for it). */
  async update(id: string, input: UpdateNetwork, actor: string): Promise<NetworkEntity> {
    const network = await this.get(id);
    const changes: Partial<NetworkEntity> = {};
    if (input.name !== undefined && input.name !== null) changes.name = requireName(input.name, 'name');
    if (input.labels !== undefined && input.labels !== null) changes.labels = checkLabels(input.labels);
    if (Object.keys(changes).length === 0) throw ChainvaultError.badInput('give name or labels to change');
    const taken = () => ChainvaultError.conflict(`a network named "${changes.name}" already exists`);
    if (changes.name && changes.name !== network.name && (await this.networks.existsBy({ name: changes.name }))) throw taken();
    try {
      await this.networks.update({ id }, changes);
    } catch (error) {
      if (uniqueViolation(error)) throw taken();
      throw error;
    }
    await this.audit.record({ actor, action: 'network.update', subjectType: 'network', subjectId: id, details: { ...changes, previousName: network.name } });
    return this.get(id);
  }

  /** Removes an empty network: one that still has nodes or policies is refused, naming them. Its backups stay listed. */
  async delete(id: string, actor: string): Promise<NetworkEntity> {
    const network = await this.get(id);
    const nodes = await this.nodes.find({ where: { networkId: id }, order: { name: 'ASC' } });
    if (nodes.length) throw ChainvaultError.conflict(`network "${network.name}" has ${nodes.length} node(s) (${nodes.map((n) => n.name).join(', ')}): delete them first`);
    const policies = await this.policies.find({ where: { networkId: id }, order: { name: 'ASC' } });
    if (policies.length) throw ChainvaultError.conflict(`network "${network.name}" has ${policies.length} policy(ies) (${policies.map((p) => p.name).join(', ')}): delete them first`);
    // Retired, not removed: its deleted nodes and policies, and so their backups, still refer to it.
    const now = new Date();
    await this.networks.update({ id }, { deletedAt: now, name: retiredName(network.name, now) });
    await this.audit.record({ actor, action: 'network.delete', subjectType: 'network', subjectId: id, details: { name: network.name, protocol: network.protocol } });
    return network;
  }
}
