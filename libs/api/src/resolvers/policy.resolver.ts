/** Fields of a policy computed from its schedule. */
import { Args, Int, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { Inject } from '@nestjs/common';
import { CLOCK, ChainvaultError, nextFireTimes, type Clock } from '@chainvault/core';
import { Policy } from '../types/objects';

@Resolver(() => Policy)
export class PolicyResolver {
  constructor(@Inject(CLOCK) private readonly clock: Clock) {}

  @ResolveField(() => [Date], { description: "The next times the schedule fires, in UTC (evaluated in the policy's time zone); empty without a schedule." })
  nextFireTimes(@Parent() policy: Policy, @Args('count', { type: () => Int, defaultValue: 3 }) count: number): Date[] {
    if (!Number.isInteger(count) || count < 1 || count > 50) throw ChainvaultError.badInput(`count must be between 1 and 50, got ${count}`);
    if (!policy.schedule) return [];
    return nextFireTimes({ preset: policy.schedule.preset, cron: policy.schedule.cron, timeZone: policy.schedule.timeZone }, this.clock.now(), count);
  }
}
