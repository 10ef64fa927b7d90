// Verify of a chain-export backup: every stored block decodes, hashes (under the consensus rule) to what the next
// block names as its parent, commits to its transactions and withdrawals, and the files join up with each other, with
// the history they were recorded under and with the previous backup's end.
import { PluginError, type ArtifactSource, type VerifyContext, type VerifyReport } from '@chainvault/plugin-sdk';
import { blockHash, decodeBlock } from './block';
import { checkBlockBody } from './block-body';
import { hex } from './hex';
import { keccakReady } from './keccak';
import type { ChainExportMetadata, HistoryEntry } from './chain-export';
import { GENESIS_FILE } from './chain-export';
import { hashRule, type Consensus } from './config';
import { splitStream } from './rlp';

interface Link {
  number: number;
  hash: string;
}

export interface ChainCheck {
  blocks: number;
  transactions: number;
  /** The first thing wrong, naming the file and block; undefined when the segment is sound. */
  problem?: string;
  last?: Link;
}

/** Reads one export file as a stream and checks its blocks, starting after `parent` when given. */
export async function checkSegment(artifacts: ArtifactSource, entry: HistoryEntry, consensus: Consensus, parent: Link | undefined, onBlock?: (blocks: number) => void): Promise<ChainCheck> {
  const rule = hashRule(consensus);
  await keccakReady();
  const result: ChainCheck = { blocks: 0, transactions: 0 };
  let previous = parent;
  try {
    for await (const { bytes, start } of splitStream(artifacts.read(entry.file))) {
      let block;
      try {
        block = decodeBlock(bytes);
      } catch (error) {
        return { ...result, problem: `${entry.file}: the block record at byte ${start} (after block ${previous?.number ?? 'none'}) does not decode: ${(error as Error).message}` };
      }
      const number = block.header.number;
      const hash = hex(blockHash(block.header, rule));
      const expectedNumber = previous ? previous.number + 1 : entry.start_block.block;
      if (number !== expectedNumber) return { ...result, problem: `${entry.file}: block ${number} where block ${expectedNumber} should be` };
      if (previous && hex(block.header.parentHash) !== previous.hash) {
        return { ...result, problem: `${entry.file}: block ${number} has parent hash ${hex(block.header.parentHash)}, but block ${previous.number} hashes to ${previous.hash}` };
      }
      const body = checkBlockBody(block);
      if (body) return { ...result, problem: `${entry.file}: ${body}` };
      if (number === entry.start_block.block && hash !== entry.start_block.hash) {
        return { ...result, problem: `${entry.file}: block ${number} hashes to ${hash}, but the history records ${entry.start_block.hash}` };
      }
      previous = { number, hash };
      result.blocks++;
      result.transactions += block.transactions.length;
      onBlock?.(result.blocks);
    }
  } catch (error) {
    if (error instanceof PluginError) throw error;
    return { ...result, problem: `${entry.file}: ${(error as Error).message}` };
  }
  result.last = previous;
  if (!previous || previous.number !== entry.end_block.block || previous.hash !== entry.end_block.hash) {
    const found = previous ? `block ${previous.number} ${previous.hash}` : 'no block';
    return { ...result, problem: `${entry.file}: ends with ${found}, but the history records block ${entry.end_block.block} ${entry.end_block.hash}` };
  }
  return result;
}

export async function chainVerify(ctx: VerifyContext): Promise<VerifyReport> {
  const metadata = ctx.backup.metadata as unknown as ChainExportMetadata;
  if (!Array.isArray(metadata.history) || typeof metadata.consensus !== 'string') {
    return { problems: [`backup ${ctx.backup.id} has no chain-export history in its metadata`] };
  }
  const listed = await ctx.artifacts.list();
  const names = new Set(listed.map((e) => e.path));
  const problems: string[] = [];
  for (const entry of metadata.history) if (!names.has(entry.file)) problems.push(`${entry.file} is in the history but not in the backup`);
  const recorded = new Set(metadata.history.map((h) => h.file));
  for (const e of listed) if (e.path.endsWith('.rlp') && !recorded.has(e.path)) problems.push(`${e.path} is in the backup but not in its history`);
  if (metadata.genesis) {
    if (!names.has(GENESIS_FILE)) problems.push(`the backup records a genesis file, but ${GENESIS_FILE} is missing`);
    else {
      const chunks: Buffer[] = [];
      for await (const chunk of ctx.artifacts.read(GENESIS_FILE)) chunks.push(Buffer.from(chunk));
      try {
        JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (error) {
        problems.push(`${GENESIS_FILE} is not JSON: ${(error as Error).message}`);
      }
    }
  }
  if (problems.length > 0) return { problems };

  const total = metadata.blocks;
  let blocks = 0;
  let transactions = 0;
  // The first file continues the previous backup: its first block's parent is recorded in the history.
  let parent: Link | undefined =
    metadata.history.length > 0 && metadata.history[0].start_block.block > 0
      ? { number: metadata.history[0].start_block.block - 1, hash: metadata.history[0].start_block.parent_hash }
      : undefined;
  for (const entry of metadata.history) {
    ctx.signal.throwIfAborted();
    const check = await checkSegment(ctx.artifacts, entry, metadata.consensus as Consensus, parent, (n) => {
      if (n % 500 === 0) ctx.progress.update({ unit: 'blocks', done: blocks + n, total, message: `checking ${entry.file}` });
    });
    blocks += check.blocks;
    transactions += check.transactions;
    if (check.problem) return { problems: [check.problem], checked: { blocks, transactions } };
    parent = check.last;
  }
  if (metadata.history.length > 0 && parent && (parent.number !== metadata.endBlock || parent.hash !== metadata.endHash)) {
    return { problems: [`the last stored block is ${parent.number} ${parent.hash}, but the backup records its end as ${metadata.endBlock} ${metadata.endHash}`], checked: { blocks, transactions } };
  }
  ctx.progress.update({ unit: 'blocks', done: blocks, total });
  return { problems: [], checked: { blocks, transactions, files: metadata.history.length } };
}
