/** Who is calling, for the audit log. Until API tokens exist, callers are known by address. */
import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { GqlExecutionContext } from '@nestjs/graphql';

export const Actor = createParamDecorator((_data: unknown, context: ExecutionContext): string => {
  const request = GqlExecutionContext.create(context).getContext<{ req?: { ip?: string } }>().req;
  return `api@${request?.ip ?? 'unknown'}`;
});
