/**
 * Restore templates: a named restore set (target nodes) with its restore options, stored so the
 * same restore (a predefined network launched elsewhere) is one request away.
 */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { Repository } from 'typeorm';
import { RestoreTemplateEntity } from '../catalog/entities';
import { uniqueViolation } from '../catalog/unique-violation';
import { ChainvaultError } from '../errors/chainvault.errors';
import { NodeService } from '../nodes/node.service';
import { PluginRegistry } from '../plugins/plugin-registry.service';
import { requireObject } from '../validation';

export interface CreateRestoreTemplate {
  name: string;
  description?: string | null;
  targetNodeIds: string[];
  options?: unknown;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

@Injectable()
export class RestoreTemplateService {
  constructor(
    @InjectRepository(RestoreTemplateEntity) private readonly templates: Repository<RestoreTemplateEntity>,
    private readonly nodes: NodeService,
    private readonly plugins: PluginRegistry,
  ) {}

  list(): Promise<RestoreTemplateEntity[]> {
    return this.templates.find({ order: { name: 'ASC' } });
  }

  /** A template by id or by name. */
  async get(idOrName: string): Promise<RestoreTemplateEntity> {
    const found = (UUID.test(idOrName) ? await this.templates.findOneBy({ id: idOrName }) : null) ?? (await this.templates.findOneBy({ name: idOrName }));
    if (!found) throw ChainvaultError.notFound('restore template', idOrName);
    return found;
  }

  async create(input: CreateRestoreTemplate, actor: string): Promise<RestoreTemplateEntity> {
    const name = input.name?.trim();
    if (!name || name.length > 200) throw ChainvaultError.badInput('a template needs a name of 1 to 200 characters');
    const ids = input.targetNodeIds ?? [];
    if (ids.length === 0) throw ChainvaultError.badInput('a template needs its target nodes (targetNodeIds)');
    if (new Set(ids).size !== ids.length) throw ChainvaultError.badInput('targetNodeIds lists a node twice');
    const targets = [];
    for (const id of ids) targets.push(await this.nodes.get(id));
    const pluginIds = [...new Set(targets.map((n) => n.pluginId))];
    if (pluginIds.length > 1) throw ChainvaultError.badInput(`the target nodes use different plugins (${pluginIds.join(', ')}): a template restores one plugin's backups`);
    const options = structuredClone(requireObject(input.options ?? {}, 'options'));
    // The options must fit the restore options of at least one method of the plugin.
    const errors: string[] = [];
    const fits = Object.keys(this.plugins.require(pluginIds[0]).plugin.methods).some((method) => {
      try {
        this.plugins.checkRestoreOptions(pluginIds[0], method, options);
        return true;
      } catch (error) {
        errors.push((error as Error).message);
        return false;
      }
    });
    if (!fits) throw ChainvaultError.badInput(errors[0]);
    const template = this.templates.create({ id: randomUUID(), name, description: input.description ?? null, pluginId: pluginIds[0], targetNodeIds: ids, options, createdAt: new Date(), createdBy: actor });
    try {
      await this.templates.insert(template);
    } catch (error) {
      if (uniqueViolation(error)) throw ChainvaultError.conflict(`a restore template named "${name}" exists`);
      throw error;
    }
    return template;
  }

  async delete(idOrName: string): Promise<RestoreTemplateEntity> {
    const template = await this.get(idOrName);
    await this.templates.delete({ id: template.id });
    return template;
  }
}
