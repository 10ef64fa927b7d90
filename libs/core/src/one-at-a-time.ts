/**
 * Runs tasks one at a time per key within this process: a task waits for the one before it with
 * the same key (whether that one succeeded or failed). Across instances the catalog's own
 * constraints have the last word; this keeps one process from racing itself.
 */
export class OneAtATime<T> {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `task` after the earlier tasks of `key`; a task may answer a narrower type than the queue's. */
  async run<R extends T>(key: string, task: () => Promise<R>): Promise<R> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(task);
    this.tails.set(key, current);
    try {
      return await current;
    } finally {
      if (this.tails.get(key) === current) this.tails.delete(key);
    }
  }
}
