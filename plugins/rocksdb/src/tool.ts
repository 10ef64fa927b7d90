/**
 * The plugin's native tool (native/chainvault-rocksdb.cc, built against the machine's RocksDB):
 * opens a database read-only, reads its last block and sequence number, and checks every SST's
 * block checksums. It runs on the chainvault host, on copies the plugin made there.
 */
import { PluginError, type CommandRunner } from '@chainvault/plugin-sdk';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface LiveFile {
  name: string;
  size: number;
  columnFamily: string;
  level: number;
}

export interface DatabaseFacts {
  rocksdbVersion: string;
  sequence: number;
  lastBlock: number | null;
  lastKey: string | null;
  columnFamilies: string[];
  liveFiles: LiveFile[];
  manifest: string;
  keys: number;
  checkedFiles?: number;
}

export interface BlockOptions {
  blockKeyPrefix?: string;
  blockColumnFamily?: string;
  /** Fail unless the database holds exactly this last block. */
  expectBlock?: number;
}

/** Where the built tool is: dist/native next to the compiled plugin. */
export function toolPath(): string {
  return join(__dirname, 'native', 'chainvault-rocksdb');
}

function toolOrThrow(): string {
  const path = toolPath();
  if (!existsSync(path)) {
    throw new PluginError('FAILED', `the rocksdb plugin's native tool is missing (${path}): build the plugin with the Debian package librocksdb-dev installed (npm run build)`);
  }
  return path;
}

function blockArgs(options: BlockOptions): string[] {
  return [
    ...(options.blockKeyPrefix ? ['--block-prefix', options.blockKeyPrefix] : []),
    ...(options.blockColumnFamily ? ['--column-family', options.blockColumnFamily] : []),
    ...(options.expectBlock !== undefined ? ['--expect-block', String(options.expectBlock)] : []),
  ];
}

async function runTool(commands: CommandRunner, args: string[], what: string): Promise<DatabaseFacts> {
  const result = await commands.run(toolOrThrow(), args, { okExitCodes: [0, 2, 3], timeoutMs: 6 * 60 * 60 * 1000 });
  if (result.exitCode !== 0) {
    const message = result.stderr.trim().split('\n').pop() || `exit code ${result.exitCode}`;
    const format = /unsupported format_version: (\d+)/.exec(message);
    if (format) {
      // Measured: RocksDB 10 writes format_version 6 by default, which the RocksDB 7.8 of Debian 12 cannot read.
      throw new PluginError(
        'FAILED',
        `${what}: it was written by a newer RocksDB (format_version ${format[1]}) than the plugin's native tool reads; build the plugin against a librocksdb at least as new as the node's (${message})`,
      );
    }
    throw new PluginError(result.exitCode === 3 ? 'INCONSISTENT' : 'CORRUPT', `${what}: ${message}`, { details: { exitCode: result.exitCode } });
  }
  try {
    return JSON.parse(result.stdout) as DatabaseFacts;
  } catch {
    throw new PluginError('FAILED', `${what}: the native tool printed something that is not JSON: ${result.stdout.slice(0, 200)}`);
  }
}

/** Opens the database at `directory` read-only (its WAL replayed in memory; nothing is written there) and says what it holds. */
export function inspectDatabase(commands: CommandRunner, directory: string, options: BlockOptions = {}): Promise<DatabaseFacts> {
  return runTool(commands, ['inspect', directory, ...blockArgs(options)], `RocksDB could not open ${directory}`);
}

/** Everything `inspectDatabase` does, plus RocksDB's check of every SST block checksum and of the file list against the MANIFEST. */
export function verifyDatabase(commands: CommandRunner, directory: string, options: BlockOptions = {}): Promise<DatabaseFacts> {
  return runTool(commands, ['verify', directory, ...blockArgs(options)], `RocksDB's check of ${directory} failed`);
}

/** The block id a database's facts stand for: its last block, or its sequence number when it has no block keys. */
export function blockIdOf(facts: DatabaseFacts): number {
  return facts.lastBlock ?? facts.sequence;
}
