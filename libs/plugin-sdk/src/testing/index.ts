/**
 * @packageDocumentation
 * `@chainvault/plugin-sdk/testing`: the conformance kit for plugin authors.
 */
export { runConformance, type ConformanceCase, type ConformanceReport } from './conformance';
export { DirectoryArtifacts } from './directory-artifacts';
