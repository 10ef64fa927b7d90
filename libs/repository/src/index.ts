/**
 * @packageDocumentation
 * `@chainvault/repository`: the content-addressed backup repository and its storage backends.
 */
export type { ByteRange, RepositoryBackend } from './backend';
export { BackupReader, type ReadProgress } from './backup-reader';
export { BackupWriter, type WriteProgress } from './backup-writer';
export { LocalBackend } from './local-backend';
export * from './manifest';
export * from './repository';
export { RepositoryError, type RepositoryErrorCode } from './repository.errors';
