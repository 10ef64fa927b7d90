/** The GraphQL API at /graphql, GraphiQL at /graphiql, /health and /metrics, on top of the core services. */
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import { CoreModule } from '@chainvault/core';
import { depthLimit } from './depth-limit';
import { DomainErrorFilter } from './domain-error.filter';
import { formatGraphqlError } from './errors';
import { GraphiqlController } from './http/graphiql.controller';
import { HealthController } from './http/health.controller';
import { MetricsController } from './http/metrics.controller';
import { BackupResolver } from './resolvers/backup.resolver';
import { CatalogResolver } from './resolvers/catalog.resolver';
import { PolicyResolver } from './resolvers/policy.resolver';
import { JsonScalar } from './types/json.scalar';

export const MAX_QUERY_DEPTH = 10;

@Module({
  imports: [
    CoreModule,
    GraphQLModule.forRoot<ApolloDriverConfig>({
      driver: ApolloDriver,
      path: '/graphql',
      autoSchemaFile: true,
      sortSchema: true,
      playground: false,
      graphiql: false,
      introspection: true,
      // jobProgress over WebSocket (the graphql-ws protocol), on the same path.
      subscriptions: { 'graphql-ws': { path: '/graphql' } },
      resolvers: { JSON: JsonScalar },
      validationRules: [depthLimit(MAX_QUERY_DEPTH)],
      formatError: formatGraphqlError,
      context: ({ req }: { req: unknown }) => ({ req }),
    }),
  ],
  controllers: [GraphiqlController, HealthController, MetricsController],
  providers: [CatalogResolver, BackupResolver, PolicyResolver, { provide: APP_FILTER, useClass: DomainErrorFilter }],
})
export class ApiModule {}
