/** The parts of a plugin context that every job kind builds the same way. */
import { createCommandRunner } from '@chainvault/plugin-sdk';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobRun } from './job-handler';

export async function withJobTempDir<T>(dataDir: string, jobId: string, work: (tempDir: string) => Promise<T>): Promise<T> {
  const tempDir = join(dataDir, 'tmp', `job-${jobId}`);
  await rm(tempDir, { recursive: true, force: true });
  await mkdir(tempDir, { recursive: true, mode: 0o700 });
  try {
    return await work(tempDir);
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
}

export function commonContext(run: JobRun, method: string, options: Record<string, unknown>, tempDir: string) {
  return {
    method,
    options,
    progress: run.progress,
    log: run.log,
    signal: run.signal,
    tempDir,
    commands: createCommandRunner(run.signal),
  };
}
