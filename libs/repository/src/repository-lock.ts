/**
 * Locks in the repository itself, so they hold across processes and machines: backups take
 * a shared lock, prune an exclusive one. A lock names its holder and is refreshed while held;
 * a lock not refreshed for `staleAfterMs`, or held by a process on this host that no longer
 * exists, is stale and ignored.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { RepositoryBackend } from './backend';
import { RepositoryError } from './repository.errors';

export interface LockRecord {
  exclusive: boolean;
  host: string;
  pid: number;
  purpose: string;
  createdAt: string;
  refreshedAt: string;
}

export interface LockTiming {
  /** How often a held lock is refreshed. */
  refreshMs: number;
  /** A lock not refreshed for this long is stale. */
  staleAfterMs: number;
}

export const DEFAULT_LOCK_TIMING: LockTiming = { refreshMs: 60_000, staleAfterMs: 10 * 60_000 };

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class RepositoryLock {
  private timer: NodeJS.Timeout | undefined;
  private released = false;

  private constructor(
    private readonly backend: RepositoryBackend,
    readonly key: string,
    private readonly record: LockRecord,
    timing: LockTiming,
  ) {
    this.timer = setInterval(() => void this.refresh(), timing.refreshMs);
    this.timer.unref();
  }

  /**
   * Takes a lock, or fails with LOCKED naming who holds the conflicting one. The lock is
   * written first and the others checked after, so two processes racing both see each other
   * and neither proceeds wrongly.
   */
  static async acquire(backend: RepositoryBackend, exclusive: boolean, purpose: string, timing: LockTiming = DEFAULT_LOCK_TIMING): Promise<RepositoryLock> {
    const now = new Date().toISOString();
    const record: LockRecord = { exclusive, host: hostname(), pid: process.pid, purpose, createdAt: now, refreshedAt: now };
    const key = `locks/${randomUUID()}`;
    await backend.put(key, Buffer.from(JSON.stringify(record)));
    const lock = new RepositoryLock(backend, key, record, timing);
    try {
      const conflict = (await RepositoryLock.live(backend, timing)).find(({ key: other, record: held }) => other !== key && (exclusive || held.exclusive));
      if (conflict) {
        const held = conflict.record;
        throw new RepositoryError(
          'LOCKED',
          `the repository at ${backend.location} is locked${held.exclusive ? ' exclusively' : ''} by ${held.purpose} (process ${held.pid} on ${held.host} since ${held.createdAt}); try again when it has finished`,
        );
      }
    } catch (error) {
      await lock.release();
      throw error;
    }
    return lock;
  }

  /** The locks that are not stale. Stale ones are removed on the way. */
  static async live(backend: RepositoryBackend, timing: LockTiming = DEFAULT_LOCK_TIMING): Promise<{ key: string; record: LockRecord }[]> {
    const live: { key: string; record: LockRecord }[] = [];
    for (const key of await backend.list('locks/')) {
      let record: LockRecord;
      try {
        record = JSON.parse((await backend.get(key)).toString('utf8')) as LockRecord;
      } catch {
        continue; // removed meanwhile, or unreadable: not a lock anyone can rely on
      }
      const age = Date.now() - Date.parse(record.refreshedAt);
      const deadHere = record.host === hostname() && record.pid !== process.pid && !processAlive(record.pid);
      if (age > timing.staleAfterMs || deadHere) {
        await backend.delete(key).catch(() => undefined);
        continue;
      }
      live.push({ key, record });
    }
    return live;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    await this.backend.delete(this.key);
  }

  private async refresh(): Promise<void> {
    if (this.released) return;
    this.record.refreshedAt = new Date().toISOString();
    await this.backend.put(this.key, Buffer.from(JSON.stringify(this.record))).catch(() => undefined);
  }
}
