/**
 * @packageDocumentation
 * `@chainvault/api`: the GraphQL API, GraphiQL and the health endpoint, behind the API gate.
 */
export { ApiModule, queryLimits } from './api.module';
export { formatGraphqlError } from './errors';
export { ApiGate } from './security/api-gate';
export { gateHttpRequests, gateWebSocketUpgrades } from './security/protect-app';
