/**
 * @packageDocumentation
 * `@chainvault/repository`: the content-addressed backup repository and its storage backends.
 */
export type { ByteRange, RepositoryBackend } from './backend';
export { BackupReader, type ReadProgress } from './backup-reader';
export { BackupWriter, type WriteProgress } from './backup-writer';
export type { BlobLocation } from './blob-store';
export type { UnreferencedData } from './check';
export { LocalBackend } from './local-backend';
export { SftpBackend, validateSftpConfig, type SftpConfig } from './sftp-backend';
export * from './manifest';
export type { CompressionName } from './compression';
export { DEFAULT_CHUNK_SIZES, type ChunkSizes } from './content-chunker';
export * from './repository';
export type { PruneOptions, PruneResult } from './prune';
export { copyBackup, type CopyOptions, type CopyResult } from './replicate';
export { RepositoryLock, type LockRecord, type LockTiming } from './repository-lock';
export { S3Backend, validateS3Config, type S3BackendConfig } from './s3-backend';
export { RepositoryError, formatBytes, type RepositoryErrorCode, type SpaceShortage } from './repository.errors';
