// The chain-export backup: the blocks after the previous run's end, up to the block every validator agrees on,
// written as RLP export files (`<ISO time>-block-<start>-<end>.rlp`), proven against the chain as they are fetched.
import { readFile } from 'node:fs/promises';
import { PluginError, type BackupContext, type BackupOutcome, type JsonObject, type NodeHandle } from '@chainvault/plugin-sdk';
import { agreeOnEnd } from './agreement';
import { BlockSource, blockHashes, type ExportMode, type FetchedBlock } from './block-source';
import { hex } from './hex';
import { hashRule, type ChainExportOptions, type EthereumNodeConfig } from './config';
import { JsonRpcClient } from './json-rpc';
import { keccakReady } from './keccak';

export const GENESIS_FILE = 'genesis.json';

/** One block at a file's boundary, as the history document records it. */
export interface BoundaryBlock {
  block: number;
  hash: string;
  parent_hash: string;
}

/** An entry of the history document: one export file. */
export interface HistoryEntry {
  file: string;
  date: string;
  canonical_chain: boolean;
  raftSwapFile: boolean;
  start_block: BoundaryBlock;
  end_block: BoundaryBlock;
}

/** What a chain-export backup records in its metadata; the next run starts from `endBlock`. */
export interface ChainExportMetadata {
  provider: string;
  consensus: string;
  chainId: number | null;
  exportedWith: ExportMode | null;
  /** First block of this backup, null when the chain had nothing new. */
  startBlock: number | null;
  /** Last block backed up so far (this run or an earlier one); null before the first block. */
  endBlock: number | null;
  endHash: string | null;
  blocks: number;
  transactions: number;
  genesis: string | null;
  monitor: string;
  validators: string[];
  history: HistoryEntry[];
}

const FLUSH_BYTES = 256 * 1024;
const DEFAULTS = { confirmations: 0, blocksPerFile: 100_000, maxWalkBack: 1_000, batchSize: 50, parallelBatches: 4 };

export function segmentFileName(date: Date, start: number, end: number): string {
  return `${date.toISOString()}-block-${start}-${end}.rlp`;
}

function client(node: NodeHandle<EthereumNodeConfig>, signal: AbortSignal): JsonRpcClient {
  return new JsonRpcClient({ name: node.name, url: node.config.rpcUrl, headers: node.config.headers, timeoutMs: node.config.timeoutMs }, signal);
}

/** The node whose head sets the end: the one with role monitor, else the first node. */
function monitorOf(nodes: NodeHandle<EthereumNodeConfig>[]): NodeHandle<EthereumNodeConfig> {
  if (nodes.length === 0) throw new PluginError('INVALID_CONFIG', 'the network has no nodes: register a monitor node (and its validators) first');
  const monitors = nodes.filter((n) => n.role === 'monitor');
  if (monitors.length > 1) throw new PluginError('INVALID_CONFIG', `the network has ${monitors.length} monitor nodes (${monitors.map((m) => m.name).join(', ')}); chain-export follows exactly one`);
  return monitors[0] ?? nodes[0];
}

function previousEnd(previous: BackupContext['previous']): { block: number; hash: string } | null {
  const metadata = previous?.metadata as Partial<ChainExportMetadata> | undefined;
  if (!metadata || metadata.endBlock === null || metadata.endBlock === undefined) return null;
  if (typeof metadata.endBlock !== 'number' || typeof metadata.endHash !== 'string') {
    throw new PluginError('INCONSISTENT', `the previous backup ${previous!.id} does not record its end block and hash; it was not made by chain-export`);
  }
  return { block: metadata.endBlock, hash: metadata.endHash };
}

export async function chainExport(ctx: BackupContext<EthereumNodeConfig, ChainExportOptions>): Promise<BackupOutcome> {
  const options = { ...DEFAULTS, ...ctx.options };
  const monitorNode = monitorOf(ctx.nodes);
  const consensus = monitorNode.config.consensus;
  const mixed = ctx.nodes.find((n) => n.config.consensus !== consensus);
  if (mixed) throw new PluginError('INVALID_CONFIG', `node ${mixed.name} is configured with consensus ${mixed.config.consensus}, but the monitor ${monitorNode.name} with ${consensus}; one network has one consensus`);
  const validatorNodes = ctx.nodes.filter((n) => n.role === 'validator' && n !== monitorNode);
  const quorum = options.validatorQuorum ?? validatorNodes.length;
  if (quorum > validatorNodes.length) throw new PluginError('INVALID_OPTIONS', `validatorQuorum is ${quorum}, but the network has ${validatorNodes.length} validators`);

  const monitor = client(monitorNode, ctx.signal);
  const validators = validatorNodes.map((n) => client(n, ctx.signal));
  const rule = hashRule(consensus);
  const prior = previousEnd(ctx.previous);
  const start = prior ? prior.block + 1 : 0;

  const [headHex, chainIdHex] = await monitor.batch<string>([
    { method: 'eth_blockNumber', params: [] },
    { method: 'eth_chainId', params: [] },
  ]);
  const head = Number(BigInt(headHex)) - options.confirmations;
  const metadata: ChainExportMetadata = {
    provider: monitorNode.config.client,
    consensus,
    chainId: chainIdHex ? Number(BigInt(chainIdHex)) : null,
    exportedWith: null,
    startBlock: null,
    endBlock: prior?.block ?? null,
    endHash: prior?.hash ?? null,
    blocks: 0,
    transactions: 0,
    genesis: null,
    monitor: monitorNode.name,
    validators: [],
    history: [],
  };
  const outcome = (): BackupOutcome => ({ metadata: metadata as unknown as JsonObject, dependsOn: ctx.previous ? [ctx.previous.id] : [] });

  if (prior) await checkContinuity(monitor, prior, head);
  if (head < start) {
    ctx.log.info(`no new blocks: the monitor ${monitorNode.name} is at block ${head + options.confirmations} and the last backup ended at ${prior?.block ?? 'none'}`);
    return outcome();
  }

  const end = await agreeOnEnd({ monitor, validators, head, lowest: prior ? prior.block : 0, maxWalkBack: options.maxWalkBack, quorum, log: ctx.log });
  metadata.validators = end.agreed;
  if (end.number < start) {
    ctx.log.info(`no new blocks agreed on: the validators agree up to block ${end.number}, where the last backup ended`);
    return outcome();
  }
  ctx.log.info(`exporting blocks ${start}-${end.number} from ${monitor.where}${validators.length ? `, agreed by ${end.agreed.join(', ')}` : ''}`);

  if (start === 0) metadata.genesis = await storeGenesis(ctx);

  await keccakReady();
  const source = new BlockSource(monitor, { consensus: rule, batchSize: options.batchSize, parallelBatches: options.parallelBatches });
  const mode = await source.detectMode(start);
  metadata.exportedWith = mode;
  ctx.log.info(mode === 'debug_getRawBlock' ? 'the node answers debug_getRawBlock: its own encoding is stored' : 'the node does not answer debug_getRawBlock: blocks are re-encoded from eth_getBlockByNumber and each hash is checked');

  const total = end.number - start + 1;
  let parent: Buffer | undefined = prior ? Buffer.from(prior.hash.slice(2), 'hex') : undefined;
  for (let first = start; first <= end.number; first += options.blocksPerFile) {
    ctx.signal.throwIfAborted();
    const last = Math.min(end.number, first + options.blocksPerFile - 1);
    const date = new Date();
    const file = segmentFileName(date, first, last);
    let firstBlock: FetchedBlock | undefined;
    let lastBlock: FetchedBlock | undefined;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const blocks = async function* (): AsyncGenerator<Uint8Array> {
      for await (const block of source.blocks(first, last, mode)) {
        if (parent && !block.parentHash.equals(parent)) {
          throw new PluginError(
            'INCONSISTENT',
            block.number === start && prior
              ? `reorg: block ${block.number} has parent hash ${hex(block.parentHash)}, but the previous backup ended at block ${prior.block} with hash ${prior.hash}`
              : `block ${block.number} has parent hash ${hex(block.parentHash)}, but block ${block.number - 1} as fetched hashes to ${hex(parent)}; the chain changed during the export`,
            { retryable: block.number !== start, details: { block: block.number } },
          );
        }
        parent = block.hash;
        firstBlock ??= block;
        lastBlock = block;
        metadata.blocks++;
        metadata.transactions += block.transactions;
        if (metadata.blocks % 100 === 0 || block.number === end.number) {
          ctx.progress.update({ unit: 'blocks', done: metadata.blocks, total, message: `exporting blocks ${first}-${last} into ${file}` });
        }
        // Blocks are handed to storage in runs of about 256 KiB: one write per block costs more than the block.
        pending.push(block.rlp);
        pendingBytes += block.rlp.length;
        if (pendingBytes >= FLUSH_BYTES) {
          yield Buffer.concat(pending);
          pending = [];
          pendingBytes = 0;
        }
      }
      if (pending.length > 0) yield Buffer.concat(pending);
    };
    await ctx.artifacts.writeFile(file, blocks(), { mtime: date });
    const boundary = (b: FetchedBlock): BoundaryBlock => ({ block: b.number, hash: hex(b.hash), parent_hash: hex(b.parentHash) });
    metadata.history.push({ file, date: date.toISOString(), canonical_chain: true, raftSwapFile: false, start_block: boundary(firstBlock!), end_block: boundary(lastBlock!) });
    metadata.startBlock ??= first;
  }

  const exportedEnd = hex(parent!);
  if (exportedEnd !== end.hash) {
    throw new PluginError('INCONSISTENT', `block ${end.number} as exported hashes to ${exportedEnd}, but the validators agreed on ${end.hash}; the chain changed during the export`, { retryable: true });
  }
  metadata.endBlock = end.number;
  metadata.endHash = exportedEnd;
  ctx.log.info(`exported ${metadata.blocks} blocks (${metadata.transactions} transactions) in ${metadata.history.length} file(s), ending at block ${end.number} ${end.hash}`);
  return outcome();
}

/** The block the previous run ended with must still be on the monitor's chain with the same hash. */
async function checkContinuity(monitor: JsonRpcClient, prior: { block: number; hash: string }, head: number): Promise<void> {
  const [onChain] = await blockHashes(monitor, [prior.block]);
  if (onChain === null) {
    throw new PluginError('INCONSISTENT', `reorg or reset: ${monitor.where} no longer has block ${prior.block}, where the previous backup ended (its head is ${head})`, { details: { block: prior.block } });
  }
  if (onChain !== prior.hash.toLowerCase()) {
    throw new PluginError(
      'INCONSISTENT',
      `reorg: block ${prior.block} is now ${onChain} on ${monitor.where}, but the previous backup ended at block ${prior.block} with hash ${prior.hash}`,
      { details: { block: prior.block, expected: prior.hash, found: onChain } },
    );
  }
}

async function storeGenesis(ctx: BackupContext<EthereumNodeConfig, ChainExportOptions>): Promise<string | null> {
  const withGenesis = ctx.nodes.find((n) => n.role === 'monitor' && n.config.genesisFile) ?? ctx.nodes.find((n) => n.config.genesisFile);
  if (!withGenesis) {
    ctx.log.warn('no node names a genesisFile: the first segment is stored without the genesis file, so a new node cannot be initialised from this backup alone');
    return null;
  }
  const path = withGenesis.config.genesisFile!;
  const content = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new PluginError('INVALID_CONFIG', `node ${withGenesis.name}: genesisFile ${path} cannot be read (${error.code ?? error.message})`);
  });
  try {
    const parsed: unknown = JSON.parse(content);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
  } catch {
    // The parser's message quotes the file; the file may be anything, so it is not repeated.
    throw new PluginError('INVALID_CONFIG', `node ${withGenesis.name}: genesisFile ${path} is not a genesis JSON object`);
  }
  await ctx.artifacts.writeFile(GENESIS_FILE, content);
  return GENESIS_FILE;
}
