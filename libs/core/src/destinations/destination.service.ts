/**
 * Destinations: repositories on storage backends. Creating one opens (or initialises) its
 * repository at once, so a bad location is refused when it is entered, not at 3 a.m.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { JsonSchema } from '@chainvault/plugin-sdk';
import {
  LocalBackend,
  Repository as BackupRepository,
  RepositoryError,
  S3Backend,
  SftpBackend,
  validateS3Config,
  validateSftpConfig,
  type RepositoryBackend,
  type S3BackendConfig,
  type SftpConfig,
} from '@chainvault/repository';
import Ajv, { type ValidateFunction } from 'ajv';
import { randomUUID } from 'node:crypto';
import { isAbsolute, join, resolve } from 'node:path';
import { Not, Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { BackupEntity, BackupReplicaEntity, BackupStatus, DestinationEntity, DestinationKind, PolicyEntity } from '../catalog/entities';
import { CHAINVAULT_CONFIG, type ChainvaultConfig } from '../config/chainvault-config';
import { insertOnceMade } from '../catalog/insert-once-made';
import { uniqueViolation } from '../catalog/unique-violation';
import { ChainvaultError } from '../errors/chainvault.errors';
import { OneAtATime } from '../one-at-a-time';
import { describeSchemaErrors } from '../plugins/plugin-loader';
import { SecretBox } from '../secrets/secret-box';
import { keepSecrets, mergeSecrets, secretFieldNames, splitSecrets } from '../secrets/secret-fields';
import { requireName, requireObject } from '../validation';
import { orWaitFor } from './destination-busy';

export interface CreateDestination {
  name: string;
  kind: DestinationKind;
  config: unknown;
}

export interface UpdateDestination {
  name?: string | null;
  /** The whole new config; secret fields it does not give again keep their values. */
  config?: unknown;
}

/** The destination created on first start, so the embedded defaults back up to `./data/repository`. */
export const DEFAULT_DESTINATION_NAME = 'local';

/** Settings of the repository itself, the same for every kind of destination. */
const repositoryProperties: Record<string, JsonSchema> = {
  passphrase: { type: 'string', minLength: 8, writeOnly: true, description: 'Encrypts the repository (AES-256-GCM); set when it is created.' },
  compression: { enum: ['brotli', 'none'], description: 'Set when the repository is created. Default: brotli.' },
};

/** Destination configs by kind. Secret fields are `writeOnly`: sealed at rest, never returned. */
export const DESTINATION_SCHEMAS: Record<DestinationKind, JsonSchema> = {
  [DestinationKind.LOCAL]: {
    type: 'object',
    required: ['path'],
    additionalProperties: false,
    properties: { path: { type: 'string', minLength: 1, description: 'Repository directory; relative paths are taken from the data directory.' }, ...repositoryProperties },
  },
  // The fields of S3BackendConfig; validateS3Config checks the rest (bucket name, endpoint URL, both credentials or neither).
  [DestinationKind.S3]: {
    type: 'object',
    required: ['bucket'],
    additionalProperties: false,
    properties: {
      bucket: { type: 'string', minLength: 1, description: 'The bucket; it must already exist.' },
      prefix: { type: 'string', description: 'Folder inside the bucket that holds the repository. Default: the bucket root.' },
      region: { type: 'string', minLength: 1, description: "The bucket's region. Default: the SDK's, or us-east-1 with an endpoint." },
      endpoint: { type: 'string', minLength: 1, description: 'http(s) URL of an S3-compatible service (MinIO, Ceph, Garage…). Default: AWS.' },
      forcePathStyle: { type: 'boolean', description: 'Address the bucket as endpoint/bucket. Default: true with an endpoint.' },
      accessKeyId: { type: 'string', minLength: 1, description: 'With secretAccessKey: static credentials. Without both, the SDK default chain applies.' },
      secretAccessKey: { type: 'string', minLength: 1, writeOnly: true, description: 'The secret half of the static credentials.' },
      ...repositoryProperties,
    },
  },
  // The fields of SftpConfig, except that the key's passphrase is `privateKeyPassphrase`, apart from the repository's `passphrase`.
  [DestinationKind.SFTP]: {
    type: 'object',
    required: ['host', 'username', 'path', 'privateKey'],
    additionalProperties: false,
    properties: {
      host: { type: 'string', minLength: 1, description: 'Host name or address of the SSH server.' },
      port: { type: 'integer', minimum: 1, maximum: 65535, description: 'Default: 22.' },
      username: { type: 'string', minLength: 1 },
      path: { type: 'string', minLength: 1, description: 'Repository directory on the server: absolute, or relative to the login directory.' },
      privateKey: { type: 'string', minLength: 1, writeOnly: true, description: 'The client key as text (OpenSSH or PEM format).' },
      privateKeyPassphrase: { type: 'string', minLength: 1, writeOnly: true, description: 'Decrypts privateKey when it is encrypted.' },
      hostKeySha256: { type: 'string', minLength: 1, description: "Pins the server's host key: its SHA256 fingerprint as ssh-keygen -lf prints it." },
      ...repositoryProperties,
    },
  },
};

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = new Map<DestinationKind, ValidateFunction>(Object.entries(DESTINATION_SCHEMAS).map(([kind, schema]) => [kind as DestinationKind, ajv.compile(schema as object)]));

@Injectable()
export class DestinationService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly opened = new Map<string, Promise<BackupRepository>>();
  /** Creates of one name, one after the other: the later ones see the name taken before they touch storage. */
  private readonly creating = new OneAtATime<DestinationEntity>();

  constructor(
    @InjectRepository(DestinationEntity) private readonly destinations: Repository<DestinationEntity>,
    @InjectRepository(BackupEntity) private readonly backups: Repository<BackupEntity>,
    @InjectRepository(BackupReplicaEntity) private readonly replicas: Repository<BackupReplicaEntity>,
    @InjectRepository(PolicyEntity) private readonly policies: Repository<PolicyEntity>,
    @Inject(CHAINVAULT_CONFIG) private readonly config: ChainvaultConfig,
    private readonly audit: AuditService,
    private readonly secretBox: SecretBox,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if ((await this.destinations.count()) === 0) {
      try {
        await this.create({ name: DEFAULT_DESTINATION_NAME, kind: DestinationKind.LOCAL, config: { path: join(this.config.dataDir, 'repository') } }, 'system');
      } catch (error) {
        // Instances starting together on one PostgreSQL catalog: the first to get there creates it.
        const taken = uniqueViolation(error) !== null || (error instanceof ChainvaultError && (await this.destinations.existsBy({ name: DEFAULT_DESTINATION_NAME })));
        if (!taken) throw error;
      }
    }
  }

  /** Closes the opened repositories' backends (SSH connections, HTTP sockets), so the process can end. */
  async onApplicationShutdown(): Promise<void> {
    const opened = [...this.opened.values()];
    this.opened.clear();
    await Promise.all(opened.map((repository) => repository.then((r) => r.backend.close?.(), () => undefined).catch(() => undefined)));
  }

  list(): Promise<DestinationEntity[]> {
    return this.destinations.find({ order: { name: 'ASC' } });
  }

  async get(id: string): Promise<DestinationEntity> {
    const destination = await this.destinations.findOneBy({ id });
    if (!destination) throw ChainvaultError.notFound('destination', id);
    return destination;
  }

  async create(input: CreateDestination, actor: string): Promise<DestinationEntity> {
    const name = requireName(input.name, 'name');
    const raw = structuredClone(requireObject(input.config, 'config'));
    const validate = validators.get(input.kind);
    if (!validate) throw ChainvaultError.badInput(`unknown destination kind "${String(input.kind)}"; use LOCAL, S3 or SFTP`);
    if (!validate(raw)) throw ChainvaultError.badInput(`config does not fit ${input.kind === DestinationKind.LOCAL ? 'a' : 'an'} ${input.kind} destination: ${describeSchemaErrors(validate.errors, 'config')}`);
    // Only a LOCAL path is on this machine; an SFTP path is the server's, relative to the login directory.
    if (input.kind === DestinationKind.LOCAL) raw.path = isAbsolute(raw.path as string) ? resolve(raw.path as string) : resolve(this.config.dataDir, raw.path as string);
    if (input.kind === DestinationKind.S3) {
      // Stored as the backend reads it, so the config shown is the one used.
      const { prefix } = checkBackendConfig(validateS3Config, s3ConfigOf(raw));
      if (prefix !== undefined) raw.prefix = prefix;
    }
    if (input.kind === DestinationKind.SFTP) checkBackendConfig(validateSftpConfig, sftpConfigOf(raw));
    const { publicConfig, secrets } = splitSecrets(DESTINATION_SCHEMAS[input.kind], raw);
    return this.creating.run(name, async () => {
      const taken = () => ChainvaultError.conflict(`a destination named "${name}" already exists`);
      if (await this.destinations.existsBy({ name })) throw taken();
      const destination = this.destinations.create({
        id: randomUUID(),
        name,
        kind: input.kind,
        config: publicConfig,
        secrets: secrets ? this.secretBox.seal(secrets) : null,
        createdAt: new Date(),
      });
      // The repository is made before the row can be seen. On PostgreSQL the row claims the name
      // first, so another instance's create of it fails before touching storage. So no loser has
      // anything to clean up, and nothing is deleted: a location that held a repository keeps it.
      try {
        await insertOnceMade(this.destinations, destination, async () => {
          await this.openRepository(destination);
        });
      } catch (error) {
        // A destination that was not recorded must not keep a connection open.
        await this.forget(destination.id);
        if (uniqueViolation(error)) throw taken();
        throw error;
      }
      await this.audit.record({ actor, action: 'destination.create', subjectType: 'destination', subjectId: destination.id, details: { name, kind: input.kind } });
      return destination;
    });
  }

  /**
   * Renames a destination or changes its config (rotated credentials, a moved endpoint). A new
   * config is saved only once it opens the same repository, with its passphrase: the backups
   * in it must stay readable. Secret fields not given again keep their values.
   */
  async update(id: string, input: UpdateDestination, actor: string): Promise<DestinationEntity> {
    const destination = await this.get(id);
    const changes: Partial<DestinationEntity> = {};
    if (input.name !== undefined && input.name !== null) changes.name = requireName(input.name, 'name');
    let secretFieldsGiven: string[] = [];
    if (input.config !== undefined && input.config !== null) {
      const schema = DESTINATION_SCHEMAS[destination.kind];
      const given = splitSecrets(schema, structuredClone(requireObject(input.config, 'config')));
      const earlier = destination.secrets ? this.secretBox.open<Record<string, unknown>>(destination.secrets) : null;
      const kept = keepSecrets(earlier, destination.config, given.publicConfig, given.secrets);
      const config = this.checkConfig(destination.kind, mergeSecrets(given.publicConfig, kept));
      await this.checkSameRepository(destination, config);
      const split = splitSecrets(schema, config);
      changes.config = split.publicConfig;
      changes.secrets = split.secrets ? this.secretBox.seal(split.secrets) : null;
      secretFieldsGiven = secretFieldNames(given.secrets);
    }
    if (Object.keys(changes).length === 0) throw ChainvaultError.badInput('give name or config to change');
    const taken = () => ChainvaultError.conflict(`a destination named "${changes.name}" already exists`);
    if (changes.name && changes.name !== destination.name && (await this.destinations.existsBy({ name: changes.name }))) throw taken();
    try {
      await this.destinations.update({ id }, changes);
    } catch (error) {
      if (uniqueViolation(error)) throw taken();
      throw error;
    }
    // The next use opens it with the new config.
    if (changes.config) await this.forget(id);
    await this.audit.record({
      actor,
      action: 'destination.update',
      subjectType: 'destination',
      subjectId: id,
      details: { changed: Object.keys(changes).filter((k) => k !== 'secrets'), ...(changes.name ? { name: changes.name, previousName: destination.name } : {}), secretFieldsGiven },
    });
    return this.get(id);
  }

  /**
   * Deletes a destination from the catalog; its repository's files stay where they are.
   * Refused while a policy writes to it or it holds a backup or a copy of one (delete those first).
   */
  async delete(id: string, actor: string): Promise<DestinationEntity> {
    const destination = await this.get(id);
    const writers = (await this.policies.find({ order: { name: 'ASC' } })).filter((p) => p.destinationIds.includes(id));
    if (writers.length) throw ChainvaultError.conflict(`destination "${destination.name}" is written to by policy(ies) ${writers.map((p) => `"${p.name}"`).join(', ')}; change their destinations or delete them first`);
    const held = await this.backups.count({ where: { destinationId: id, status: Not(BackupStatus.DELETED) } });
    const copies = (await this.replicas.find({ where: { destinationId: id }, relations: { backup: true } })).filter((r) => r.backup?.status !== BackupStatus.DELETED).length;
    if (held + copies > 0) {
      throw ChainvaultError.conflict(`destination "${destination.name}" holds ${held} backup(s) and ${copies} copied backup(s); delete them (or the policies with their backups) first, so no backup is left unreadable`);
    }
    await this.destinations.delete({ id });
    await this.forget(id);
    await this.audit.record({ actor, action: 'destination.delete', subjectType: 'destination', subjectId: id, details: { name: destination.name, kind: destination.kind } });
    return destination;
  }

  /** A new config must open the repository the destination already has (same id), without creating one. */
  private async checkSameRepository(destination: DestinationEntity, config: Record<string, unknown>): Promise<void> {
    const current = await this.openRepository(destination).catch(() => null);
    const backend = this.backendFor(destination.kind, config);
    try {
      const holdsBackups = (await this.backups.count({ where: { destinationId: destination.id, status: Not(BackupStatus.DELETED) } })) > 0;
      const options = { passphrase: config.passphrase as string | undefined, compression: config.compression as 'brotli' | 'none' | undefined };
      const opened = holdsBackups || current ? await BackupRepository.open(backend, options) : await BackupRepository.openOrInit(backend, options);
      if (current && opened.config.id !== current.config.id) {
        throw new RepositoryError('NOT_A_REPOSITORY', `${backend.location} holds another repository (${opened.config.id}, not ${current.config.id})`);
      }
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw ChainvaultError.badInput(`destination "${destination.name}": the new config was not saved: ${reason}`);
    } finally {
      await backend.close?.().catch(() => undefined);
    }
  }

  /** A destination config checked by its kind's schema and backend, with a LOCAL path made absolute. */
  private checkConfig(kind: DestinationKind, raw: Record<string, unknown>): Record<string, unknown> {
    const validate = validators.get(kind);
    if (!validate) throw ChainvaultError.badInput(`unknown destination kind "${String(kind)}"; use LOCAL, S3 or SFTP`);
    if (!validate(raw)) throw ChainvaultError.badInput(`config does not fit ${kind === DestinationKind.LOCAL ? 'a' : 'an'} ${kind} destination: ${describeSchemaErrors(validate.errors, 'config')}`);
    if (kind === DestinationKind.LOCAL) raw.path = isAbsolute(raw.path as string) ? resolve(raw.path as string) : resolve(this.config.dataDir, raw.path as string);
    if (kind === DestinationKind.S3) {
      const { prefix } = checkBackendConfig(validateS3Config, s3ConfigOf(raw));
      if (prefix !== undefined) raw.prefix = prefix;
    }
    if (kind === DestinationKind.SFTP) checkBackendConfig(validateSftpConfig, sftpConfigOf(raw));
    return raw;
  }

  /**
   * Opens a destination's repository for reading (restore, verify, export, check, a copy's
   * source) under its shared lock, with the index read again: a prune, here or elsewhere, cannot
   * move or remove chunks while the reader needs them. Call `release` when done. While a prune
   * holds the repository this fails with DestinationBusy, and the job waits in the queue.
   */
  async openForReading(destination: DestinationEntity, purpose: string): Promise<{ repository: BackupRepository; release: () => Promise<void> }> {
    const repository = await this.openRepository(destination);
    const lock = await orWaitFor(destination, () => repository.lock('shared', purpose));
    try {
      await repository.refreshIndex();
    } catch (error) {
      await lock.release();
      throw error;
    }
    return { repository, release: () => lock.release() };
  }

  /** Names of the secret fields a destination has set, without their values. */
  secretFields(destination: DestinationEntity): string[] {
    return destination.secrets ? secretFieldNames(this.secretBox.open<Record<string, unknown>>(destination.secrets)) : [];
  }

  /** The repository of a destination, opened once per process. */
  openRepository(destination: DestinationEntity): Promise<BackupRepository> {
    let opened = this.opened.get(destination.id);
    if (!opened) {
      const config = mergeSecrets(destination.config, destination.secrets ? this.secretBox.open<Record<string, unknown>>(destination.secrets) : null);
      const options = { passphrase: config.passphrase as string | undefined, compression: config.compression as 'brotli' | 'none' | undefined };
      opened = (async () => {
        const backend = this.backendFor(destination.kind, config);
        try {
          return await BackupRepository.openOrInit(backend, options);
        } catch (error) {
          // Nothing else holds this backend: without this, a refused S3 or SFTP location would keep its connection open.
          await backend.close?.().catch(() => undefined);
          throw error;
        }
      })().catch((error: unknown) => {
        this.opened.delete(destination.id);
        if (error instanceof RepositoryError) {
          throw ChainvaultError.badInput(`destination "${destination.name}": ${error.message}`);
        }
        throw ChainvaultError.badInput(`destination "${destination.name}" cannot be opened: ${(error as Error).message}`);
      });
      this.opened.set(destination.id, opened);
    }
    return opened;
  }

  /** Drops an opened repository and closes its backend. */
  private async forget(id: string): Promise<void> {
    const opened = this.opened.get(id);
    this.opened.delete(id);
    await opened?.then((repository) => repository.backend.close?.()).catch(() => undefined);
  }

  private backendFor(kind: DestinationKind, config: Record<string, unknown>): RepositoryBackend {
    switch (kind) {
      case DestinationKind.LOCAL:
        return new LocalBackend(String(config.path));
      case DestinationKind.S3:
        return new S3Backend(s3ConfigOf(config));
      case DestinationKind.SFTP:
        return new SftpBackend(sftpConfigOf(config));
      default:
        throw new Error(`unknown destination kind "${String(kind)}"`);
    }
  }
}

/** The backend part of an S3 destination's config: everything but the repository settings. */
function s3ConfigOf(config: Record<string, unknown>): S3BackendConfig {
  const { passphrase: _passphrase, compression: _compression, ...backend } = config;
  return backend as unknown as S3BackendConfig;
}

/** The backend part of an SFTP destination's config, with the key's passphrase under the name SftpBackend reads. */
function sftpConfigOf(config: Record<string, unknown>): SftpConfig {
  const { passphrase: _passphrase, compression: _compression, privateKeyPassphrase, ...backend } = config;
  return { ...backend, ...(privateKeyPassphrase === undefined ? {} : { passphrase: privateKeyPassphrase }) } as unknown as SftpConfig;
}

/**
 * Runs a backend's own config check and answers its Error as bad input. SftpBackend calls the
 * key's passphrase `passphrase`; here that would read as the repository's, so its message says
 * `privateKeyPassphrase`, the destination's name for it.
 */
function checkBackendConfig<T>(validate: (raw: unknown) => T, config: T): T {
  try {
    return validate(config);
  } catch (error) {
    const message = (error as Error).message.replace(/^SFTP backend config: passphrase\b/, 'SFTP backend config: privateKeyPassphrase');
    throw ChainvaultError.badInput(message);
  }
}
