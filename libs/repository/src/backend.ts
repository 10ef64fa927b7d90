/**
 * Where repository objects live. Keys are `/`-separated relative names
 * (`chunks/ab/ab12…`, `manifests/<id>.json`). Every put is atomic: a reader sees the whole
 * object or none of it, so a crash never leaves a half-written object under its final name.
 */
export interface RepositoryBackend {
  /** A human-readable location, for messages. */
  readonly location: string;
  get(key: string): Promise<Buffer>;
  /** Writes atomically; replaces an existing object. */
  put(key: string, data: Uint8Array): Promise<void>;
  has(key: string): Promise<boolean>;
  /** Keys under `prefix` (recursive), in no particular order. */
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
}
