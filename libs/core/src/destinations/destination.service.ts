/**
 * Destinations: repositories on storage backends. Creating one opens (or initialises) its
 * repository at once, so a bad location is refused when it is entered, not at 3 a.m.
 */
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { JsonSchema } from '@chainvault/plugin-sdk';
import { LocalBackend, Repository as BackupRepository, RepositoryError, type RepositoryBackend } from '@chainvault/repository';
import Ajv, { type ValidateFunction } from 'ajv';
import { randomUUID } from 'node:crypto';
import { isAbsolute, join, resolve } from 'node:path';
import { Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { DestinationEntity, DestinationKind } from '../catalog/entities';
import { CHAINVAULT_CONFIG, type ChainvaultConfig } from '../config/chainvault-config';
import { ChainvaultError } from '../errors/chainvault.errors';
import { describeSchemaErrors } from '../plugins/plugin-loader';
import { SecretBox } from '../secrets/secret-box';
import { mergeSecrets, secretFieldNames, splitSecrets } from '../secrets/secret-fields';
import { requireName, requireObject } from '../validation';

export interface CreateDestination {
  name: string;
  kind: DestinationKind;
  config: unknown;
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
  [DestinationKind.S3]: { type: 'object' },
  [DestinationKind.SFTP]: { type: 'object' },
};

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = new Map<DestinationKind, ValidateFunction>(Object.entries(DESTINATION_SCHEMAS).map(([kind, schema]) => [kind as DestinationKind, ajv.compile(schema as object)]));

@Injectable()
export class DestinationService implements OnApplicationBootstrap {
  private readonly opened = new Map<string, Promise<BackupRepository>>();

  constructor(
    @InjectRepository(DestinationEntity) private readonly destinations: Repository<DestinationEntity>,
    @Inject(CHAINVAULT_CONFIG) private readonly config: ChainvaultConfig,
    private readonly audit: AuditService,
    private readonly secretBox: SecretBox,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if ((await this.destinations.count()) === 0) {
      await this.create({ name: DEFAULT_DESTINATION_NAME, kind: DestinationKind.LOCAL, config: { path: join(this.config.dataDir, 'repository') } }, 'system');
    }
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
    if (input.kind !== DestinationKind.LOCAL) throw ChainvaultError.badInput(`destination kind ${input.kind} is not available in this version yet; use LOCAL`);
    if (!validate(raw)) throw ChainvaultError.badInput(`config does not fit a ${input.kind} destination: ${describeSchemaErrors(validate.errors, 'config')}`);
    if (typeof raw.path === 'string') raw.path = isAbsolute(raw.path) ? resolve(raw.path) : resolve(this.config.dataDir, raw.path);
    if (await this.destinations.existsBy({ name })) throw ChainvaultError.conflict(`a destination named "${name}" already exists`);
    const { publicConfig, secrets } = splitSecrets(DESTINATION_SCHEMAS[input.kind], raw);
    const destination = this.destinations.create({
      id: randomUUID(),
      name,
      kind: input.kind,
      config: publicConfig,
      secrets: secrets ? this.secretBox.seal(secrets) : null,
      createdAt: new Date(),
    });
    await this.openRepository(destination);
    await this.destinations.insert(destination);
    await this.audit.record({ actor, action: 'destination.create', subjectType: 'destination', subjectId: destination.id, details: { name, kind: input.kind } });
    return destination;
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
      opened = BackupRepository.openOrInit(this.backendFor(destination.kind, config), options).catch((error: unknown) => {
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

  private backendFor(kind: DestinationKind, config: Record<string, unknown>): RepositoryBackend {
    switch (kind) {
      case DestinationKind.LOCAL:
        return new LocalBackend(String(config.path));
      default:
        throw ChainvaultError.badInput(`destination kind ${kind} is not available in this version yet; use LOCAL`);
    }
  }
}
