/** Who is calling, for the audit log: the name of the caller's token. */
import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { GqlExecutionContext } from '@nestjs/graphql';
import { ApiRole } from '@chainvault/core';
import type { ApiContext } from '../security/api-context';

export const Actor = createParamDecorator((_data: unknown, context: ExecutionContext): string => {
  return GqlExecutionContext.create(context).getContext<ApiContext>().principal?.name ?? 'anonymous';
});

/** Whether the caller may see job logs and the paths in configs: not a VIEWER when the admin hides paths from viewers. */
export const SeesPaths = createParamDecorator((_data: unknown, context: ExecutionContext): boolean => {
  const api = GqlExecutionContext.create(context).getContext<ApiContext & { hidePathsFromViewers?: boolean }>();
  return !(api.hidePathsFromViewers && api.principal?.role === ApiRole.VIEWER);
});
