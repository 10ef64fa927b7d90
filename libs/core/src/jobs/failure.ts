/** Turns whatever a job threw into one line an operator can act on. */
import { isPluginError } from '@chainvault/plugin-sdk';
import { RepositoryError } from '@chainvault/repository';
import { ChainvaultError } from '../errors/chainvault.errors';

export function describeFailure(error: unknown): string {
  if (isPluginError(error)) return `${error.code}: ${error.message}${error.retryable ? ' (retryable)' : ''}`;
  if (error instanceof RepositoryError) return `repository ${error.code}: ${error.message}`;
  if (error instanceof ChainvaultError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

/** A run that found nothing to do (the plugin said why): the job ends SKIPPED with the reason, and nothing is recorded. */
export class JobSkipped extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'JobSkipped';
  }
}
