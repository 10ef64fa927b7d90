/**
 * Roles on GraphQL operations. Queries and subscriptions need VIEWER, mutations OPERATOR,
 * unless the resolver asks for more with `@RequiresRole`: a mutation nobody marked is
 * never open to a read-only token.
 */
import { Injectable, Logger, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GqlExecutionContext, type GqlContextType } from '@nestjs/graphql';
import { ApiRole, AuditService, ChainvaultError, ChainvaultErrorCode, roleIncludes } from '@chainvault/core';
import type { GraphQLResolveInfo } from 'graphql';
import { remoteAddress, type ApiContext } from './api-context';

const REQUIRED_ROLE = 'chainvault:required-role';

export const RequiresRole = (role: ApiRole) => SetMetadata(REQUIRED_ROLE, role);

@Injectable()
export class RoleGuard implements CanActivate {
  private readonly logger = new Logger('access');

  constructor(
    private readonly reflector: Reflector,
    private readonly audit: AuditService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    // HTTP routes are gated by the ApiGate middleware before they are reached.
    if (context.getType<GqlContextType>() !== 'graphql') return true;
    const gql = GqlExecutionContext.create(context);
    const info = gql.getInfo<GraphQLResolveInfo>();
    const api = gql.getContext<ApiContext>();
    const operation = info.parentType.name;
    const needed = this.reflector.get<ApiRole | undefined>(REQUIRED_ROLE, context.getHandler()) ?? (operation === 'Mutation' ? ApiRole.OPERATOR : ApiRole.VIEWER);
    const principal = api.principal;
    if (!principal) throw new ChainvaultError(ChainvaultErrorCode.FORBIDDEN, `${info.fieldName} needs a token`);
    if (roleIncludes(principal.role, needed)) return true;
    const message = `the token "${principal.name}" has role ${principal.role}; ${info.fieldName} needs ${needed}`;
    // One record per field and request, however many aliases ask for it.
    api.refusedFields ??= new Set();
    if (api.refusedFields.has(info.fieldName)) throw new ChainvaultError(ChainvaultErrorCode.FORBIDDEN, message, { role: principal.role, needed });
    api.refusedFields.add(info.fieldName);
    this.logger.warn(`refused ${info.fieldName} from ${remoteAddress(api)}: ${message}`);
    await this.audit.record({
      actor: principal.name,
      action: `api.${info.fieldName}`.slice(0, 64),
      subjectType: 'api',
      remoteAddress: remoteAddress(api),
      outcome: 'refused',
      details: { operation: operation.toLowerCase(), transport: api.transport, role: principal.role, needed },
    });
    throw new ChainvaultError(ChainvaultErrorCode.FORBIDDEN, message, { role: principal.role, needed });
  }
}
