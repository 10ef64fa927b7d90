/**
 * @packageDocumentation
 * `@chainvault/plugin-sdk`: the contract between chainvault and its protocol plugins
 * (plugin API version 2). It depends on nothing of chainvault's.
 */
export { PLUGIN_API_VERSION, SUPPORTED_PLUGIN_API_RANGE } from './api-version';
export * from './machines';
export { createMachineProvider, type HostMachineProvider, type MachineProviderOptions } from './machine-provider';
export * from './artifacts';
export * from './command';
export * from './context';
export * from './errors';
export * from './json-schema';
export * from './manifest';
export * from './plugin';
