/**
 * Every mutation leaves an audit event: which token, from where, and how it ended. Arguments
 * are not recorded (they may hold secrets); the services record what they changed.
 */
import { Injectable, Logger, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { GqlExecutionContext, type GqlContextType } from '@nestjs/graphql';
import { AuditService, ChainvaultError } from '@chainvault/core';
import type { GraphQLResolveInfo } from 'graphql';
import { tap, type Observable } from 'rxjs';
import { remoteAddress, type ApiContext } from './api-context';

@Injectable()
export class ApiAuditInterceptor implements NestInterceptor {
  private readonly logger = new Logger('audit');

  constructor(private readonly audit: AuditService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType<GqlContextType>() !== 'graphql') return next.handle();
    const gql = GqlExecutionContext.create(context);
    const info = gql.getInfo<GraphQLResolveInfo>();
    if (info.parentType.name !== 'Mutation') return next.handle();
    const api = gql.getContext<ApiContext>();
    const record = (outcome: 'ok' | 'failed', details: Record<string, unknown>) =>
      this.audit
        .record({
          actor: api.principal?.name ?? 'anonymous',
          action: `api.${info.fieldName}`.slice(0, 64),
          subjectType: 'api',
          remoteAddress: remoteAddress(api),
          outcome,
          details: { transport: api.transport, role: api.principal?.role ?? null, ...details },
        })
        .catch((error: Error) => this.logger.error(`could not audit ${info.fieldName}: ${error.message}`));
    return next.handle().pipe(
      tap({
        next: () => void record('ok', {}),
        error: (error: unknown) => void record('failed', { code: error instanceof ChainvaultError ? error.code : 'INTERNAL' }),
      }),
    );
  }
}
