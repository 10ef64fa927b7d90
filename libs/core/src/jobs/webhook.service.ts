/**
 * Calls a policy's webhook when one of its jobs ends: SUCCESS for a completed job, FAILURE for
 * a failed one, as the policy's `webhook.on` asks. The instance that ended the job sends it,
 * with retries (1, 2, 4, 8 s apart) while the receiver is down or answers an error; every
 * delivery and every final failure is an audit event.
 */
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { JobEntity, JobStatus, PolicyEntity } from '../catalog/entities';
import { JobService } from './job.service';

export const WEBHOOK_ATTEMPTS = 5;
const TIMEOUT_MS = 10_000;

export type WebhookEvent = 'SUCCESS' | 'FAILURE';

@Injectable()
export class WebhookService implements OnModuleInit {
  private readonly logger = new Logger('webhooks');
  /** Deliveries under way, so tests and shutdown can wait for them. */
  private readonly pending = new Set<Promise<void>>();
  /** The wait before retry n (1-based); tests shorten it. */
  retryDelayMs = (retry: number) => 1000 * 2 ** (retry - 1);

  constructor(
    @InjectRepository(JobEntity) private readonly jobs: Repository<JobEntity>,
    @InjectRepository(PolicyEntity) private readonly policies: Repository<PolicyEntity>,
    private readonly jobService: JobService,
    private readonly audit: AuditService,
  ) {}

  onModuleInit(): void {
    this.jobService.events.on('ended', (id: string) => {
      const delivery = this.notify(id).catch((error: Error) => this.logger.error(`webhook for job ${id}: ${error.message}`));
      this.pending.add(delivery);
      void delivery.finally(() => this.pending.delete(delivery));
    });
  }

  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private async notify(jobId: string): Promise<void> {
    const job = await this.jobs.findOneBy({ id: jobId });
    if (!job?.policyId) return;
    const policy = await this.policies.findOneBy({ id: job.policyId });
    if (!policy?.webhook) return;
    const event: WebhookEvent | null = job.status === JobStatus.COMPLETED ? 'SUCCESS' : job.status === JobStatus.FAILED ? 'FAILURE' : null;
    if (!event || !(policy.webhook.on ?? ['FAILURE', 'SUCCESS']).includes(event)) return;
    const body = JSON.stringify({
      event,
      policy: { id: policy.id, name: policy.name },
      job: { id: job.id, kind: job.kind, status: job.status, error: job.error, attempts: job.attempts, startedAt: job.startedAt, finishedAt: job.finishedAt, result: job.result },
      backupId: job.backupId,
    });
    let lastError = '';
    for (let attempt = 1; attempt <= WEBHOOK_ATTEMPTS; attempt++) {
      if (attempt > 1) await new Promise((r) => setTimeout(r, this.retryDelayMs(attempt - 1)));
      try {
        const response = await fetch(policy.webhook.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'chainvault', 'x-chainvault-event': event },
          body,
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        await response.body?.cancel();
        if (response.ok) {
          await this.audit.record({ actor: 'system', action: 'webhook.delivered', subjectType: 'job', subjectId: job.id, details: { event, url: policy.webhook.url, attempt, status: response.status } });
          return;
        }
        lastError = `HTTP ${response.status}`;
      } catch (error) {
        lastError = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      }
    }
    this.logger.warn(`webhook ${policy.webhook.url} for job ${job.id} failed ${WEBHOOK_ATTEMPTS} times, last: ${lastError}`);
    await this.audit.record({ actor: 'system', action: 'webhook.failed', subjectType: 'job', subjectId: job.id, details: { event, url: policy.webhook.url, attempts: WEBHOOK_ATTEMPTS, error: lastError } });
  }
}
