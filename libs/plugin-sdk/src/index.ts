/**
 * @packageDocumentation
 * `@chainvault/plugin-sdk`: the contract between chainvault and its protocol plugins
 * (plugin API version 1). It depends on nothing of chainvault's.
 */
export { PLUGIN_API_VERSION } from './api-version';
export * from './artifacts';
export * from './command';
export * from './context';
export * from './errors';
export * from './json-schema';
export * from './manifest';
export * from './plugin';
