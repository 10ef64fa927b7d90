/** Listing jobs a page at a time, with the backup each job produced or works on. */
import { Args, Context, ID, Int, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { BackupService, JOB_PAGE_DEFAULT, JOB_PAGE_MAX, JobLogStore, JobService, MAX_LOG_LINES, jobCursor, type JobFilter as CoreJobFilter } from '@chainvault/core';
import { requestLoader } from '../loading/batch-loader';
import { JobFilter } from '../types/inputs';
import { toBackup, toJob } from '../types/mappers';
import { Backup, Job, JobConnection, JobLogLine } from '../types/objects';
import { JobKind, JobStatus } from '../types/enums';
import { SeesPaths } from './actor';

const FIRST = { type: () => Int, nullable: true, defaultValue: JOB_PAGE_DEFAULT, description: `Jobs per page: 1 to ${JOB_PAGE_MAX}.` } as const;
const AFTER = { type: () => String, nullable: true, description: 'Where the page starts: the id of the last job of the previous page, or its pageInfo.endCursor.' } as const;

function coreFilter(filter: JobFilter | undefined): CoreJobFilter {
  return { statuses: filter?.status, kinds: filter?.kind, policyId: filter?.policyId, nodeId: filter?.nodeId, since: filter?.since };
}

@Resolver(() => Job)
export class JobResolver {
  constructor(
    private readonly jobService: JobService,
    private readonly backupService: BackupService,
    private readonly jobLog: JobLogStore,
  ) {}

  @Query(() => [Job], { description: 'Newest first, a page at a time (jobPage also gives the total and whether more follow).' })
  async jobs(
    @Args('status', { type: () => [JobStatus], nullable: true }) status?: JobStatus[],
    @Args('kind', { type: () => [JobKind], nullable: true }) kind?: JobKind[],
    @Args('policyId', { type: () => ID, nullable: true }) policyId?: string,
    @Args('nodeId', { type: () => ID, nullable: true, description: "Jobs of the node's policies and backups, and restores onto it." }) nodeId?: string,
    @Args('since', { type: () => Date, nullable: true, description: 'Created at or after this time.' }) since?: Date,
    @Args('first', FIRST) first?: number,
    @Args('after', AFTER) after?: string,
  ): Promise<Job[]> {
    const page = await this.jobService.page(coreFilter({ status, kind, policyId, nodeId, since }), first ?? JOB_PAGE_DEFAULT, after);
    return page.items.map((j) => toJob(j));
  }

  @Query(() => JobConnection, { description: 'Newest first, a page at a time, with the number of jobs the filter matches.' })
  async jobPage(
    @Args('filter', { type: () => JobFilter, nullable: true }) filter?: JobFilter,
    @Args('first', FIRST) first?: number,
    @Args('after', AFTER) after?: string,
  ): Promise<JobConnection> {
    const page = await this.jobService.page(coreFilter(filter), first ?? JOB_PAGE_DEFAULT, after);
    const nodes = page.items.map((j) => toJob(j));
    return {
      nodes,
      edges: nodes.map((node, i) => ({ node, cursor: jobCursor(page.items[i]) })),
      pageInfo: { endCursor: page.endCursor, hasNextPage: page.hasNextPage },
      totalCount: await this.jobService.count(coreFilter(filter)),
    };
  }

  @ResolveField(() => [JobLogLine], {
    description: `What the job said, oldest first (its last ${MAX_LOG_LINES} lines, over every attempt); empty for a VIEWER when paths are hidden from viewers. Loaded for a whole page at once.`,
  })
  async log(@Parent() job: Job, @SeesPaths() seesPaths: boolean, @Context() context: object): Promise<JobLogLine[]> {
    if (!seesPaths) return [];
    const loader = requestLoader(context, 'log', (ids: string[]) => this.jobLog.forJobs(ids));
    return (await loader.load(job.id)) ?? [];
  }

  @ResolveField(() => Backup, { nullable: true, description: 'The backup the job produced (BACKUP) or works on (RESTORE, VERIFY, EXPORT, REPLICATE); loaded for a whole page at once.' })
  async backup(@Parent() job: Job, @Context() context: object): Promise<Backup | null> {
    if (!job.backupId) return null;
    const loader = requestLoader(context, 'backup', async (ids: string[]) => new Map((await this.backupService.getMany(ids)).map((b) => [b.id, b])));
    const backup = await loader.load(job.backupId);
    return backup && toBackup(backup);
  }
}
