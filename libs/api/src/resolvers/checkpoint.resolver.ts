/** A node's checkpoints (on the node and in destinations) and on-demand checkpoints. */
import { Args, ID, Mutation, Query, Resolver } from '@nestjs/graphql';
import { CheckpointService } from '@chainvault/core';
import { toJob } from '../types/mappers';
import { Job, NodeCheckpoint } from '../types/objects';
import { Actor, SeesPaths } from './actor';

@Resolver(() => NodeCheckpoint)
export class CheckpointResolver {
  constructor(private readonly service: CheckpointService) {}

  @Query(() => [NodeCheckpoint], { description: "The node's checkpoints: those on its disk now (asked of its plugin), newest first, then those backed up to destinations." })
  async checkpoints(@Args('nodeId', { type: () => ID }) nodeId: string, @SeesPaths() seesPaths: boolean): Promise<NodeCheckpoint[]> {
    return (await this.service.list(nodeId)).map((c) => ({ ...c, path: seesPaths ? c.path : null }));
  }

  @Mutation(() => Job, { description: "Runs the node's checkpoint policy now: a checkpoint is made (through the node's operator command, when it has one) and shipped." })
  async createCheckpoint(@Args('nodeId', { type: () => ID }) nodeId: string, @Actor() actor: string): Promise<Job> {
    return toJob(await this.service.create(nodeId, actor));
  }
}
