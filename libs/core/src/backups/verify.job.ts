/**
 * Verifies a stored backup: the repository re-hashes what it holds, then the plugin proves
 * the content against the protocol's own rules. The verdict is recorded on the backup.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { Repository as BackupRepository } from '@chainvault/repository';
import { JobKind, VerificationState, type BackupEntity } from '../catalog/entities';
import { CHAINVAULT_CONFIG, type ChainvaultConfig } from '../config/chainvault-config';
import { DestinationService } from '../destinations/destination.service';
import type { JobHandler, JobRun } from '../jobs/job-handler';
import { withPluginContext } from '../jobs/plugin-context';
import { PolicyService } from '../policies/policy.service';
import { PluginRegistry } from '../plugins/plugin-registry.service';
import { BackupService, dependencyIds } from './backup.service';
import { lockPurpose } from '../destinations/destination-busy';

/** A failure that is the expected outcome of the job (a corrupt backup), not a fault of the server. */
class BackupCorrupt extends Error {
  readonly expected = true;
}

@Injectable()
export class VerifyJob implements JobHandler {
  readonly kind = JobKind.VERIFY;

  constructor(
    @Inject(CHAINVAULT_CONFIG) private readonly config: ChainvaultConfig,
    private readonly backups: BackupService,
    private readonly destinations: DestinationService,
    private readonly plugins: PluginRegistry,
    private readonly policies: PolicyService,
  ) {}

  async run(run: JobRun): Promise<Record<string, unknown>> {
    const backup = await this.backups.getUsable(run.job.backupId!);
    const readData = run.job.payload.readData !== false;
    const { repository, release } = await this.destinations.openForReading(await this.destinations.get(backup.destinationId), lockPurpose(run.job.id, `verify of backup ${backup.id}`));
    try {
      return await this.verifyIn(run, backup, repository, readData);
    } finally {
      await release();
    }
  }

  private async verifyIn(run: JobRun, backup: BackupEntity, repository: BackupRepository, readData: boolean): Promise<Record<string, unknown>> {
    run.log.info(`verifying backup ${backup.id}${readData ? ', re-hashing all data' : ', checking structure only'}`);
    const stored = await repository.verify(backup.id, {
      readData,
      signal: run.signal,
      onProgress: (p) => run.progress.update({ unit: 'bytes', done: p.bytes, total: backup.logicalBytes, message: `${p.files} files` }),
    });
    const problems = [...stored.problems];
    let checked: Record<string, number> = {};
    const method = this.plugins.method(backup.pluginId, backup.method);
    if (problems.length === 0 && method.verify) {
      const reader = await repository.openBackup(backup.id, { signal: run.signal });
      // The policy's options, as the backup was taken with them (a policy since removed: none).
      const options = backup.policyId ? ((await this.policies.find(backup.policyId))?.options ?? {}) : {};
      const scope = { method: backup.method, options, networkId: backup.networkId, nodeIds: backup.nodeId ? [backup.nodeId] : [] };
      const report = await withPluginContext(this.config.dataDir, run, scope, (common) =>
        method.verify!({
          ...common,
          backup: { id: backup.id, createdAt: backup.createdAt, metadata: backup.metadata as never, dependsOn: dependencyIds(backup) },
          artifacts: reader,
        }),
      );
      problems.push(...report.problems);
      checked = report.checked ?? {};
    }
    run.signal.throwIfAborted();
    await this.backups.recordVerification(backup.id, problems.length ? VerificationState.CORRUPT : VerificationState.VERIFIED, problems);
    for (const problem of problems.slice(0, 50)) run.log.error(problem);
    if (problems.length > 0) throw new BackupCorrupt(`backup ${backup.id} is corrupt: ${problems.length} problem(s), first: ${problems[0]}`);
    run.log.info(`backup ${backup.id} verified: ${stored.files} files, ${stored.chunks} chunks, ${stored.bytesRead} bytes read`);
    return { files: stored.files, chunks: stored.chunks, bytesRead: stored.bytesRead, readData, ...checked };
  }

  async recover(): Promise<Record<string, unknown> | null> {
    return null;
  }
}
