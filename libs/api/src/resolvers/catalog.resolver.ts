/** Plugins, networks, nodes, destinations and policies. */
import { Args, ID, Mutation, Query, Resolver } from '@nestjs/graphql';
import { ApiRole, AuditService, BackupReplicas, ChainvaultError, DestinationService, NetworkService, NodeService, PluginRegistry, PluginUpgrades, PolicyService, RetentionService } from '@chainvault/core';
import { CreateDestinationInput, CreateNetworkInput, CreatePolicyInput, RegisterNodeInput, UpdateDestinationInput, UpdateNetworkInput, UpdateNodeInput, UpdatePolicyInput } from '../types/inputs';
import { toDestination, toNetwork, toNode, toPlugin, toPolicy, toRetentionResult } from '../types/mappers';
import { Destination, Network, Node, Plugin, Policy, RetentionResult } from '../types/objects';
import { RequiresRole } from '../security/roles';
import { Actor, SeesPaths } from './actor';

@Resolver()
export class CatalogResolver {
  constructor(
    private readonly pluginRegistry: PluginRegistry,
    private readonly networkService: NetworkService,
    private readonly nodeService: NodeService,
    private readonly destinationService: DestinationService,
    private readonly policyService: PolicyService,
    private readonly backupReplicas: BackupReplicas,
    private readonly retention: RetentionService,
    private readonly audit: AuditService,
    private readonly pluginUpgrades: PluginUpgrades,
  ) {}

  @Query(() => [Plugin], { description: 'Every plugin package found, loaded or not (a FAILED one says why).' })
  plugins(): Plugin[] {
    return this.pluginRegistry.list().map(toPlugin);
  }

  @Query(() => [Network])
  async networks(): Promise<Network[]> {
    return (await this.networkService.list()).map(toNetwork);
  }

  @Query(() => [Node])
  async nodes(@SeesPaths() seesPaths: boolean, @Args('networkId', { type: () => ID, nullable: true }) networkId?: string): Promise<Node[]> {
    return (await this.nodeService.list(networkId)).map((n) => toNode(n, this.nodeService.secretFields(n), seesPaths));
  }

  @Query(() => [Destination])
  async destinations(@SeesPaths() seesPaths: boolean): Promise<Destination[]> {
    return (await this.destinationService.list()).map((d) => toDestination(d, this.destinationService.secretFields(d), seesPaths));
  }

  @Query(() => [Policy])
  async policies(): Promise<Policy[]> {
    return (await this.policyService.list()).map(toPolicy);
  }

  @Mutation(() => Network)
  async createNetwork(@Args('input') input: CreateNetworkInput, @Actor() actor: string): Promise<Network> {
    return toNetwork(await this.networkService.create(input, actor));
  }

  @Mutation(() => Network, { description: 'Renames a network or replaces its labels (its protocol stays).' })
  async updateNetwork(@Args('id', { type: () => ID }) id: string, @Args('input') input: UpdateNetworkInput, @Actor() actor: string): Promise<Network> {
    return toNetwork(await this.networkService.update(id, input, actor));
  }

  @Mutation(() => Network, { description: 'Removes a network that has no nodes and no policies (refused, naming them, otherwise). Its backups stay listed.' })
  async deleteNetwork(@Args('id', { type: () => ID }) id: string, @Actor() actor: string): Promise<Network> {
    return toNetwork(await this.networkService.delete(id, actor));
  }

  @Mutation(() => Node, { description: 'Renames a node, changes its role or its config (checked as at registration; secret fields not given again keep their values).' })
  async updateNode(@Args('id', { type: () => ID }) id: string, @Args('input') input: UpdateNodeInput, @Actor() actor: string): Promise<Node> {
    const node = await this.nodeService.update(id, input, actor);
    return toNode(node, this.nodeService.secretFields(node));
  }

  @Mutation(() => Node, { description: 'Deletes a node no policy backs up and no restore template names (refused, naming them, otherwise). Its backups stay listed and restorable.' })
  async deleteNode(@Args('id', { type: () => ID }) id: string, @Actor() actor: string): Promise<Node> {
    const node = await this.nodeService.delete(id, actor);
    return toNode(node, this.nodeService.secretFields(node));
  }

  @Mutation(() => Node)
  async registerNode(@Args('input') input: RegisterNodeInput, @Actor() actor: string): Promise<Node> {
    const node = await this.nodeService.register(input, actor);
    return toNode(node, this.nodeService.secretFields(node));
  }

  @Mutation(() => Destination)
  @RequiresRole(ApiRole.ADMIN)
  async createDestination(@Args('input') input: CreateDestinationInput, @Actor() actor: string): Promise<Destination> {
    const destination = await this.destinationService.create(input, actor);
    return toDestination(destination, this.destinationService.secretFields(destination));
  }

  @Mutation(() => Destination, { description: 'Renames a destination or rotates its credentials; a new config is saved only once it opens the same repository.' })
  @RequiresRole(ApiRole.ADMIN)
  async updateDestination(@Args('id', { type: () => ID }) id: string, @Args('input') input: UpdateDestinationInput, @Actor() actor: string): Promise<Destination> {
    const destination = await this.destinationService.update(id, input, actor);
    return toDestination(destination, this.destinationService.secretFields(destination));
  }

  @Mutation(() => Destination, { description: 'Removes a destination from the catalog (its files stay). Refused while a policy writes to it or it holds backups.' })
  @RequiresRole(ApiRole.ADMIN)
  async deleteDestination(@Args('id', { type: () => ID }) id: string, @Actor() actor: string): Promise<Destination> {
    const destination = await this.destinationService.delete(id, actor);
    return toDestination(destination, this.destinationService.secretFields(destination));
  }

  @Mutation(() => Policy)
  async createPolicy(@Args('input') input: CreatePolicyInput, @Actor() actor: string): Promise<Policy> {
    return toPolicy(await this.policyService.create(input, actor));
  }

  @Mutation(() => Policy, { description: 'Changes a policy from its next run on; its node or network and method stay.' })
  async updatePolicy(@Args('id', { type: () => ID }) id: string, @Args('input') input: UpdatePolicyInput, @Actor() actor: string): Promise<Policy> {
    const { policy, addedDestinationIds } = await this.policyService.update(id, input, actor);
    if (addedDestinationIds.length) await this.backupReplicas.backfill(policy, actor);
    return toPolicy(policy);
  }

  @Mutation(() => Policy, {
    description: 'Deletes a policy: it no longer runs and its name is free. Its backups stay, listed and restorable, with their retention now manual; with deleteBackups they are deleted too (refused while one is pinned).',
  })
  async deletePolicy(
    @Args('id', { type: () => ID }) id: string,
    @Args('deleteBackups', { type: () => Boolean, defaultValue: false }) deleteBackups: boolean,
    @Actor() actor: string,
  ): Promise<Policy> {
    const policy = await this.policyService.checkDeletable(id);
    if (!deleteBackups) return toPolicy(await this.policyService.delete(id, actor, { backupsDeleted: 0 }));
    const report = await this.retention.deleteAllOf(policy, actor);
    const stayed = report.decisions.filter((d) => d.error);
    if (stayed.length) {
      throw ChainvaultError.conflict(`policy "${policy.name}" was not deleted: ${stayed.length} of its backups could not be deleted (${stayed.map((d) => `${d.backupId}: ${d.error}`).join('; ')}); ${report.deleted.length} were`);
    }
    return toPolicy(await this.policyService.delete(id, actor, { backupsDeleted: report.deleted.length, pruneJobIds: report.pruneJobIds }));
  }

  @Mutation(() => Policy, { description: 'Stops the policy\'s schedule; runs asked for by hand still work.' })
  async pausePolicy(@Args('id', { type: () => ID }) id: string, @Actor() actor: string): Promise<Policy> {
    return toPolicy(await this.policyService.pause(id, actor));
  }

  @Mutation(() => Policy, { description: 'Starts the schedule again from now (fires missed while paused are not caught up).' })
  async resumePolicy(@Args('id', { type: () => ID }) id: string, @Actor() actor: string): Promise<Policy> {
    return toPolicy(await this.policyService.resume(id, actor));
  }

  @Mutation(() => RetentionResult, { description: 'Applies the policy\'s retention rules now (or, with dryRun, only says what would go and why each backup stays).' })
  async applyRetention(
    @Args('policyId', { type: () => ID }) policyId: string,
    @Args('dryRun', { type: () => Boolean, defaultValue: false }) dryRun: boolean,
    @Actor() actor: string,
  ): Promise<RetentionResult> {
    return toRetentionResult(await this.retention.apply(policyId, { dryRun, actor }));
  }

  @Mutation(() => Policy, { description: 'Adds a further destination to a policy; every earlier backup of the policy is copied there.' })
  async addPolicyDestination(
    @Args('policyId', { type: () => ID }) policyId: string,
    @Args('destinationId', { type: () => ID }) destinationId: string,
    @Actor() actor: string,
  ): Promise<Policy> {
    const policy = await this.policyService.addDestination(policyId, destinationId, actor);
    await this.backupReplicas.backfill(policy, actor);
    return toPolicy(policy);
  }

  @Mutation(() => Plugin, {
    description: 'Installs a plugin package (a registry name such as name@1.2.0, or the path of a tarball or folder on the server; never a URL) into the data directory, without running any of its scripts, and loads it.',
  })
  @RequiresRole(ApiRole.ADMIN)
  async installPlugin(@Args('spec') spec: string): Promise<Plugin> {
    return toPlugin(await this.pluginRegistry.install(spec));
  }

  @Mutation(() => Plugin, {
    description:
      "Replaces an installed plugin with another version of its package (a registry name such as name@2.0.0, or a tarball or folder on the server), keeping its nodes and policies: each node's config is migrated by the plugin when it declares how, and checked by the new version. Refused, with nothing changed, when the new version's plugin API range or schemas do not fit.",
  })
  @RequiresRole(ApiRole.ADMIN)
  async upgradePlugin(@Args('id', { type: () => ID }) id: string, @Args('spec') spec: string, @Actor() actor: string): Promise<Plugin> {
    return toPlugin(await this.pluginUpgrades.upgrade(id, spec, actor));
  }

  @Mutation(() => Plugin, {
    description: "Turns a plugin off without removing it (built-in ones too): its nodes and policies stay, its runs are refused, saying it is disabled, and its code is not loaded at the next start. Kept across restarts.",
  })
  @RequiresRole(ApiRole.ADMIN)
  async disablePlugin(@Args('id', { type: () => ID }) id: string, @Actor() actor: string): Promise<Plugin> {
    const record = await this.pluginRegistry.disable(id);
    await this.audit.record({ actor, action: 'plugin.disable', subjectType: 'plugin', subjectId: id, details: { version: record.version } });
    return toPlugin(record);
  }

  @Mutation(() => Plugin, { description: 'Turns a disabled plugin on again, loading it as at a start (FAILED, saying why, when it does not load).' })
  @RequiresRole(ApiRole.ADMIN)
  async enablePlugin(@Args('id', { type: () => ID }) id: string, @Actor() actor: string): Promise<Plugin> {
    const record = await this.pluginRegistry.enable(id);
    await this.audit.record({ actor, action: 'plugin.enable', subjectType: 'plugin', subjectId: id, details: { version: record.version, status: record.status } });
    return toPlugin(record);
  }

  @Mutation(() => Plugin, { description: 'Removes an installed plugin (not a built-in one) and unloads it. Refused while nodes use it.' })
  @RequiresRole(ApiRole.ADMIN)
  async uninstallPlugin(@Args('id', { type: () => ID }) id: string, @Actor() actor: string): Promise<Plugin> {
    this.pluginRegistry.uninstallable(id);
    await this.nodeService.refuseWhilePluginUsed(id);
    const record = await this.pluginRegistry.uninstall(id);
    await this.audit.record({ actor, action: 'plugin.uninstall', subjectType: 'plugin', subjectId: id, details: { packageName: record.packageName, version: record.version } });
    return toPlugin(record);
  }
}
