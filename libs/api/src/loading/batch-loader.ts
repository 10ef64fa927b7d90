/**
 * Loads what many resolvers of one request ask for in one catalog query: keys asked for in the
 * same turn of the event loop (a page of 100 jobs each asking for its backup) are read together.
 * Nothing is kept after a batch is answered, so a subscription's later events read fresh rows.
 */
export class BatchLoader<K, V> {
  private pending = new Map<K, { resolve: (value: V | null) => void; reject: (error: unknown) => void }[]>();

  /** `batch` answers every key it can; a key it leaves out loads as null. */
  constructor(private readonly batch: (keys: K[]) => Promise<Map<K, V>>) {}

  load(key: K): Promise<V | null> {
    return new Promise((resolve, reject) => {
      const waiting = this.pending.get(key);
      if (waiting) {
        waiting.push({ resolve, reject });
        return;
      }
      // setImmediate runs after every promise the resolvers of this turn chain (Nest's guards
      // and interceptors included), so siblings resolved a few microtasks apart share the batch.
      if (this.pending.size === 0) setImmediate(() => void this.dispatch());
      this.pending.set(key, [{ resolve, reject }]);
    });
  }

  private async dispatch(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    try {
      const found = await this.batch([...batch.keys()]);
      for (const [key, waiting] of batch) for (const w of waiting) w.resolve(found.get(key) ?? null);
    } catch (error) {
      for (const waiting of batch.values()) for (const w of waiting) w.reject(error);
    }
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each name holds loaders of its own key and value types
const loadersByRequest = new WeakMap<object, Map<string, BatchLoader<any, any>>>();

/**
 * The request's loader named `name`, made on first use. Keyed by the request's context object,
 * so loaders (and their batches) never mix requests and go with the request.
 */
export function requestLoader<K, V>(context: object, name: string, batch: (keys: K[]) => Promise<Map<K, V>>): BatchLoader<K, V> {
  let loaders = loadersByRequest.get(context);
  if (!loaders) loadersByRequest.set(context, (loaders = new Map()));
  let loader: BatchLoader<K, V> | undefined = loaders.get(name);
  if (!loader) loaders.set(name, (loader = new BatchLoader(batch)));
  return loader;
}
