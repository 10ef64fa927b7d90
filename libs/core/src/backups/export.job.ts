/**
 * Exports a backup: writes its files, as stored, into a directory on the server (for example
 * the `.rlp` files `geth import` reads). No plugin takes part; nothing existing is overwritten.
 */
import { Injectable } from '@nestjs/common';
import { readdir } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { JobKind } from '../catalog/entities';
import { DestinationService } from '../destinations/destination.service';
import { ChainvaultError } from '../errors/chainvault.errors';
import type { JobHandler, JobRun } from '../jobs/job-handler';
import { RestoreRoots } from '../restores/restore-roots';
import { BackupService } from './backup.service';
import { lockPurpose } from '../destinations/destination-busy';

/**
 * Why `path` cannot take an export, or null if it can: it must be absolute and name a missing
 * or empty directory, so an export never mixes with or replaces what is already there.
 */
export async function exportTargetProblem(path: string): Promise<string | null> {
  if (!isAbsolute(path)) return `the export path must be absolute, got "${path}"`;
  let names: string[];
  try {
    names = await readdir(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ENOTDIR') return `the export path ${path} is not a directory`;
    return `the export path ${path} cannot be used: ${(error as Error).message}`;
  }
  if (names.length > 0) return `the export path ${path} is not empty; export into a new or empty directory so nothing is overwritten`;
  return null;
}

@Injectable()
export class ExportJob implements JobHandler {
  readonly kind = JobKind.EXPORT;

  constructor(
    private readonly backups: BackupService,
    private readonly destinations: DestinationService,
    private readonly restoreRoots: RestoreRoots,
  ) {}

  async run(run: JobRun): Promise<Record<string, unknown>> {
    const backup = await this.backups.getUsable(run.job.backupId!);
    const path = String(run.job.payload.path);
    // Checked when the job was queued, and again now: the directory may have filled meanwhile,
    // a link on the way may have changed, or the roots may have since been narrowed.
    const into = await this.restoreRoots.check(path, 'the export path');
    const problem = await exportTargetProblem(path);
    if (problem) throw ChainvaultError.badInput(problem);
    const { repository, release } = await this.destinations.openForReading(await this.destinations.get(backup.destinationId), lockPurpose(run.job.id, `export of backup ${backup.id}`));
    let summary;
    try {
      const reader = await repository.openBackup(backup.id, {
        signal: run.signal,
        onProgress: (p) => run.progress.update({ unit: 'bytes', done: p.bytes, total: backup.logicalBytes, message: `${p.files} files` }),
      });
      run.log.info(`exporting backup ${backup.id} (${backup.pluginId}/${backup.method}) to ${path}`);
      summary = await reader.extractTree(into);
    } finally {
      await release();
    }
    run.signal.throwIfAborted();
    run.log.info(`exported ${summary.files} files (${summary.bytes} bytes), ${summary.directories} directories, ${summary.symlinks} symlinks`);
    return { path, files: summary.files, bytes: summary.bytes };
  }

  /** An interrupted export is not finished: the job fails, and the target may hold part of it. */
  async recover(): Promise<Record<string, unknown> | null> {
    return null;
  }
}
