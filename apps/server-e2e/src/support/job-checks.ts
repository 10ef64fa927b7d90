/** Checks on jobs the end-to-end tests share: a job's log as one text, its end status with the reason, and waiting for a condition. */

/** Every line of a job's log, as one text. */
export const logOf = (job: { log: { message: string }[] }) => job.log.map((l) => l.message).join('\n');

/** The job ended as expected, or the failure shows its error and log. */
export function expectStatus(job: Record<string, any>, status: string): void {
  if (job.status !== status) throw new Error(`job ${job.id} (${job.kind}) is ${job.status}, expected ${status}: ${job.error}\n${logOf(job as { log: { message: string }[] })}`);
}

export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
