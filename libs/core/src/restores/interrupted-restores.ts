/**
 * What a restore wrote, so a retry into the same target can start over. Before the host
 * extracts a backup into a folder it records the folder and the backup on the restore; a later
 * restore into a target that holds nothing but entries of those backups (and their partial
 * files) clears them first. A target with anything else in it is left alone, and the plugin
 * refuses it as not empty.
 */
import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { ArtifactSource } from '@chainvault/plugin-sdk';
import { lstat, readdir, rm, rmdir } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { Repository } from 'typeorm';
import { RestoreEntity, RestoreStatus } from '../catalog/entities';
import { BackupService } from '../backups/backup.service';
import { realLocation } from '../filesystem/real-location';
import { configLocations } from './restore-roots';

/** One extraction a restore started: into `root` (a real path), from `from` of `backupId`. */
export interface ExtractRecord {
  root: string;
  backupId: string;
  from: string | null;
  /** The folder did not exist before: the restore made it (and gave it the backup's mode and times). */
  createdRoot?: boolean;
}

const PARTIAL = /^\.(.+)\.chainvault-partial$/;
/** How many earlier restores are looked through for one target. */
const LOOK_BACK = 200;

/** Every entry under `root`, as `/`-separated relative paths, children before their folder. */
async function entriesUnder(root: string): Promise<{ path: string; directory: boolean }[]> {
  const found: { path: string; directory: boolean }[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const full = join(dir, name);
      const directory = (await lstat(full)).isDirectory();
      if (directory) await walk(full);
      found.push({ path: relative(root, full).split(sep).join('/'), directory });
    }
  };
  await walk(root);
  return found;
}

const extractsOf = (restore: RestoreEntity): ExtractRecord[] => (restore.details?.extracts as ExtractRecord[] | undefined) ?? [];

/**
 * The extractions into `root` of the failed or cancelled restores since the last restore into
 * it that completed (or is still going): what a completed restore wrote is the user's now.
 */
export function interruptedInto(root: string, newestFirst: RestoreEntity[]): ExtractRecord[] {
  const records: ExtractRecord[] = [];
  for (const restore of newestFirst) {
    const here = extractsOf(restore).filter((e) => e.root === root);
    if (here.length === 0) continue;
    if (restore.status !== RestoreStatus.FAILED && restore.status !== RestoreStatus.CANCELLED) break;
    records.push(...here);
  }
  return records;
}

@Injectable()
export class InterruptedRestores {
  private readonly logger = new Logger('restores');

  constructor(
    @InjectRepository(RestoreEntity) private readonly restores: Repository<RestoreEntity>,
    private readonly backups: BackupService,
  ) {}

  /** Wraps a backup given to a plugin so that each extraction is recorded on the restore before it writes. */
  journal(restoreId: string, backupId: string, source: ArtifactSource): ArtifactSource {
    return {
      list: () => source.list(),
      read: (path) => source.read(path),
      extractTree: async (targetDirectory, options) => {
        const root = await realLocation(targetDirectory);
        const createdRoot = await lstat(root).then(() => false, () => true);
        await this.note(restoreId, { root, backupId, from: options?.from ?? null, createdRoot });
        return source.extractTree(targetDirectory, options);
      },
    };
  }

  private async note(restoreId: string, record: ExtractRecord): Promise<void> {
    const restore = await this.restores.findOneByOrFail({ id: restoreId });
    const extracts = [...extractsOf(restore)];
    if (extracts.some((e) => e.root === record.root && e.backupId === record.backupId && e.from === record.from)) return;
    extracts.push(record);
    await this.restores.update({ id: restoreId }, { details: { ...(restore.details ?? {}), extracts } });
  }

  /**
   * Empties each location of a restore target that holds only what failed or cancelled
   * restores extracted into it. Returns the locations it emptied.
   */
  async clear(targetConfig: Record<string, unknown>): Promise<string[]> {
    const locations = await Promise.all(configLocations(targetConfig).map(({ path }) => realLocation(path)));
    if (locations.length === 0) return [];
    const earlier = await this.restores.find({ order: { createdAt: 'DESC' }, take: LOOK_BACK });
    const cleared: string[] = [];
    for (const root of locations) {
      const records = interruptedInto(root, earlier);
      if (records.length === 0) continue;
      const present = await entriesUnder(root).catch(() => []);
      if (present.length === 0) continue;
      const written = await this.writablePaths(records);
      const foreign = present.filter(({ path }) => {
        if (written.has(path)) return false;
        const partial = PARTIAL.exec(posix.basename(path));
        return !(partial && written.has(posix.join(posix.dirname(path), partial[1])));
      });
      if (foreign.length > 0) continue;
      for (const { path, directory } of present) {
        const full = join(root, ...path.split('/'));
        if (directory) await rmdir(full);
        else await rm(full, { force: true });
      }
      // A folder the interrupted restore made goes too, so the retry makes it again as the backup has it.
      if (records.every((r) => r.createdRoot)) await rmdir(root);
      this.logger.log(`cleared ${present.length} entries an interrupted restore left in ${root}`);
      cleared.push(root);
    }
    return cleared;
  }

  /** The relative paths the recorded extractions could have written. */
  private async writablePaths(records: ExtractRecord[]): Promise<Set<string>> {
    const paths = new Set<string>();
    for (const record of records) {
      const backup = await this.backups.get(record.backupId).catch(() => null);
      if (!backup) continue;
      const from = record.from && record.from !== '.' ? record.from.replace(/^\/+|\/+$/g, '') : null;
      for (const entry of await this.backups.files(backup)) {
        if (!from) paths.add(entry.path);
        else if (entry.path.startsWith(`${from}/`)) paths.add(entry.path.slice(from.length + 1));
      }
    }
    paths.delete('.');
    return paths;
  }
}
