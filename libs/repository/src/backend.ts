/**
 * Where repository objects live: a local directory, an S3 bucket, an SFTP server. Keys are
 * `/`-separated relative names (`data/ab/ab12…`, `snapshots/<id>`). Every put is atomic: a
 * reader sees the whole object or none of it, so a crash never leaves a half-written object
 * under its final name.
 */
export interface ByteRange {
  offset: number;
  length: number;
  /**
   * Where to read the bytes, when the backend can (the local one does): the answer is then a view
   * on it. Shared memory handed in this way reaches the sealing threads without a copy.
   */
  into?: Buffer;
}

/** An object's bytes: one buffer, or several written one after the other (packs avoid a copy). */
export type ObjectData = Uint8Array | readonly Uint8Array[];

/** One buffer for backends that need it whole. */
export function wholeObject(data: ObjectData): Buffer {
  if (!Array.isArray(data)) {
    const one = data as Uint8Array;
    return Buffer.from(one.buffer, one.byteOffset, one.byteLength);
  }
  return Buffer.concat(data as Uint8Array[]);
}

export interface RepositoryBackend {
  /** A human-readable location, for messages (never containing credentials). */
  readonly location: string;
  /**
   * The object's bytes, or only `range` of them. A missing object is a RepositoryError with
   * code NOT_FOUND; a range past the end returns what exists.
   */
  get(key: string, range?: ByteRange): Promise<Buffer>;
  /** Writes atomically; replaces an existing object. */
  put(key: string, data: ObjectData): Promise<void>;
  has(key: string): Promise<boolean>;
  /** Keys under `prefix` (recursive), in no particular order. `''` lists everything. */
  list(prefix: string): Promise<string[]>;
  /** Removes the object; removing a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Releases connections. The backend is not used afterwards. */
  close?(): Promise<void>;
}
