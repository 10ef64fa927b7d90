/**
 * Counts refused authentications per remote address in a sliding minute. Past the limit the
 * address is answered at once (HTTP 429) without a catalog lookup or an audit row per try, so
 * a flood of guesses can neither fill the audit log nor load the catalog.
 */
export const FAILED_AUTH_LIMIT = 30;
export const FAILED_AUTH_WINDOW_MS = 60_000;

interface Window {
  startedAt: number;
  failures: number;
  /** Failures past the limit, not audited one by one. */
  dropped: number;
}

export class FailedAuthLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly limit = FAILED_AUTH_LIMIT,
    private readonly windowMs = FAILED_AUTH_WINDOW_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until the address may try again, or 0 when it may try now. */
  retryAfter(address: string): number {
    const window = this.current(address);
    if (!window || window.failures < this.limit) return 0;
    return Math.max(1, Math.ceil((window.startedAt + this.windowMs - this.now()) / 1000));
  }

  /** Records a refusal; says whether it is still within the limit (and so worth an audit event of its own). */
  fail(address: string): boolean {
    const window = this.current(address) ?? { startedAt: this.now(), failures: 0, dropped: 0 };
    this.windows.set(address, window);
    if (window.failures >= this.limit) {
      window.dropped += 1;
      return false;
    }
    window.failures += 1;
    return true;
  }

  private current(address: string): Window | undefined {
    const window = this.windows.get(address);
    if (window && this.now() - window.startedAt >= this.windowMs) {
      this.windows.delete(address);
      return undefined;
    }
    if (this.windows.size > 10_000) this.sweep();
    return window;
  }

  private sweep(): void {
    const now = this.now();
    for (const [address, window] of this.windows) if (now - window.startedAt >= this.windowMs) this.windows.delete(address);
  }
}
