/** The GraphQL API at /graphql, GraphiQL at /graphiql, /health and /metrics, on top of the core services, behind the API gate. */
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, ModuleRef } from '@nestjs/core';
import { GraphQLModule, GraphQLSchemaHost, type GraphQLWsSubscriptionsConfig } from '@nestjs/graphql';
import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { CHAINVAULT_CONFIG, CoreModule, QUERY_LIMIT_DEFAULTS, type ChainvaultConfig } from '@chainvault/core';
import { GraphQLError, parse, validate, type DocumentNode, type ExecutionResult } from 'graphql';
import type { IncomingMessage } from 'node:http';
import { DomainErrorFilter } from './domain-error.filter';
import { formatGraphqlError } from './errors';
import { ConsoleController } from './http/console.controller';
import { GraphiqlController } from './http/graphiql.controller';
import { HealthController } from './http/health.controller';
import { MetricsController } from './http/metrics.controller';
import { MetricsListener } from './http/metrics-listener';
import { queryCostLimit, queryLimitRules, validateOperation, type QueryLimits } from './query-limits';
import { AccessResolver } from './resolvers/access.resolver';
import { BackupResolver } from './resolvers/backup.resolver';
import { CatalogResolver } from './resolvers/catalog.resolver';
import { CheckpointResolver } from './resolvers/checkpoint.resolver';
import { DestinationUsageResolver } from './resolvers/destination-usage.resolver';
import { JobResolver } from './resolvers/job.resolver';
import { PolicyResolver } from './resolvers/policy.resolver';
import { RestoreTemplateResolver } from './resolvers/restore-template.resolver';
import { ApiAuditInterceptor } from './security/api-audit.interceptor';
import type { ApiContext } from './security/api-context';
import { ApiGate, bearerToken } from './security/api-gate';
import { RoleGuard } from './security/roles';
import { WebSocketSessions, type ClosableSocket } from './security/websocket-sessions';
import { SecurityModule } from './security/security.module';
import { JsonScalar } from './types/json.scalar';

/** What graphql-ws keeps for each connection: the upgrade request, the socket and, once accepted, the caller. */
interface SocketExtra {
  request: IncomingMessage;
  socket: ClosableSocket;
  principal?: ApiContext['principal'];
}

export function queryLimits(config: ChainvaultConfig): QueryLimits & { maxTokens: number } {
  return {
    maxDepth: config.maxQueryDepth ?? QUERY_LIMIT_DEFAULTS.maxQueryDepth,
    maxCost: config.maxQueryCost ?? QUERY_LIMIT_DEFAULTS.maxQueryCost,
    maxTokens: config.maxQueryTokens ?? QUERY_LIMIT_DEFAULTS.maxQueryTokens,
  };
}

/**
 * Validation rules cannot see the variables, so `backups(first: $n)` is costed at the default
 * page size there; once Apollo knows the operation and its variables, the cost is checked again.
 */
function costWithVariables(maxCost: number): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, request }) {
          const [error] = validate(schema, document, [queryCostLimit(maxCost, request.variables ?? {})]);
          if (error) throw new GraphQLError(error.message, { extensions: { ...error.extensions, code: 'BAD_USER_INPUT', http: { status: 400 } } });
        },
      };
    },
  };
}

/** The token of a graphql-ws connection: `authorization: "Bearer …"` or `token` in its init payload, or the upgrade's header. */
function connectionToken(params: Record<string, unknown> | undefined, request: IncomingMessage): string | null {
  const fromParams = bearerToken(params?.authorization ?? params?.Authorization) ?? (typeof params?.token === 'string' ? params.token : null);
  return fromParams ?? bearerToken(request.headers.authorization);
}

/** The part of a graphql-ws connection context these hooks read. */
interface SocketContext {
  connectionParams?: Readonly<Record<string, unknown>>;
  extra: unknown;
}

/**
 * graphql-ws options: the token checked when the connection starts and again before each
 * operation, the same validation rules as on HTTP, errors formatted as on HTTP. Nest passes
 * them to graphql-ws as they are, though its type names only some of them.
 */
function graphqlWsOptions(config: ChainvaultConfig, gate: ApiGate, sessions: WebSocketSessions, schemaHost: () => GraphQLSchemaHost) {
  const limits = queryLimits(config);
  return {
    path: '/graphql',
    onConnect: async (ctx: SocketContext) => {
      const extra = ctx.extra as SocketExtra;
      const result = await gate.authenticate(connectionToken(ctx.connectionParams, extra.request), extra.request.socket.remoteAddress ?? 'unknown', 'websocket', '/graphql');
      if ('refusal' in result) return false;
      extra.principal = result.principal;
      sessions.add(extra.socket, result.principal);
      return true;
    },
    // Parsed and validated here, with the same limits as on HTTP (and the variables' page sizes):
    // graphql-ws would otherwise parse without a token limit and run only graphql's own rules.
    onSubscribe: async (ctx: SocketContext, _id: string, payload: { query: string; variables?: Record<string, unknown> | null; operationName?: string | null }) => {
      const extra = ctx.extra as SocketExtra;
      if (!extra.principal || !(await gate.stillValid(extra.principal))) {
        if (extra.principal) sessions.closeFor(extra.principal.tokenId, 'the token is no longer valid');
        return [new GraphQLError('the token of this connection is no longer valid', { extensions: { code: 'UNAUTHENTICATED' } })];
      }
      let document: DocumentNode;
      try {
        document = parse(payload.query, { maxTokens: limits.maxTokens });
      } catch (error) {
        const formatted = formatGraphqlError({ message: (error as Error).message, extensions: { code: 'GRAPHQL_PARSE_FAILED' } }, error);
        return [new GraphQLError(formatted.message, { extensions: formatted.extensions })];
      }
      const schema = schemaHost().schema;
      const errors = validateOperation(schema, document, limits, payload.variables ?? undefined);
      if (errors.length > 0) return errors;
      return { schema, document, variableValues: payload.variables, operationName: payload.operationName };
    },
    onNext: (_ctx: SocketContext, _id: string, _payload: unknown, _args: unknown, result: ExecutionResult) =>
      result.errors ? { ...result, errors: result.errors.map((error) => formatGraphqlError(error.toJSON(), error)) } : undefined,
    context: (ctx: SocketContext): ApiContext => {
      const extra = ctx.extra as SocketExtra;
      return { req: extra.request, principal: extra.principal, transport: 'websocket', hidePathsFromViewers: config.viewerHidesPaths };
    },
  };
}

@Module({
  imports: [
    CoreModule,
    SecurityModule,
    GraphQLModule.forRootAsync<ApolloDriverConfig>({
      driver: ApolloDriver,
      imports: [SecurityModule],
      inject: [CHAINVAULT_CONFIG, ApiGate, WebSocketSessions, ModuleRef],
      useFactory: (config: ChainvaultConfig, gate: ApiGate, sessions: WebSocketSessions, moduleRef: ModuleRef): ApolloDriverConfig => {
        const limits = queryLimits(config);
        return {
          path: '/graphql',
          autoSchemaFile: true,
          sortSchema: true,
          playground: false,
          graphiql: false,
          introspection: true,
          resolvers: { JSON: JsonScalar },
          validationRules: queryLimitRules(limits),
          // Parsing stops past this many tokens, before graphql-js's own rules (some quadratic) see the document.
          parseOptions: { maxTokens: limits.maxTokens },
          // Cache-control hints serve HTTP caches of GraphQL answers, which nothing here uses; off, no field is wrapped to compute them.
          plugins: [costWithVariables(limits.maxCost), ApolloServerPluginCacheControlDisabled()],
          formatError: formatGraphqlError,
          context: ({ req }: { req: IncomingMessage & { principal?: ApiContext['principal'] } }): ApiContext => ({ req, principal: req.principal, transport: 'http', hidePathsFromViewers: config.viewerHidesPaths }),
          // jobProgress (and any operation) over WebSocket with the graphql-ws protocol, on the same path.
          subscriptions: { 'graphql-ws': graphqlWsOptions(config, gate, sessions, () => moduleRef.get(GraphQLSchemaHost, { strict: false })) as GraphQLWsSubscriptionsConfig },
        };
      },
    }),
  ],
  controllers: [ConsoleController, GraphiqlController, HealthController, MetricsController],
  providers: [
    AccessResolver,
    CatalogResolver,
    BackupResolver,
    CheckpointResolver,
    DestinationUsageResolver,
    JobResolver,
    RestoreTemplateResolver,
    PolicyResolver,
    MetricsListener,
    { provide: APP_FILTER, useClass: DomainErrorFilter },
    { provide: APP_GUARD, useClass: RoleGuard },
    { provide: APP_INTERCEPTOR, useClass: ApiAuditInterceptor },
  ],
})
export class ApiModule {}
