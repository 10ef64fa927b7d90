/**
 * @packageDocumentation
 * `@chainvault/testing`: helpers shared by chainvault's tests (sample trees and exact tree comparison, a real S3 server, a real SSH/SFTP server, a real Ethereum dev node).
 */
export { compareTrees, writeSampleTree, type CompareTreesOptions, type SampleTree, type SampleTreeOptions } from './tree';
export { startS3rver, type RunningS3rver } from './s3rver';
export { startSshd, type RunningSshd, type SshdOptions } from './sshd';
export { startHardhatNode, HARDHAT_ACCOUNT, type HardhatNodeOptions, type RunningHardhatNode } from './hardhat';
export { startCouchDb, type RunningCouchDb } from './couchdb';
export { unzip } from './zip';
export { freePort } from './processes';
