// What an operator configures: the nodes (how to reach them, what they run), the chain-export policy options and the
// restore target. Schemas are what the host validates against before the plugin sees anything.
import { isAbsolute } from 'node:path';
import { PluginError, type JsonSchema } from '@chainvault/plugin-sdk';
import type { ConsensusKind } from './block';

export const CLIENTS = ['geth', 'quorum', 'besu'] as const;
export type EthereumClient = (typeof CLIENTS)[number];
/** raft (GoQuorum) and ethash/clique/pos blocks hash the whole header; the BFT families leave out their seals. */
export const CONSENSUS = ['ethash', 'clique', 'ibft2', 'qbft', 'istanbul', 'raft', 'pos'] as const;
export type Consensus = (typeof CONSENSUS)[number];

export interface EthereumNodeConfig {
  /** JSON-RPC over HTTP(S). */
  rpcUrl: string;
  /** Extra HTTP headers (an Authorization token, say); secret. */
  headers?: Record<string, string>;
  client: EthereumClient;
  consensus: Consensus;
  /** The chain's genesis file on the chainvault host, stored with the first segment. */
  genesisFile?: string;
  /** Per-request timeout. Default 30 s. */
  timeoutMs?: number;
  /** As a restore target: where the segment files go. */
  restorePath?: string;
  /** As a restore target: the client's import command; `{files}` stands for every file in order, `{file}` runs it once per file. */
  importCommand?: string[];
}

export interface ChainExportOptions {
  /** Blocks below the monitor's head left for the next run, so a shallow reorg cannot reach exported blocks. */
  confirmations?: number;
  /** At most this many blocks per file. Default 100,000. */
  blocksPerFile?: number;
  /** How far the end block may walk back while the validators disagree. Default 1,000. */
  maxWalkBack?: number;
  /** How many validators must answer and agree; default every validator. */
  validatorQuorum?: number;
  /** Blocks per JSON-RPC batch. Default 50. */
  batchSize?: number;
  /** Batches in flight at once. Default 4. */
  parallelBatches?: number;
}

export interface ChainRestoreOptions {
  /** The lowest block wanted; the file holding it is the first restored. Default: 0. */
  fromBlock?: number;
  /** The highest block wanted. Default: the backup's end block. */
  toBlock?: number;
}

export interface ChainRestoreTarget {
  path: string;
  importCommand?: string[];
}

const command: JsonSchema = {
  type: 'array',
  minItems: 1,
  items: { type: 'string', minLength: 1 },
  description: 'The client\'s import command, e.g. ["geth", "--datadir", "/data", "import", "{files}"] or ["besu", "--data-path=/data", "blocks", "import", "--from={file}"].',
};

export const nodeConfigSchema: JsonSchema = {
  type: 'object',
  properties: {
    rpcUrl: { type: 'string', pattern: '^https?://', description: 'The node\'s JSON-RPC endpoint (http or https).' },
    headers: { type: 'object', additionalProperties: { type: 'string' }, writeOnly: true, description: 'HTTP headers sent with every request, e.g. Authorization.' },
    client: { type: 'string', enum: [...CLIENTS] },
    consensus: { type: 'string', enum: [...CONSENSUS] },
    genesisFile: { type: 'string', minLength: 1, description: 'Absolute path of the genesis file, backed up with the first segment.' },
    timeoutMs: { type: 'integer', minimum: 100, maximum: 600_000 },
    restorePath: { type: 'string', minLength: 1, description: 'As a restore target: the directory the segment files are written to.' },
    importCommand: command,
  },
  required: ['rpcUrl', 'client', 'consensus'],
  additionalProperties: false,
};

export const chainExportOptionsSchema: JsonSchema = {
  type: 'object',
  properties: {
    confirmations: { type: 'integer', minimum: 0, maximum: 100_000 },
    blocksPerFile: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    maxWalkBack: { type: 'integer', minimum: 0, maximum: 1_000_000 },
    validatorQuorum: { type: 'integer', minimum: 1 },
    batchSize: { type: 'integer', minimum: 1, maximum: 1000 },
    parallelBatches: { type: 'integer', minimum: 1, maximum: 32 },
  },
  additionalProperties: false,
};

export const restoreOptionsSchema: JsonSchema = {
  type: 'object',
  properties: {
    fromBlock: { type: 'integer', minimum: 0 },
    toBlock: { type: 'integer', minimum: 0 },
  },
  additionalProperties: false,
};

export const restoreTargetSchema: JsonSchema = {
  type: 'object',
  properties: {
    path: { type: 'string', minLength: 1, description: 'The directory the segment files are written to: absolute, empty or not yet there.' },
    importCommand: command,
  },
  required: ['path'],
  additionalProperties: false,
};

/** How block hashes are computed for a consensus: raft blocks are hashed like any proof-of-work header. */
export function hashRule(consensus: Consensus): ConsensusKind {
  return consensus === 'raft' ? 'ethash' : consensus;
}

export function checkNodeConfig(config: EthereumNodeConfig): void {
  let url: URL;
  try {
    url = new URL(config.rpcUrl);
  } catch {
    throw new PluginError('INVALID_CONFIG', `rpcUrl "${config.rpcUrl}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new PluginError('INVALID_CONFIG', `rpcUrl must use http or https, got ${url.protocol}`);
  if (config.genesisFile !== undefined && !isAbsolute(config.genesisFile)) throw new PluginError('INVALID_CONFIG', `genesisFile must be an absolute path, got "${config.genesisFile}"`);
  if (config.restorePath !== undefined && !isAbsolute(config.restorePath)) throw new PluginError('INVALID_CONFIG', `restorePath must be an absolute path, got "${config.restorePath}"`);
  if (config.importCommand) checkImportCommand(config.importCommand, 'INVALID_CONFIG');
}

export function checkImportCommand(commandLine: string[], code: 'INVALID_CONFIG' | 'INVALID_TARGET'): void {
  const placeholders = commandLine.filter((arg) => arg.includes('{files}') || arg.includes('{file}'));
  if (placeholders.length !== 1) {
    throw new PluginError(code, `importCommand needs exactly one argument with {files} (all files) or {file} (once per file), found ${placeholders.length}: ${JSON.stringify(commandLine)}`);
  }
  if (placeholders[0].includes('{files}') && placeholders[0] !== '{files}') {
    throw new PluginError(code, `{files} must be an argument of its own (it becomes one argument per file), got "${placeholders[0]}"`);
  }
}
