/**
 * Each running process records itself with a heartbeat. On PostgreSQL several instances share
 * the catalog and the work; SQLite is a one-instance mode, so a second process on the same
 * SQLite catalog refuses to start and says why, instead of both scheduling and running jobs.
 */
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { hostname } from 'node:os';
import { LessThan, MoreThan, Not, Repository } from 'typeorm';
import { InstanceEntity } from '../catalog/entities';
import { CHAINVAULT_CONFIG, type ChainvaultConfig } from '../config/chainvault-config';
import { JobWorker } from '../jobs/job.worker';

const HEARTBEAT_MS = 5_000;
/** An instance silent for this long is taken to be gone. */
const ALIVE_MS = 3 * HEARTBEAT_MS;

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class SecondSqliteInstance extends Error {
  constructor(other: InstanceEntity, catalog: string) {
    super(
      `another chainvault instance (pid ${other.pid} on ${other.host}, running since ${other.startedAt.toISOString()}) uses the SQLite catalog ${catalog}. ` +
        'SQLite is a one-instance mode: stop the other instance, or share a PostgreSQL catalog (CHAINVAULT_DATABASE_URL) to run several.',
    );
    this.name = 'SecondSqliteInstance';
  }
}

@Injectable()
export class InstanceService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('instances');
  private timer?: NodeJS.Timeout;

  constructor(
    @InjectRepository(InstanceEntity) private readonly instances: Repository<InstanceEntity>,
    @Inject(CHAINVAULT_CONFIG) private readonly config: ChainvaultConfig,
    private readonly worker: JobWorker,
  ) {}

  get id(): string {
    return this.worker.owner;
  }

  async onModuleInit(): Promise<void> {
    const now = new Date();
    await this.instances.insert({ id: this.id, host: hostname(), pid: process.pid, startedAt: now, heartbeatAt: now });
    if (!this.config.databaseUrl) {
      // Checked after recording ourselves, so of two processes starting together the later (by start, then id) gives way.
      for (const other of await this.instances.find({ where: { id: Not(this.id), heartbeatAt: MoreThan(new Date(now.getTime() - ALIVE_MS)) } })) {
        // A process of this host that no longer exists (killed without shutting down) is gone, however recent its heartbeat.
        if (other.host === hostname() && !processExists(other.pid)) {
          await this.instances.delete({ id: other.id });
        } else if (other.startedAt < now || (other.startedAt.getTime() === now.getTime() && other.id < this.id)) {
          await this.instances.delete({ id: this.id });
          throw new SecondSqliteInstance(other, `${this.config.dataDir}/catalog.sqlite`);
        }
      }
    }
    this.timer = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.instances.delete({ id: this.id }).catch(() => undefined);
  }

  private async beat(): Promise<void> {
    try {
      await this.instances.update({ id: this.id }, { heartbeatAt: new Date() });
      // Rows of instances long gone (killed without a shutdown) are cleared by whoever sees them.
      await this.instances.delete({ heartbeatAt: LessThan(new Date(Date.now() - 10 * ALIVE_MS)) }).catch(() => undefined);
    } catch (error) {
      this.logger.warn(`heartbeat failed: ${(error as Error).message}`);
    }
  }
}
