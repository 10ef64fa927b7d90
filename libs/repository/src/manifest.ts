/**
 * A backup's manifest: the list of what it holds and how to put it back together. It is the
 * last object a backup writes, so a backup exists exactly when its manifest does.
 */
import { RepositoryError } from './repository.errors';

export const MANIFEST_FORMAT = 'chainvault-manifest';
export const MANIFEST_VERSION = 2;

interface EntryBase {
  /** Relative, `/`-separated, normalized; `.` is the backup's root directory. */
  path: string;
  /** Permission bits. */
  mode: number;
  /** Modification time in nanoseconds since the epoch, as a decimal string (exact). */
  mtimeNs: string;
}

export interface FileEntry extends EntryBase {
  type: 'file';
  size: number;
  sha256: string;
  /** Chunk ids in order; their concatenation is the file. */
  chunks: string[];
}

export interface DirectoryEntry extends EntryBase {
  type: 'directory';
}

export interface SymlinkEntry extends EntryBase {
  type: 'symlink';
  target: string;
}

export type ManifestEntry = FileEntry | DirectoryEntry | SymlinkEntry;

export interface BackupStats {
  /** Files read in full because they were new or changed. */
  filesRead: number;
  /** Files taken from the previous backup without reading them (same path, size and mtime). */
  filesUnchanged: number;
  bytesRead: number;
  /** Sum of file sizes in the backup. */
  logicalBytes: number;
  /** Bytes this backup added to the repository (new chunks, after compression and encryption). */
  storedBytes: number;
  chunksAdded: number;
  chunksReused: number;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  version: typeof MANIFEST_VERSION;
  backupId: string;
  createdAt: string;
  /** The backup whose manifest was used to skip unchanged files, if any. */
  parent: string | null;
  /** Who made the backup (plugin, method, nodes, policy): set by the host. */
  labels: Record<string, unknown>;
  /** What the plugin reported about the backup. */
  metadata: Record<string, unknown>;
  entries: ManifestEntry[];
  stats: BackupStats;
}

const SEGMENT_FORBIDDEN = new Set(['', '.', '..']);

/** Normalizes a path given by a plugin; throws if it could escape a restore target. */
export function normalizeArchivePath(path: string): string {
  // A backslash is an ordinary character in a POSIX file name (`a\b` is one name), not a separator.
  const trimmed = path.replace(/^\.\/+/, '').replace(/\/+$/, '');
  if (trimmed === '' || trimmed === '.') return '.';
  if (trimmed.startsWith('/')) throw new RepositoryError('INVALID_PATH', `backup paths are relative, got "${path}"`);
  const segments = trimmed.split('/');
  if (segments.some((s) => SEGMENT_FORBIDDEN.has(s)) || trimmed.includes('\0')) {
    throw new RepositoryError('INVALID_PATH', `backup path "${path}" has an empty, "." or ".." segment`);
  }
  return trimmed;
}

export function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '.' : path.slice(0, slash);
}

/** Orders paths so that every directory comes before what it contains. */
export function comparePaths(a: string, b: string): number {
  if (a === b) return 0;
  if (a === '.') return -1;
  if (b === '.') return 1;
  return a < b ? -1 : 1;
}

/**
 * Checks a manifest read from storage: its format, and that its entries form a tree whose
 * paths are safe. Returns the problems found; none means it can be restored.
 */
export function checkManifestStructure(manifest: Manifest): string[] {
  const problems: string[] = [];
  if (manifest.format !== MANIFEST_FORMAT) problems.push(`not a chainvault manifest (format "${String(manifest.format)}")`);
  if (manifest.version !== MANIFEST_VERSION) problems.push(`manifest version ${String(manifest.version)} is not supported`);
  if (!Array.isArray(manifest.entries)) return [...problems, 'manifest has no entry list'];
  const kinds = new Map<string, ManifestEntry['type']>();
  for (const entry of manifest.entries) {
    let path: string;
    try {
      path = normalizeArchivePath(entry.path);
    } catch (error) {
      problems.push((error as Error).message);
      continue;
    }
    if (path !== entry.path) problems.push(`path "${entry.path}" is not normalized`);
    if (path === '.' && entry.type !== 'directory') problems.push('the root entry "." must be a directory');
    if (kinds.has(path)) problems.push(`path "${path}" appears twice`);
    kinds.set(path, entry.type);
    if (path !== '.') {
      const parent = parentOf(path);
      const parentKind = kinds.get(parent);
      if (parentKind !== undefined && parentKind !== 'directory') problems.push(`"${path}" is inside "${parent}", which is not a directory`);
      if (parentKind === undefined && parent !== '.') problems.push(`"${path}" comes before its directory "${parent}"`);
    }
    if (entry.type === 'file') {
      if (!Array.isArray(entry.chunks) || !/^[0-9a-f]{64}$/.test(entry.sha256 ?? '')) problems.push(`file "${path}" has no chunk list or hash`);
      else if (entry.chunks.some((c) => !/^[0-9a-f]{64}$/.test(c))) problems.push(`file "${path}" has a malformed chunk id`);
    } else if (entry.type === 'symlink') {
      if (typeof entry.target !== 'string' || entry.target.length === 0) problems.push(`symlink "${path}" has no target`);
    } else if (entry.type !== 'directory') {
      problems.push(`"${path}" has an unknown type`);
    }
  }
  return problems;
}
