/**
 * Destinations: repositories on storage backends. Creating one opens (or initialises) its
 * repository at once, so a bad location is refused when it is entered, not at 3 a.m.
 */
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LocalBackend, Repository as BackupRepository, RepositoryError } from '@chainvault/repository';
import { randomUUID } from 'node:crypto';
import { isAbsolute, join, resolve } from 'node:path';
import { Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { DestinationEntity, DestinationKind } from '../catalog/entities';
import { CHAINVAULT_CONFIG, type ChainvaultConfig } from '../config/chainvault-config';
import { ChainvaultError } from '../errors/chainvault.errors';
import { requireName, requireObject } from '../validation';

export interface CreateDestination {
  name: string;
  kind: DestinationKind;
  config: unknown;
}

/** The destination created on first start, so the embedded defaults back up to `./data/repository`. */
export const DEFAULT_DESTINATION_NAME = 'local';

@Injectable()
export class DestinationService implements OnApplicationBootstrap {
  private readonly opened = new Map<string, Promise<BackupRepository>>();

  constructor(
    @InjectRepository(DestinationEntity) private readonly destinations: Repository<DestinationEntity>,
    @Inject(CHAINVAULT_CONFIG) private readonly config: ChainvaultConfig,
    private readonly audit: AuditService,
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
    const raw = requireObject(input.config, 'config');
    let config: Record<string, unknown>;
    switch (input.kind) {
      case DestinationKind.LOCAL:
        config = this.localConfig(raw);
        break;
      case DestinationKind.S3:
      case DestinationKind.SFTP:
        throw ChainvaultError.badInput(`destination kind ${input.kind} is not available in this version yet; use LOCAL`);
      default:
        throw ChainvaultError.badInput(`unknown destination kind "${String(input.kind)}"; use LOCAL, S3 or SFTP`);
    }
    if (await this.destinations.existsBy({ name })) throw ChainvaultError.conflict(`a destination named "${name}" already exists`);
    const destination = this.destinations.create({ id: randomUUID(), name, kind: input.kind, config, createdAt: new Date() });
    await this.openRepository(destination);
    await this.destinations.insert(destination);
    await this.audit.record({ actor, action: 'destination.create', subjectType: 'destination', subjectId: destination.id, details: { name, kind: input.kind } });
    return destination;
  }

  /** The repository of a destination, opened once per process. */
  openRepository(destination: DestinationEntity): Promise<BackupRepository> {
    let opened = this.opened.get(destination.id);
    if (!opened) {
      opened = BackupRepository.openOrInit(new LocalBackend(String(destination.config.path))).catch((error: unknown) => {
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

  private localConfig(raw: Record<string, unknown>): Record<string, unknown> {
    const unknown = Object.keys(raw).filter((k) => k !== 'path');
    if (unknown.length > 0) throw ChainvaultError.badInput(`config: unknown field "${unknown[0]}" for a LOCAL destination (it takes { "path": "<dir>" })`);
    if (typeof raw.path !== 'string' || raw.path.trim() === '') throw ChainvaultError.badInput('config.path: a LOCAL destination needs a directory path');
    // Relative paths are taken from the data directory, not from wherever the server was started.
    const path = isAbsolute(raw.path) ? resolve(raw.path) : resolve(this.config.dataDir, raw.path);
    return { path };
  }
}
