/**
 * Checkpoints on the node's machine, in Concord's layout (`<checkpointPath>/<lastBlockId>`):
 * listing them, telling complete from partial, making one of a live database another process
 * holds open, and removing the oldest. Everything runs through the machine (local or SSH), with
 * POSIX tools only.
 */
import { PluginError, type Machine, type MachineEntry } from '@chainvault/plugin-sdk';
import { dirname, isAbsolute, join, normalize, posix } from 'node:path';
import type { CheckpointOptions, RocksdbNodeConfig } from './config';

export interface NodeCheckpoint {
  /** The folder's name: the last block id. */
  id: number;
  path: string;
  /** It has CURRENT and the MANIFEST CURRENT names: RocksDB can open it. */
  complete: boolean;
  /** Why it is not complete. */
  missing?: string;
  createdAt: Date;
  sizeBytes: number;
}

/** A folder name Concord gives a checkpoint: the last block id, digits only. */
const CHECKPOINT_NAME = /^\d{1,19}$/;
/** Folders chainvault writes a checkpoint into before it knows the block id. */
export const WORK_PREFIX = '.chainvault-checkpoint-';

/** Where the node's checkpoints are: its own checkpointPath, or the policy's db_checkpoint_path (relative to the data directory's parent, as Concord's /mnt/data). */
export function checkpointPathOf(config: RocksdbNodeConfig, options: CheckpointOptions): string {
  if (config.checkpointPath) return normalize(config.checkpointPath);
  const path = options.db_checkpoint_path;
  return normalize(isAbsolute(path) ? path : join(dirname(normalize(config.dataDirectory)), path));
}

function isInside(path: string, folder: string): boolean {
  const rel = posix.relative(folder, path);
  return rel !== '' && !rel.startsWith('..') && !posix.isAbsolute(rel);
}

/** Checks the data directory is a RocksDB database and the checkpoint folder is usable; creates the latter only inside the data directory (Concord's layout). */
export async function checkNodeLayout(machine: Machine, config: RocksdbNodeConfig, checkpointPath: string): Promise<void> {
  const data = await machine.stat(config.dataDirectory);
  if (!data) throw new PluginError('INVALID_CONFIG', `the data directory ${config.dataDirectory} does not exist on ${machine.name}`);
  if (data.type !== 'directory') throw new PluginError('INVALID_CONFIG', `the data directory ${config.dataDirectory} on ${machine.name} is not a folder`);
  if (!(await machine.stat(join(config.dataDirectory, 'CURRENT')))) {
    throw new PluginError('INVALID_CONFIG', `${config.dataDirectory} on ${machine.name} is not a RocksDB database: it has no CURRENT file`);
  }
  const folder = await machine.stat(checkpointPath);
  if (folder && folder.type !== 'directory') throw new PluginError('INVALID_CONFIG', `the checkpoint path ${checkpointPath} on ${machine.name} is not a folder`);
  if (!folder) {
    if (!isInside(checkpointPath, normalize(config.dataDirectory))) {
      throw new PluginError('INVALID_CONFIG', `the checkpoint path ${checkpointPath} does not exist on ${machine.name}; create it, or set the node's checkpointPath or the policy's db_checkpoint_path`);
    }
    await machine.run(['mkdir', '-p', '--', checkpointPath]);
  }
}

/** The node's checkpoints, oldest first; partial ones (still being written) are listed as such. */
export async function listCheckpoints(machine: Machine, checkpointPath: string): Promise<NodeCheckpoint[]> {
  if (!(await machine.stat(checkpointPath))) return [];
  const found: NodeCheckpoint[] = [];
  for (const entry of await machine.list(checkpointPath)) {
    if (entry.type !== 'directory' || !CHECKPOINT_NAME.test(entry.name)) continue;
    const path = join(checkpointPath, entry.name);
    const files = await machine.list(path).catch(() => [] as MachineEntry[]);
    const names = new Set(files.map((f) => f.name));
    let missing: string | undefined;
    if (!names.has('CURRENT')) missing = 'no CURRENT file';
    else {
      const current = await machine.readFile(join(path, 'CURRENT')).catch(() => null);
      if (!current) continue; // removed by the node while it was listed
      const manifest = current.toString('utf8').trim();
      if (!/^MANIFEST-\d+$/.test(manifest)) missing = `CURRENT names "${manifest.slice(0, 40)}", not a MANIFEST`;
      else if (!names.has(manifest)) missing = `no ${manifest}`;
    }
    found.push({
      id: Number(entry.name),
      path,
      complete: missing === undefined,
      ...(missing ? { missing } : {}),
      createdAt: entry.mtime,
      sizeBytes: files.filter((f) => f.type === 'file').reduce((sum, f) => sum + f.size, 0),
    });
  }
  return found.sort((a, b) => a.id - b.id);
}

/**
 * Copies a live database's files into `out` on its machine without stopping it: SST files
 * (immutable) are hard-linked, the write-ahead logs, the MANIFEST CURRENT names, CURRENT, the
 * newest OPTIONS and IDENTITY are copied. The MANIFEST is taken as it was before the logs were
 * copied (its length then), so every flush it records is older than the logs copied after it and
 * no column family is ahead of another; SSTs a flush or compaction made meanwhile are linked
 * after it. Exit 75: the database moved under the copy (a new MANIFEST); try again. Whether the
 * copy opens is proven afterwards with RocksDB itself.
 */
const LIVE_COPY_SCRIPT = `
set -u
db=$1; out=$2
[ -f "$db/CURRENT" ] || { echo "$db has no CURRENT file: not a RocksDB database" >&2; exit 3; }
rm -rf -- "$out" && mkdir -p -- "$out" || exit 4
link() { ln -- "$1" "$out/" 2>/dev/null || cp -p -- "$1" "$out/" 2>/dev/null || [ ! -e "$1" ]; }
for f in "$db"/*.sst; do [ -e "$f" ] || continue; link "$f" || exit 4; done
manifest=$(cat "$db/CURRENT") || exit 75
size=$(wc -c < "$db/$manifest" 2>/dev/null) || exit 75
size=$((size))
for f in "$db"/*.log; do [ -e "$f" ] || continue; cp -p -- "$f" "$out/" 2>/dev/null || [ ! -e "$f" ] || exit 4; done
head -c "$size" "$db/$manifest" > "$out/$manifest" 2>/dev/null || exit 75
[ "$(($(wc -c < "$out/$manifest")))" -eq "$size" ] || exit 75
printf '%s\\n' "$manifest" > "$out/CURRENT" || exit 4
[ "$(cat "$db/CURRENT")" = "$manifest" ] || exit 75
for f in "$db"/*.sst; do [ -e "$f" ] || continue; [ -e "$out/\${f##*/}" ] && continue; link "$f" || exit 4; done
options=$(ls -- "$db" | grep '^OPTIONS-[0-9]*$' | sort | tail -n 1)
[ -z "$options" ] || cp -p -- "$db/$options" "$out/" 2>/dev/null || true
[ ! -f "$db/IDENTITY" ] || cp -p -- "$db/IDENTITY" "$out/" || true
exit 0
`;

/** Makes a copy of the live database in `out` (see LIVE_COPY_SCRIPT); true when it was made, false when the database moved under it. */
export async function copyLiveDatabase(machine: Machine, dataDirectory: string, out: string): Promise<boolean> {
  const result = await machine.run([LIVE_COPY_SCRIPT, dataDirectory, out], { shell: true, okExitCodes: [0, 75], timeoutMs: 30 * 60 * 1000, logged: false });
  return result.exitCode === 0;
}

/** Removes a checkpoint folder, which must lie inside the checkpoint path. */
export async function removeCheckpoint(machine: Machine, checkpointPath: string, path: string): Promise<void> {
  if (!isInside(normalize(path), normalize(checkpointPath))) throw new PluginError('FAILED', `refusing to remove ${path}: it is not inside the checkpoint path ${checkpointPath}`);
  await machine.run(['rm', '-rf', '--', path], { logged: false });
}

/** Removes SST files a copy holds that its MANIFEST does not list (compaction inputs linked before the MANIFEST was copied). */
export async function removeUnlisted(machine: Machine, folder: string, live: Set<string>): Promise<string[]> {
  const extra = (await machine.list(folder)).filter((e) => e.name.endsWith('.sst') && !live.has(e.name)).map((e) => e.name);
  if (extra.length > 0) await machine.run(['rm', '-f', '--', ...extra.map((name) => join(folder, name))], { logged: false });
  return extra;
}

export interface DiskFacts {
  /** Bytes of the database's own files (its top-level files: checkpoints in subfolders are not counted). */
  databaseBytes: number;
  /** Bytes free on the file system of the checkpoint path. */
  freeBytes: number;
}

/** How big the database is and how much space the checkpoint path's file system has left. */
export async function diskFacts(machine: Machine, dataDirectory: string, checkpointPath: string): Promise<DiskFacts> {
  const databaseBytes = (await machine.list(dataDirectory)).filter((e) => e.type === 'file').reduce((sum, e) => sum + e.size, 0);
  const df = await machine.run(['df', '-Pk', '--', checkpointPath], { logged: false });
  const fields = df.stdout.trim().split('\n').pop()?.trim().split(/\s+/) ?? [];
  const availableKb = Number(fields[3]);
  if (!Number.isFinite(availableKb)) throw new PluginError('FAILED', `could not read the free space of ${checkpointPath} on ${machine.name} from df: ${df.stdout.slice(0, 200)}`);
  return { databaseBytes, freeBytes: availableKb * 1024 };
}

/** Bytes a live copy costs on the node beyond its hard links: the logs and the MANIFEST it copies. */
export async function copiedBytes(machine: Machine, dataDirectory: string): Promise<number> {
  return (await machine.list(dataDirectory)).filter((e) => e.type === 'file' && (e.name.endsWith('.log') || e.name.startsWith('MANIFEST-'))).reduce((sum, e) => sum + e.size, 0);
}
