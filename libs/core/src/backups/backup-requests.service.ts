/** Starting backup, verify, export and prune jobs on request, with the checks that keep runs from piling up. */
import { Injectable } from '@nestjs/common';
import { resolve } from 'node:path';
import { JobKind, JobStatus, type JobEntity } from '../catalog/entities';
import { DestinationService } from '../destinations/destination.service';
import { uniqueViolation } from '../catalog/unique-violation';
import { ChainvaultError } from '../errors/chainvault.errors';
import { JobService } from '../jobs/job.service';
import { OneAtATime } from '../one-at-a-time';
import { PluginRegistry } from '../plugins/plugin-registry.service';
import { PolicyService } from '../policies/policy.service';
import { RestoreRoots } from '../restores/restore-roots';
import { BackupService } from './backup.service';
import { exportTargetProblem } from './export.job';

@Injectable()
export class BackupRequests {
  constructor(
    private readonly policies: PolicyService,
    private readonly backups: BackupService,
    private readonly jobs: JobService,
    private readonly plugins: PluginRegistry,
    private readonly destinations: DestinationService,
    private readonly restoreRoots: RestoreRoots,
  ) {}

  /** Requests for one policy are handled one at a time. */
  private readonly perPolicy = new OneAtATime<JobEntity>();

  /**
   * Queues a backup of the policy unless one is already queued or running. Two requests that
   * arrive together would both pass that check, so they wait for each other in this process;
   * across instances the catalog's unique index on a policy's active backup refuses the second.
   */
  runBackup(policyId: string, actor: string): Promise<JobEntity> {
    return this.perPolicy.run(policyId, () => this.startBackup(policyId, actor));
  }

  private async startBackup(policyId: string, actor: string): Promise<JobEntity> {
    const policy = await this.policies.get(policyId);
    this.plugins.method(policy.pluginId, policy.method);
    const refuse = (active: JobEntity) => ChainvaultError.conflict(`policy "${policy.name}" already has a backup ${active.status.toLowerCase()} (job ${active.id})`, { jobId: active.id });
    const active = await this.jobs.findActiveBackup(policy.id);
    if (active) throw refuse(active);
    try {
      return await this.jobs.create({ kind: JobKind.BACKUP, policyId: policy.id }, actor);
    } catch (error) {
      const raced = uniqueViolation(error) ? await this.jobs.findActiveBackup(policy.id) : null;
      if (raced) throw refuse(raced);
      throw error;
    }
  }

  async verifyBackup(backupId: string, readData: boolean, actor: string): Promise<JobEntity> {
    const backup = await this.backups.getUsable(backupId);
    return this.jobs.create({ kind: JobKind.VERIFY, policyId: backup.policyId, backupId: backup.id, payload: { readData } }, actor);
  }

  /**
   * Queues an export of the backup's files into `path` on the server: an absolute path to a
   * missing or empty directory under a restore root, so nothing there is overwritten.
   */
  async exportBackup(backupId: string, path: string, actor: string): Promise<JobEntity> {
    const backup = await this.backups.getUsable(backupId);
    // The roots first: what lies outside them is not even looked into (empty or not, a file or not).
    await this.restoreRoots.check(path, 'the export path');
    const problem = await exportTargetProblem(path);
    if (problem) throw ChainvaultError.badInput(problem);
    return this.jobs.create({ kind: JobKind.EXPORT, policyId: backup.policyId, backupId: backup.id, payload: { path: resolve(path) } }, actor);
  }

  /** Queues a prune of a destination's repository (or a dry run that only reports). One at a time per destination. */
  async pruneDestination(destinationId: string, dryRun: boolean, actor: string): Promise<JobEntity> {
    const destination = await this.destinations.get(destinationId);
    const active = (await this.jobs.list([JobStatus.QUEUED, JobStatus.RUNNING])).find((j) => j.kind === JobKind.PRUNE && j.payload.destinationId === destination.id);
    if (active) throw ChainvaultError.conflict(`destination "${destination.name}" already has a prune ${active.status.toLowerCase()} (job ${active.id})`, { jobId: active.id });
    return this.jobs.create({ kind: JobKind.PRUNE, payload: { destinationId: destination.id, dryRun } }, actor);
  }

  /** Queues a check of every backup in a destination (each pack read once). */
  async checkDestination(destinationId: string, readData: boolean, actor: string): Promise<JobEntity> {
    const destination = await this.destinations.get(destinationId);
    return this.jobs.create({ kind: JobKind.CHECK, payload: { destinationId: destination.id, readData } }, actor);
  }
}
