/** Networks: the groups of nodes that are backed up together. */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { uniqueViolation } from '../catalog/unique-violation';
import { NetworkEntity } from '../catalog/entities';
import { ChainvaultError } from '../errors/chainvault.errors';
import { requireName } from '../validation';

export interface CreateNetwork {
  name: string;
  protocol: string;
  labels?: Record<string, string>;
}

@Injectable()
export class NetworkService {
  constructor(
    @InjectRepository(NetworkEntity) private readonly networks: Repository<NetworkEntity>,
    private readonly audit: AuditService,
  ) {}

  list(): Promise<NetworkEntity[]> {
    return this.networks.find({ order: { name: 'ASC' } });
  }

  async get(id: string): Promise<NetworkEntity> {
    const network = await this.networks.findOneBy({ id });
    if (!network) throw ChainvaultError.notFound('network', id);
    return network;
  }

  async create(input: CreateNetwork, actor: string): Promise<NetworkEntity> {
    const name = requireName(input.name, 'name');
    const protocol = requireName(input.protocol, 'protocol');
    const taken = () => ChainvaultError.conflict(`a network named "${name}" already exists`);
    if (await this.networks.existsBy({ name })) throw taken();
    const labels = input.labels ?? {};
    if (Object.values(labels).some((v) => typeof v !== 'string')) throw ChainvaultError.badInput('labels: every value must be a string');
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
}
