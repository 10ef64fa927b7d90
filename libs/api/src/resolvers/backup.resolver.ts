/** Backups, restores, verification, export, jobs and the chain history. */
import { Args, Context, ID, Int, Mutation, Parent, Query, ResolveField, Resolver, Subscription } from '@nestjs/graphql';
import { ApiRole, BackupReplicas, BackupRequests, BackupService, backupCursor, ChainHistoryService, ChainvaultError, ChainvaultErrorCode, FILE_PAGE_MAX, JobService, pageOfFiles, RestoreService, type BackupReplicaEntity, type RestoreEntity } from '@chainvault/core';
import { JsonScalar } from '../types/json.scalar';
import { BackupFilter, RestoreInput } from '../types/inputs';
import { toBackup, toJob } from '../types/mappers';
import { Backup, BackupConnection, BackupFile, BackupReplica, Job, Restore, RestorePhasePlan } from '../types/objects';
import { requestLoader } from '../loading/batch-loader';
import { chargeItems, type ApiContext } from '../security/api-context';
import { RequiresRole } from '../security/roles';
import { Actor, SeesPaths } from './actor';

/** A restore as the API shows it; a viewer that may not see paths sees no target config and no details. */
function toRestore(r: RestoreEntity, seesPaths: boolean): Restore {
  return {
    id: r.id,
    backupId: r.backupId,
    targetNodeId: r.targetNodeId,
    targetNodeIds: r.targetNodeIds,
    targetConfig: seesPaths ? r.targetConfig : null,
    options: r.options,
    status: r.status,
    details: seesPaths ? r.details : null,
    error: r.error,
    createdAt: r.createdAt,
    finishedAt: r.finishedAt,
  };
}

async function orNull<T>(lookup: Promise<T>): Promise<T | null> {
  try {
    return await lookup;
  } catch (error) {
    if (error instanceof ChainvaultError && error.code === ChainvaultErrorCode.NOT_FOUND) return null;
    throw error;
  }
}

@Resolver(() => Backup)
export class BackupResolver {
  constructor(
    private readonly backupService: BackupService,
    private readonly backupReplicas: BackupReplicas,
    private readonly backupRequests: BackupRequests,
    private readonly restoreService: RestoreService,
    private readonly jobService: JobService,
    private readonly chainHistoryService: ChainHistoryService,
  ) {}

  @Query(() => BackupConnection, { description: 'Newest first.' })
  async backups(
    @Args('filter', { type: () => BackupFilter, nullable: true }) filter?: BackupFilter,
    @Args('first', { type: () => Int, nullable: true }) first?: number,
    @Args('after', { type: () => String, nullable: true }) after?: string,
  ): Promise<BackupConnection> {
    const page = await this.backupService.list({ ...filter, statuses: filter?.status }, first ?? 50, after);
    const nodes = page.items.map(toBackup);
    return {
      nodes,
      edges: nodes.map((node, i) => ({ node, cursor: backupCursor(page.items[i]) })),
      pageInfo: { endCursor: page.endCursor, hasNextPage: page.hasNextPage },
      totalCount: page.totalCount,
    };
  }

  @Query(() => Backup, { nullable: true })
  async backup(@Args('id', { type: () => ID }) id: string): Promise<Backup | null> {
    const backup = await orNull(this.backupService.get(id));
    return backup && toBackup(backup);
  }

  @ResolveField(() => [BackupFile], {
    description: 'The entries of the backup, from its manifest; empty once the backup is deleted (the manifest goes with it). Without first and after, every entry; with either, a page in path order (first defaults to the most a page holds).',
  })
  async files(
    @Parent() backup: Backup,
    @Context() context: ApiContext,
    @Args('first', { type: () => Int, nullable: true, description: `Entries per page, in path order: 1 to ${FILE_PAGE_MAX}.` }) first?: number,
    @Args('after', { type: () => String, nullable: true, description: 'The last path of the previous page.' }) after?: string,
  ): Promise<BackupFile[]> {
    chargeItems(context, 0, 'files');
    const all = await this.backupService.files(backup);
    const files = first == null && after == null ? all : pageOfFiles(all, first ?? FILE_PAGE_MAX, after);
    chargeItems(context, files.length, 'files');
    return files;
  }

  @ResolveField(() => [BackupReplica], { description: 'Copies in the further destinations of the policy; loaded for a whole page of backups at once.' })
  async replicas(@Parent() backup: Backup, @Context() context: ApiContext): Promise<BackupReplica[]> {
    const loader = requestLoader(context, 'replicas', async (ids: string[]) => {
      const byBackup = new Map<string, BackupReplicaEntity[]>();
      for (const r of await this.backupReplicas.forBackups(ids)) {
        if (!byBackup.has(r.backupId)) byBackup.set(r.backupId, []);
        byBackup.get(r.backupId)!.push(r);
      }
      return byBackup;
    });
    return ((await loader.load(backup.id)) ?? []).map((r) => ({ destinationId: r.destinationId, state: r.state, updatedAt: r.updatedAt, error: r.error, bytesSent: r.bytesSent }));
  }

  @Query(() => [Restore], { description: 'Restores, newest first (of one backup when given).' })
  async restores(
    @SeesPaths() seesPaths: boolean,
    @Args('backupId', { type: () => ID, nullable: true }) backupId?: string,
    @Args('first', { type: () => Int, nullable: true, description: '1 to 1000 (default 100).' }) first?: number,
  ): Promise<Restore[]> {
    return (await this.restoreService.list({ backupId, first })).map((r) => toRestore(r, seesPaths));
  }

  @Query(() => [RestorePhasePlan], { description: 'The phases a restore set of the backup onto these nodes would run in, as restoreBackup would order them; nothing is started.' })
  @RequiresRole(ApiRole.OPERATOR)
  async restorePhases(
    @Args('backupId', { type: () => ID }) backupId: string,
    @Args('targetNodeIds', { type: () => [ID] }) targetNodeIds: string[],
  ): Promise<RestorePhasePlan[]> {
    return (await this.restoreService.planSet(backupId, targetNodeIds)).map((p) => ({ name: p.name, nodeIds: [...p.nodeIds] }));
  }

  @Query(() => Restore, { nullable: true })
  async restore(@Args('id', { type: () => ID }) id: string, @SeesPaths() seesPaths: boolean): Promise<Restore | null> {
    const restore = await orNull(this.restoreService.get(id));
    return restore && toRestore(restore, seesPaths);
  }

  @Query(() => Job, { nullable: true })
  async job(@Args('id', { type: () => ID }) id: string): Promise<Job | null> {
    const job = await orNull(this.jobService.get(id));
    return job && toJob(job);
  }

  @Subscription(() => Job, {
    description: 'The job as it is now, then at each change (progress, log, end), until it has ended.',
    resolve: (job: Job) => job,
  })
  async jobProgress(@Args('jobId', { type: () => ID }) jobId: string): Promise<AsyncIterator<Job>> {
    await this.jobService.get(jobId);
    const updates = this.jobService.follow(jobId);
    return (async function* () {
      for await (const job of updates) yield toJob(job);
    })();
  }

  @Query(() => JsonScalar, { description: 'The history document of a network: { latest_backup, provider, history }.' })
  chainHistory(@Args('networkId', { type: () => ID }) networkId: string): Promise<Record<string, unknown>> {
    return this.chainHistoryService.forNetwork(networkId);
  }

  @Mutation(() => Job)
  async runBackup(@Args('policyId', { type: () => ID }) policyId: string, @Actor() actor: string): Promise<Job> {
    return toJob(await this.backupRequests.runBackup(policyId, actor));
  }

  @Mutation(() => Job)
  async cancelJob(@Args('id', { type: () => ID }) id: string, @Actor() actor: string): Promise<Job> {
    return toJob(await this.jobService.cancel(id, actor));
  }

  @Mutation(() => Job)
  async restoreBackup(@Args('input') input: RestoreInput, @Actor() actor: string): Promise<Job> {
    return toJob(await this.restoreService.request(input, actor));
  }

  @Mutation(() => Job)
  async verifyBackup(
    @Args('backupId', { type: () => ID }) backupId: string,
    @Args('readData', { type: () => Boolean, defaultValue: true }) readData: boolean,
    @Actor() actor: string,
  ): Promise<Job> {
    return toJob(await this.backupRequests.verifyBackup(backupId, readData, actor));
  }

  @Mutation(() => Job, {
    description:
      'Writes the files of a backup, as stored, into a directory on the server (for example the .rlp files `geth import` reads). `path` is absolute and names a missing or empty directory: nothing is overwritten.',
  })
  async exportBackup(
    @Args('backupId', { type: () => ID }) backupId: string,
    @Args('path', { type: () => String }) path: string,
    @Actor() actor: string,
  ): Promise<Job> {
    return toJob(await this.backupRequests.exportBackup(backupId, path, actor));
  }

  @Mutation(() => Job, { description: "Removes the data no backup in the destination uses any more; with dryRun, only reports what would go." })
  @RequiresRole(ApiRole.ADMIN)
  async pruneDestination(
    @Args('destinationId', { type: () => ID }) destinationId: string,
    @Args('dryRun', { type: () => Boolean, defaultValue: false }) dryRun: boolean,
    @Actor() actor: string,
  ): Promise<Job> {
    return toJob(await this.backupRequests.pruneDestination(destinationId, dryRun, actor));
  }

  @Mutation(() => Job, { description: 'Checks every backup in a destination, reading each pack once; a damaged pack is reported with every backup and file it hurts.' })
  async checkDestination(
    @Args('destinationId', { type: () => ID }) destinationId: string,
    @Args('readData', { type: () => Boolean, defaultValue: true }) readData: boolean,
    @Actor() actor: string,
  ): Promise<Job> {
    return toJob(await this.backupRequests.checkDestination(destinationId, readData, actor));
  }

  @Mutation(() => Boolean)
  async deleteBackup(@Args('id', { type: () => ID }) id: string, @Actor() actor: string): Promise<boolean> {
    await this.backupService.delete(id, actor);
    return true;
  }

  @Mutation(() => Backup)
  async pinBackup(@Args('id', { type: () => ID }) id: string, @Args('pinned') pinned: boolean, @Actor() actor: string): Promise<Backup> {
    return toBackup(await this.backupService.pin(id, pinned, actor));
  }
}
