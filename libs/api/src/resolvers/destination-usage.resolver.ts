/** A destination's usage (backups, stored bytes, last check), loaded for every destination of an answer at once. */
import { Context, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { DestinationUsageService, type DestinationUsage as CoreDestinationUsage } from '@chainvault/core';
import { requestLoader } from '../loading/batch-loader';
import { Destination, DestinationUsage } from '../types/objects';

@Resolver(() => Destination)
export class DestinationUsageResolver {
  constructor(private readonly usageService: DestinationUsageService) {}

  @ResolveField(() => DestinationUsage, { description: 'What it holds and its last check; loaded for every destination of the answer in two queries.' })
  async usage(@Parent() destination: Destination, @Context() context: object): Promise<CoreDestinationUsage> {
    const found = await requestLoader(context, 'destinationUsage', (ids: string[]) => this.usageService.usage(ids)).load(destination.id);
    return found ?? { backups: 0, storedBytes: 0, lastCheck: null };
  }
}
