/**
 * Counts refused requests per source in a sliding minute, and over all sources. Past a
 * source's limit its further guesses are answered at once with 429; past either limit refusals
 * are no longer logged and audited one by one, so a flood (from one address, or rotating
 * through many) can fill neither the audit log nor the server log.
 */
import { isIP } from 'node:net';

export const FAILED_AUTH_LIMIT = 30;
export const FAILED_AUTH_GLOBAL_LIMIT = 300;
export const FAILED_AUTH_WINDOW_MS = 60_000;

interface Window {
  startedAt: number;
  failures: number;
}

/**
 * The source a refusal is counted against: an IPv4 address as it is (an IPv4-mapped IPv6 one
 * as its IPv4), an IPv6 address by its /64, which one host usually holds whole.
 */
export function sourceOf(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (isIP(address) !== 6) return address;
  const [head, tail = ''] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export class FailedAuthLimiter {
  private readonly windows = new Map<string, Window>();
  private global: Window;
  private lastSweep: number;

  constructor(
    private readonly limit = FAILED_AUTH_LIMIT,
    private readonly windowMs = FAILED_AUTH_WINDOW_MS,
    private readonly now: () => number = Date.now,
    private readonly globalLimit = FAILED_AUTH_GLOBAL_LIMIT,
  ) {
    this.global = { startedAt: now(), failures: 0 };
    this.lastSweep = now();
  }

  /** Seconds until the source may guess again, or 0 when it may guess now. */
  retryAfter(address: string): number {
    const window = this.current(sourceOf(address));
    if (!window || window.failures < this.limit) return 0;
    return Math.max(1, Math.ceil((window.startedAt + this.windowMs - this.now()) / 1000));
  }

  /** Records a refusal; says whether it is within both limits (and so worth a log line and an audit event of its own). */
  fail(address: string): boolean {
    const source = sourceOf(address);
    const window = this.current(source) ?? { startedAt: this.now(), failures: 0 };
    this.windows.set(source, window);
    if (this.now() - this.global.startedAt >= this.windowMs) this.global = { startedAt: this.now(), failures: 0 };
    window.failures += 1;
    this.global.failures += 1;
    return window.failures <= this.limit && this.global.failures <= this.globalLimit;
  }

  private current(source: string): Window | undefined {
    const now = this.now();
    if (now - this.lastSweep >= this.windowMs) this.sweep(now);
    const window = this.windows.get(source);
    if (window && now - window.startedAt >= this.windowMs) {
      this.windows.delete(source);
      return undefined;
    }
    return window;
  }

  /** Forgets ended windows, once per window length rather than per request. */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [source, window] of this.windows) if (now - window.startedAt >= this.windowMs) this.windows.delete(source);
  }
}
