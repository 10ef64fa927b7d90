/** Restore templates: stored, listed, reused by restoreBackup(templateId) and removed. */
import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { RestoreTemplateService } from '@chainvault/core';
import { CreateRestoreTemplateInput } from '../types/inputs';
import { RestoreTemplate } from '../types/objects';
import { Actor } from './actor';

@Resolver(() => RestoreTemplate)
export class RestoreTemplateResolver {
  constructor(private readonly service: RestoreTemplateService) {}

  @Query(() => [RestoreTemplate], { description: 'Every stored restore template, by name.' })
  restoreTemplates(): Promise<RestoreTemplate[]> {
    return this.service.list();
  }

  @Query(() => RestoreTemplate, { description: 'A restore template by id or name.' })
  restoreTemplate(@Args('id', { type: () => String }) id: string): Promise<RestoreTemplate> {
    return this.service.get(id);
  }

  @Mutation(() => RestoreTemplate, { description: 'Stores a restore template: its target nodes (one plugin) and restore options, checked now.' })
  createRestoreTemplate(@Args('input') input: CreateRestoreTemplateInput, @Actor() actor: string): Promise<RestoreTemplate> {
    return this.service.create(input, actor);
  }

  @Mutation(() => RestoreTemplate, { description: 'Removes a restore template (restores made with it stay).' })
  deleteRestoreTemplate(@Args('id', { type: () => String }) id: string): Promise<RestoreTemplate> {
    return this.service.delete(id);
  }
}
