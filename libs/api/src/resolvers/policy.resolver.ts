/** What a policy computes rather than stores: its next fires, how its backups last ended, and a schedule's fires before it is saved. */
import { Args, Context, Int, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { Inject } from '@nestjs/common';
import { CLOCK, ChainvaultError, PolicyOutcomes, PolicyService, nextFireTimes, type Clock, type PolicyOutcome as CorePolicyOutcome } from '@chainvault/core';
import { requestLoader } from '../loading/batch-loader';
import { ScheduleInput } from '../types/inputs';
import { Policy, PolicyOutcome } from '../types/objects';

/** The fire times computed for each request, by schedule (and gone with the request). */
const firesByRequest = new WeakMap<object, Map<string, Date[]>>();

@Resolver(() => Policy)
export class PolicyResolver {
  constructor(
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly outcomes: PolicyOutcomes,
    private readonly policyService: PolicyService,
  ) {}

  @ResolveField(() => [Date], { description: "The next times the schedule fires, in UTC (evaluated in the policy's time zone); empty without a schedule." })
  nextFireTimes(@Parent() policy: Policy, @Args('count', { type: () => Int, defaultValue: 3 }) count: number, @Context() context: object): Date[] {
    if (!Number.isInteger(count) || count < 1 || count > 50) throw ChainvaultError.badInput(`count must be between 1 and 50, got ${count}`);
    if (!policy.schedule) return [];
    const { preset, cron, timeZone } = policy.schedule;
    // Policies of one answer often share a schedule: each distinct one is computed once per request.
    let computed = firesByRequest.get(context);
    if (!computed) firesByRequest.set(context, (computed = new Map()));
    const key = `${preset ?? ''}|${cron ?? ''}|${timeZone}|${count}`;
    let fires = computed.get(key);
    if (!fires) computed.set(key, (fires = nextFireTimes({ preset, cron, timeZone }, this.clock.now(), count)));
    return fires;
  }

  @ResolveField(() => PolicyOutcome, { nullable: true, description: 'The newest completed backup; loaded for every policy of the answer in one query.' })
  lastSuccess(@Parent() policy: Policy, @Context() context: object): Promise<CorePolicyOutcome | null> {
    return requestLoader(context, 'policyLastSuccess', (ids: string[]) => this.outcomes.lastSuccesses(ids)).load(policy.id);
  }

  @ResolveField(() => PolicyOutcome, { nullable: true, description: 'The newest failed backup job, with its error; loaded for every policy of the answer in one query.' })
  lastFailure(@Parent() policy: Policy, @Context() context: object): Promise<CorePolicyOutcome | null> {
    return requestLoader(context, 'policyLastFailure', (ids: string[]) => this.outcomes.lastFailures(ids)).load(policy.id);
  }

  @Query(() => [Date], { description: "The next fires of a schedule not saved yet (checked as createPolicy checks it), in UTC; a daylight-saving change shows as a changed UTC offset of the same local time." })
  schedulePreview(@Args('schedule', { type: () => ScheduleInput }) schedule: ScheduleInput, @Args('count', { type: () => Int, nullable: true, defaultValue: 5 }) count: number): Date[] {
    return this.policyService.previewSchedule(schedule, count);
  }
}
