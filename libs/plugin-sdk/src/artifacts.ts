/**
 * How a plugin hands data to the backup repository and reads it back. The host implements
 * these on top of its content-addressed repository; the conformance kit implements them on a
 * plain directory.
 */

/** One entry of a backup, as restore and verify see it. Paths use `/` and are relative. */
export interface ArtifactEntry {
  path: string;
  type: 'file' | 'directory' | 'symlink';
  size: number;
  /** Permission bits (`mode & 0o7777`). */
  mode: number;
  mtime: Date;
  /** SHA-256 of the whole file, hex. Files only. */
  sha256?: string;
  /** Symlinks only: where the link points, exactly as stored. */
  linkTarget?: string;
}

export interface AddTreeOptions {
  /** Where the tree goes inside the backup. Default: the backup's root. */
  as?: string;
  /** Return false to leave a path out (relative path with `/`, and whether it is a directory). */
  filter?: (relativePath: string, isDirectory: boolean) => boolean;
}

export interface TreeSummary {
  files: number;
  directories: number;
  symlinks: number;
  bytes: number;
}

export interface WriteFileOptions {
  mode?: number;
  mtime?: Date;
}

/**
 * Receives a backup's content. Everything added is only visible once the backup completes:
 * if the job fails or is killed, nothing of it appears in the catalog.
 */
export interface ArtifactSink {
  /**
   * Stores a local directory tree: regular files, symlinks (as links, never followed), empty
   * directories, permission bits and modification times. Files whose path, size and mtime
   * equal the previous backup's are taken from it without being read again.
   */
  addTree(localDirectory: string, options?: AddTreeOptions): Promise<TreeSummary>;
  /** Stores one local file under `as`. */
  addFile(localPath: string, as: string): Promise<void>;
  /** Stores content the plugin produces (an export stream, a generated document) under `as`. */
  writeFile(
    as: string,
    content: AsyncIterable<Uint8Array> | Uint8Array | string,
    options?: WriteFileOptions,
  ): Promise<{ size: number; sha256: string }>;
}

export interface ExtractOptions {
  /** Only the entries under this path of the backup (default: all), placed relative to it. */
  from?: string;
}

/** Reads a stored backup back. */
export interface ArtifactSource {
  /** Every entry of the backup, sorted by path. */
  list(): Promise<ArtifactEntry[]>;
  /** The content of one file, verified against its stored hashes as it is read. */
  read(path: string): AsyncIterable<Uint8Array>;
  /**
   * Writes entries into `targetDirectory` with their modes and mtimes. Never writes outside
   * it: a stored path that would escape is an error.
   */
  extractTree(targetDirectory: string, options?: ExtractOptions): Promise<TreeSummary>;
}
