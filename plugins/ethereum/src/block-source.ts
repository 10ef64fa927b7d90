// Blocks fetched from a node in number order, as the RLP bytes an export file holds, each one proven before it is
// handed on: its header hash (under the chain's consensus rule) and its transactions and withdrawals roots.
import { PluginError } from '@chainvault/plugin-sdk';
import { blockHash, decodeBlock, decodeHeader, type ConsensusKind } from './block';
import { checkBlockBody } from './block-body';
import { ChainDecodeError } from './chain-decode.errors';
import { blockFromJson, dataBytes, JsonBlockError, type JsonObject } from './json-block';
import { hex, toHex } from './hex';
import type { JsonRpcClient } from './json-rpc';
import { firstElement } from './rlp';

export interface FetchedBlock {
  number: number;
  rlp: Buffer;
  hash: Buffer;
  parentHash: Buffer;
  transactions: number;
}

export interface BlockSourceOptions {
  consensus: ConsensusKind;
  batchSize: number;
  parallelBatches: number;
}


/** How the blocks are obtained: the node's own encoding, or re-encoded from its JSON. */
export type ExportMode = 'debug_getRawBlock' | 'eth_getBlockByNumber';

export class BlockSource {
  constructor(
    private readonly client: JsonRpcClient,
    private readonly options: BlockSourceOptions,
  ) {}

  /** Geth and Besu answer debug_getRawBlock (asked here for block `probe`) with the exact bytes; Hardhat, ganache and locked-down nodes do not. */
  async detectMode(probe: number): Promise<ExportMode> {
    try {
      const raw = await this.client.call<unknown>('debug_getRawBlock', [toHex(probe)]);
      return typeof raw === 'string' && raw.length > 2 ? 'debug_getRawBlock' : 'eth_getBlockByNumber';
    } catch (error) {
      if (error instanceof PluginError && (error.code === 'UNREACHABLE' || error.code === 'TIMEOUT' || error.code === 'ABORTED')) throw error;
      return 'eth_getBlockByNumber';
    }
  }

  /**
   * Blocks `from` to `to` in order. Up to `parallelBatches` batches of `batchSize` blocks are
   * requested at once, so the node is never idle while blocks are encoded and stored.
   */
  async *blocks(from: number, to: number, mode: ExportMode): AsyncGenerator<FetchedBlock> {
    const { batchSize, parallelBatches } = this.options;
    const inFlight: Promise<FetchedBlock[]>[] = [];
    let next = from;
    const launch = () => {
      if (next > to) return;
      const first = next;
      const last = Math.min(to, first + batchSize - 1);
      next = last + 1;
      const batch = mode === 'debug_getRawBlock' ? this.rawBatch(first, last) : this.jsonBatch(first, last);
      batch.catch(() => undefined); // awaited in order below; this only keeps a later batch's failure from going unhandled meanwhile
      inFlight.push(batch);
    };
    for (let i = 0; i < parallelBatches; i++) launch();
    while (inFlight.length > 0) {
      const batch = await inFlight.shift()!;
      launch();
      yield* batch;
    }
  }

  private numbers(first: number, last: number): number[] {
    return Array.from({ length: last - first + 1 }, (_, i) => first + i);
  }

  private missing(number: number): PluginError {
    return new PluginError('INCONSISTENT', `${this.client.where} has no block ${number} although it reported it before; the node may have been reset or rolled back`, { retryable: true });
  }

  private async rawBatch(first: number, last: number): Promise<FetchedBlock[]> {
    const numbers = this.numbers(first, last);
    const raws = await this.client.batch<string | null>(numbers.map((n) => ({ method: 'debug_getRawBlock', params: [toHex(n)] })));
    return raws.map((raw, i) => {
      if (!raw) throw this.missing(numbers[i]);
      const rlp = dataBytes(raw, `block ${numbers[i]}`);
      return this.proven(numbers[i], () => {
        const block = decodeBlock(rlp);
        return { block, rlp };
      });
    });
  }

  private async jsonBatch(first: number, last: number): Promise<FetchedBlock[]> {
    const numbers = this.numbers(first, last);
    const jsons = await this.client.batch<JsonObject | null>(numbers.map((n) => ({ method: 'eth_getBlockByNumber', params: [toHex(n), true] })));
    const uncleCalls = jsons.flatMap((json, i) => {
      if (!json) throw this.missing(numbers[i]);
      const uncles = Array.isArray(json.uncles) ? json.uncles : [];
      return uncles.map((_, u) => ({ method: 'eth_getUncleByBlockNumberAndIndex', params: [toHex(numbers[i]), toHex(u)] }));
    });
    const uncleHeaders = await this.client.batch<JsonObject | null>(uncleCalls);
    let u = 0;
    return jsons.map((json, i) => {
      const block = json!;
      const count = Array.isArray(block.uncles) ? block.uncles.length : 0;
      const uncles = uncleHeaders.slice(u, (u += count));
      if (uncles.some((h) => !h)) throw this.missing(numbers[i]);
      const fetched = this.proven(numbers[i], () => {
        const encoded = blockFromJson(block, uncles as JsonObject[]);
        const { transactions, ommers, withdrawals } = encoded;
        return { block: { header: decodeHeader(encoded.headerFields), transactions, ommers, ...(withdrawals ? { withdrawals } : {}) }, rlp: encoded.rlp };
      });
      const reported = dataBytes(block.hash, `block ${numbers[i]} hash`);
      if (!fetched.hash.equals(reported)) {
        throw new PluginError(
          'INCONSISTENT',
          `block ${numbers[i]} re-encoded from ${this.client.where} hashes to ${hex(fetched.hash)} under the ${this.options.consensus} rule, but the node reports ${hex(reported)}; check the node's consensus setting`,
          { details: { block: numbers[i] } },
        );
      }
      return fetched;
    });
  }

  private proven(number: number, build: () => { block: ReturnType<typeof decodeBlock>; rlp: Buffer }): FetchedBlock {
    let built: { block: ReturnType<typeof decodeBlock>; rlp: Buffer };
    try {
      built = build();
    } catch (error) {
      if (error instanceof JsonBlockError || error instanceof ChainDecodeError) {
        throw new PluginError('INCONSISTENT', `block ${number} from ${this.client.where} cannot be encoded faithfully: ${error.message}`, { details: { block: number } });
      }
      throw error;
    }
    let hash: Buffer;
    try {
      hash = blockHash(built.block.header, this.options.consensus, firstElement(built.rlp));
    } catch (error) {
      if (!(error instanceof ChainDecodeError)) throw error;
      throw new PluginError('INCONSISTENT', `block ${number} from ${this.client.where} cannot be hashed under the ${this.options.consensus} rule (${error.message}); check the node's consensus setting`, {
        details: { block: number },
      });
    }
    const { block, rlp } = built;
    if (block.header.number !== number) throw new PluginError('INCONSISTENT', `${this.client.where} answered block ${block.header.number} when asked for block ${number}`);
    const problem = checkBlockBody(block);
    if (problem) throw new PluginError('INCONSISTENT', `${problem} (from ${this.client.where})`, { details: { block: number } });
    return { number, rlp, hash, parentHash: block.header.parentHash, transactions: block.transactions.length };
  }
}

/** The hash the node reports for each block number, null where it has no such block. */
export async function blockHashes(client: JsonRpcClient, numbers: readonly number[]): Promise<(string | null)[]> {
  const headers = await client.batch<JsonObject | null>(numbers.map((n) => ({ method: 'eth_getBlockByNumber', params: [toHex(n), false] })));
  return headers.map((h) => (h && typeof h.hash === 'string' ? h.hash.toLowerCase() : null));
}
