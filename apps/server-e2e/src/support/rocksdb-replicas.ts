/**
 * Replicas for the RocksDB plugin's tests: the plugin's replica stand-in (native/replica-standin.cc,
 * standing in for a Concord replica, which cannot run here) holding a real RocksDB database open
 * and writing block-numbered keys, started and stopped with commands as an operator would.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const NATIVE = resolve(dirname(require.resolve('@chainvault/plugin-rocksdb/package.json')), 'dist', 'native');
export const TOOL = join(NATIVE, 'chainvault-rocksdb');
export const REPLICA = join(NATIVE, 'replica-standin');
export const BLOCK_PREFIX = 'block/';

export interface Replica {
  dataDirectory: string;
  pidFile: string;
  logFile: string;
  /** The start and stop commands an operator would configure on the node. */
  start: string[];
  stop: string[];
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** A replica whose database is `<root>/db` (with `flags` for the stand-in: rate, checkpoints). */
export async function replica(root: string, flags: string[] = []): Promise<Replica> {
  await mkdir(root, { recursive: true });
  const dataDirectory = join(root, 'db');
  const pidFile = join(root, 'replica.pid');
  const logFile = join(root, 'replica.log');
  const argv = [REPLICA, '--db', dataDirectory, '--pid-file', pidFile, ...flags].map(quote).join(' ');
  return {
    dataDirectory,
    pidFile,
    logFile,
    // Started in its own session, so it outlives the command that started it; the command returns once the database is open.
    start: ['sh', '-c', `[ -s ${quote(pidFile)} ] && kill -0 "$(cat ${quote(pidFile)})" 2>/dev/null && exit 0; setsid ${argv} >> ${quote(logFile)} 2>&1 < /dev/null & i=0; while [ ! -s ${quote(pidFile)} ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; [ -s ${quote(pidFile)} ]`],
    stop: ['sh', '-c', `[ -s ${quote(pidFile)} ] || exit 0; pid=$(cat ${quote(pidFile)}); kill "$pid" 2>/dev/null; while kill -0 "$pid" 2>/dev/null && [ "$(cut -d' ' -f3 /proc/$pid/stat 2>/dev/null)" != Z ]; do sleep 0.05; done; rm -f ${quote(pidFile)}`],
  };
}

export async function startReplica(r: Replica): Promise<void> {
  await run(r.start[0], r.start.slice(1));
}

export async function stopReplica(r: Replica): Promise<void> {
  await run(r.stop[0], r.stop.slice(1));
}

export function replicaRunning(r: Replica): boolean {
  if (!existsSync(r.pidFile)) return false;
  try {
    process.kill(Number(readFileSync(r.pidFile, 'utf8').trim()), 0);
    return true;
  } catch {
    return false;
  }
}

/** What the native tool reads of a database (read-only: works while the replica holds it). */
export async function tool(args: string[]): Promise<Record<string, any>> {
  const { stdout } = await run(TOOL, args, { maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout);
}

/** The block keys a database holds: first, last, count, whether contiguous, and values that are not the replica's. */
export function scanBlocks(directory: string): Promise<{ first: number; last: number; count: number; contiguous: boolean; badValues: number }> {
  return tool(['scan-blocks', directory, '--block-prefix', BLOCK_PREFIX]) as never;
}

/** The last block the live database holds (-1 while a read-only open loses a race with a compaction, or before it exists). */
export async function lastBlock(directory: string): Promise<number> {
  try {
    return (await tool(['inspect', directory, '--block-prefix', BLOCK_PREFIX])).lastBlock ?? -1;
  } catch {
    return -1;
  }
}
