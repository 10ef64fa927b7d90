/**
 * @packageDocumentation
 * `@chainvault/testing`: helpers shared by chainvault's tests (sample trees and exact tree comparison).
 */
export { compareTrees, writeSampleTree, type CompareTreesOptions, type SampleTree, type SampleTreeOptions } from './tree';
