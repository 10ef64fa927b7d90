/**
 * Upgrading a plugin in place: the new version must take over every node and policy that uses
 * the old one. Each node's config is migrated by the plugin (when it declares how) and checked
 * by the new version's schema and checks; each policy's method must still exist and its options
 * fit. Anything that does not fit refuses the whole upgrade, naming it, with nothing changed.
 */
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { JsonObject } from '@chainvault/plugin-sdk';
import { Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import type { JsonMap } from '../catalog/columns';
import { NodeEntity, PolicyEntity } from '../catalog/entities';
import { ChainvaultError } from '../errors/chainvault.errors';
import { NodeService } from '../nodes/node.service';
import { SecretBox } from '../secrets/secret-box';
import { splitSecrets, withSecretsMasked } from '../secrets/secret-fields';
import { describeSchemaErrors } from './plugin-loader';
import type { LoadedPlugin, PluginRecord } from './plugin-record';
import { PluginRegistry } from './plugin-registry.service';

interface NodeChange {
  node: NodeEntity;
  config: JsonMap;
  secrets: string | null;
}

@Injectable()
export class PluginUpgrades {
  constructor(
    @InjectRepository(NodeEntity) private readonly nodes: Repository<NodeEntity>,
    @InjectRepository(PolicyEntity) private readonly policies: Repository<PolicyEntity>,
    private readonly nodeService: NodeService,
    private readonly registry: PluginRegistry,
    private readonly secretBox: SecretBox,
    private readonly audit: AuditService,
  ) {}

  async upgrade(id: string, spec: string, actor: string): Promise<PluginRecord> {
    let changes: NodeChange[] = [];
    const { record, previous } = await this.registry.upgrade(id, spec, async (candidate, from) => {
      changes = await this.fit(candidate, from);
    });
    // The new version is in place; its configs go in with it, all or none.
    await this.nodes.manager.transaction(async (manager) => {
      for (const change of changes) await manager.update(NodeEntity, { id: change.node.id }, { config: change.config, secrets: change.secrets });
    });
    await this.audit.record({
      actor,
      action: 'plugin.upgrade',
      subjectType: 'plugin',
      subjectId: id,
      details: { packageName: record.packageName, from: previous.version, to: record.version, integrity: record.integrity, nodes: changes.map((c) => c.node.name) },
    });
    return record;
  }

  /** The node configs the candidate version takes over, migrated and sealed; refuses, naming each misfit, when one does not fit. */
  private async fit(candidate: LoadedPlugin, previous: PluginRecord): Promise<NodeChange[]> {
    const { plugin } = candidate;
    const problems: string[] = [];
    const changes: NodeChange[] = [];
    const users = await this.nodes.find({ where: { pluginId: previous.id }, order: { name: 'ASC' } });
    for (const node of users) {
      const before = this.nodeService.handle(node).config as JsonObject;
      const secrets = splitSecrets(previous.nodeConfigSchema ?? {}, before).secrets;
      await withSecretsMasked([secrets], async () => {
        try {
          const migrated = plugin.migrateNodeConfig ? await plugin.migrateNodeConfig(structuredClone(before), { version: previous.version }) : before;
          if (!candidate.validateNodeConfig(migrated)) throw new Error(describeSchemaErrors(candidate.validateNodeConfig.errors, 'config'));
          await plugin.checkNodeConfig?.(migrated);
          const split = splitSecrets(plugin.nodeConfigSchema, migrated);
          changes.push({ node, config: split.publicConfig, secrets: split.secrets ? this.secretBox.seal(split.secrets) : null });
        } catch (error) {
          problems.push(`node "${node.name}": ${(error as Error).message}`);
        }
      });
    }
    const policies = await this.policies.find({ where: { pluginId: previous.id }, order: { name: 'ASC' } });
    for (const policy of policies) {
      const validate = candidate.validateOptions.get(policy.method);
      if (!plugin.methods[policy.method] || !validate) problems.push(`policy "${policy.name}": the new version has no method "${policy.method}"`);
      else if (!validate(policy.options)) problems.push(`policy "${policy.name}": ${describeSchemaErrors(validate.errors, 'options')}`);
    }
    if (problems.length) {
      throw ChainvaultError.badInput(`plugin "${previous.id}" ${candidate.record.version} does not fit what uses ${previous.version}, so nothing was changed: ${problems.join('; ')}`);
    }
    return changes;
  }
}
