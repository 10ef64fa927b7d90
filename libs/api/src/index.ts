/**
 * @packageDocumentation
 * `@chainvault/api`: the GraphQL API, GraphiQL and the health endpoint.
 */
export { ApiModule, MAX_QUERY_DEPTH } from './api.module';
export { formatGraphqlError } from './errors';
