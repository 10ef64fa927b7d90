/** Restore templates: stored, listed, reused by restoreBackup(templateId) and removed. */
import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { RestoreTemplateService, type RestoreTemplateEntity } from '@chainvault/core';
import { CreateRestoreTemplateInput } from '../types/inputs';
import { RestoreTemplate } from '../types/objects';
import { Actor, SeesPaths } from './actor';

/** A template's options name folders (its path map): a viewer that may not see paths sees none. */
const shown = (t: RestoreTemplateEntity, seesPaths: boolean): RestoreTemplate => ({ ...t, options: seesPaths ? t.options : {} });

@Resolver(() => RestoreTemplate)
export class RestoreTemplateResolver {
  constructor(private readonly service: RestoreTemplateService) {}

  @Query(() => [RestoreTemplate], { description: 'Every stored restore template, by name.' })
  async restoreTemplates(@SeesPaths() seesPaths: boolean): Promise<RestoreTemplate[]> {
    return (await this.service.list()).map((t) => shown(t, seesPaths));
  }

  @Query(() => RestoreTemplate, { description: 'A restore template by id or name.' })
  async restoreTemplate(@Args('id', { type: () => String }) id: string, @SeesPaths() seesPaths: boolean): Promise<RestoreTemplate> {
    return shown(await this.service.get(id), seesPaths);
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
