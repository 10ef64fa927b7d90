/** API tokens and the audit log: ADMIN only. */
import { Args, ID, Int, Mutation, Query, Resolver } from '@nestjs/graphql';
import { ApiRole, ApiTokenService, AuditService } from '@chainvault/core';
import { AuditEventFilter, CreateTokenInput } from '../types/inputs';
import { toApiToken, toAuditEvent } from '../types/mappers';
import { ApiToken, AuditEventConnection, CreatedToken } from '../types/objects';
import { RequiresRole } from '../security/roles';
import { Actor } from './actor';

@Resolver()
export class AccessResolver {
  constructor(
    private readonly tokenService: ApiTokenService,
    private readonly audit: AuditService,
  ) {}

  @Query(() => [ApiToken], { description: 'Every token, revoked ones included (never their secrets).' })
  @RequiresRole(ApiRole.ADMIN)
  async tokens(): Promise<ApiToken[]> {
    return (await this.tokenService.list()).map(toApiToken);
  }

  @Mutation(() => CreatedToken, { description: 'Makes a token with a role; its secret is in the answer and nowhere else.' })
  @RequiresRole(ApiRole.ADMIN)
  async createToken(@Args('input') input: CreateTokenInput, @Actor() actor: string): Promise<CreatedToken> {
    const { token, secret } = await this.tokenService.create({ name: input.name, role: input.role, expiresAt: input.expiresAt ?? null }, actor);
    return { token: toApiToken(token), secret };
  }

  @Mutation(() => ApiToken, { description: 'Revokes a token (by id or name): refused from now on, on HTTP and on open WebSockets.' })
  @RequiresRole(ApiRole.ADMIN)
  async revokeToken(@Args('id', { type: () => ID, description: 'The token id or name.' }) id: string, @Actor() actor: string): Promise<ApiToken> {
    return toApiToken(await this.tokenService.revoke(id, actor));
  }

  @Query(() => AuditEventConnection, { description: 'Newest first: every mutation, refused request and job end, with the token name, address and outcome.' })
  @RequiresRole(ApiRole.ADMIN)
  async auditEvents(
    @Args('filter', { type: () => AuditEventFilter, nullable: true }) filter?: AuditEventFilter,
    @Args('first', { type: () => Int, nullable: true }) first?: number,
    @Args('after', { type: () => String, nullable: true }) after?: string,
  ): Promise<AuditEventConnection> {
    const page = await this.audit.page(filter ?? {}, first ?? 50, after);
    return { nodes: page.items.map(toAuditEvent), pageInfo: { endCursor: page.endCursor, hasNextPage: page.hasNextPage } };
  }
}
