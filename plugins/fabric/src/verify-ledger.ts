// Verification of a peer's block store from the ledger itself, block by block, with the checks
// of `ledgerutil verify` (DataHash and PreviousHash per block, messages included) plus the
// structural ones it leaves to the block store: numbering from 0 (or from the snapshot a peer
// joined from) without gaps, files that end inside a record, and a genesis block that is a
// channel configuration.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  blockStoreDir,
  BlockFileError,
  listBlockFiles,
  readBlockFile,
  readBootstrappingSnapshotInfo,
  type FabricBlock,
} from './blockfile';
import { decodeConfigTransaction, decodeEnvelopeHeader, effectiveConfig, type ChannelConfigSummary } from './config-block';
import { blockDataHash, blockHeaderHash, transactionsWellFormedError } from './hashes';
import { common } from '@hyperledger/fabric-protos';

/** ledgerutil's messages, kept verbatim so results can be compared with `ledgerutil verify`. */
export const DATA_HASH_MISMATCH = 'DataHash mismatch';
export const PREVIOUS_HASH_MISMATCH = 'PreviousHash mismatch';

export interface LedgerProblem {
  /** Block file the fault is in. */
  file: string;
  /** Number of the faulty block; for a damaged record, the number the block there should have had. */
  block: number;
  /** Offset of the block's record (its length prefix) in the file. */
  offset: number;
  what: string;
  /** Expected and found values, when the fault is a mismatch. */
  detail?: string;
}

export interface ChannelReport {
  channel: string;
  /** The channel's block files, in order. */
  files: string[];
  blocks: number;
  /** Transaction envelopes in the blocks' data. */
  transactions: number;
  firstBlock?: number;
  lastBlock?: number;
  /** Header hash of the last block (hex), the value the next block must link to. */
  lastBlockHash?: string;
  /** Present when the peer joined the channel from a snapshot (bootstrappingSnapshot.info). */
  bootstrappedFromSnapshot?: { lastBlockNum: number; lastBlockHash: string };
  /** The channel configuration of the genesis block, when the channel starts at block 0. */
  genesis?: ChannelConfigSummary;
  ok: boolean;
  problems: LedgerProblem[];
  /** "<channel>: <file> block <n>: <what>" for the first problem. */
  firstProblem?: string;
}

export interface LedgerReport {
  ledgersDir: string;
  channels: ChannelReport[];
  ok: boolean;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function isConfigBlock(block: FabricBlock): boolean {
  if (block.data.length !== 1) return false;
  try {
    return decodeEnvelopeHeader(block.data[0]).type === common.HeaderType.CONFIG;
  } catch {
    return false;
  }
}

/** The checks of `ledgerutil verify` for one block, with its messages and in its order. */
export function checkBlockHashes(block: FabricBlock, previousHeaderHash: Buffer | undefined): { what: string; detail?: string }[] {
  const errors: { what: string; detail?: string }[] = [];
  // Fabric's BlockDataHash refuses blocks whose envelopes are not canonically encoded; it then
  // yields no hash at all, so the header's DataHash cannot match either.
  const malformed = transactionsWellFormedError(block.data, isConfigBlock(block));
  const computed = blockDataHash(block.data);
  if (malformed) errors.push({ what: malformed });
  if (malformed || !computed.equals(block.dataHash)) {
    errors.push({
      what: DATA_HASH_MISMATCH,
      detail: malformed
        ? `Fabric computes no data hash for non-canonical envelopes (SHA-256 of the raw data is ${hex(computed)}, header says ${hex(block.dataHash)})`
        : `header says ${hex(block.dataHash)}, the data hashes to ${hex(computed)}`,
    });
  }
  if (previousHeaderHash && !previousHeaderHash.equals(block.previousHash)) {
    errors.push({
      what: PREVIOUS_HASH_MISMATCH,
      detail: `header says ${hex(block.previousHash) || '(empty)'}, the previous header hashes to ${hex(previousHeaderHash)}`,
    });
  }
  return errors;
}

/** Verifies one channel directory (<ledgersData>/chains/chains/<channel>). */
export async function verifyChannel(channelDir: string, channel: string): Promise<ChannelReport> {
  const report: ChannelReport = { channel, files: [], blocks: 0, transactions: 0, ok: true, problems: [] };
  const add = (problem: LedgerProblem): void => {
    report.problems.push(problem);
  };

  const snapshot = await readBootstrappingSnapshotInfo(channelDir);
  let expected = 0;
  let previousHeaderHash: Buffer | undefined;
  if (snapshot) {
    expected = snapshot.lastBlockNum + 1;
    previousHeaderHash = snapshot.lastBlockHash.length > 0 ? snapshot.lastBlockHash : undefined;
    report.bootstrappedFromSnapshot = { lastBlockNum: snapshot.lastBlockNum, lastBlockHash: hex(snapshot.lastBlockHash) };
  }

  const files = await listBlockFiles(channelDir);
  report.files = files.map((f) => f.name);
  if (files.length === 0) {
    add({ file: '', block: expected, offset: 0, what: 'the channel directory holds no block file' });
  }
  for (let i = 0; i < files.length; i++) {
    if (files[i].suffix !== i) {
      add({ file: files[i].name, block: expected, offset: 0, what: `block file suffixes are not contiguous: expected blockfile_${String(i).padStart(6, '0')}` });
      break;
    }
  }

  for (const file of files) {
    try {
      for await (const record of readBlockFile(file.path, file.name)) {
        const { block } = record;
        const at = { file: record.file, block: block.number, offset: record.offset };
        if (block.number !== expected) {
          add({
            ...at,
            what:
              block.number > expected
                ? `${block.number - expected === 1 ? `block ${expected} is` : `blocks ${expected}…${block.number - 1} are`} missing: expected block ${expected}, found block ${block.number}`
                : `expected block ${expected}, found block ${block.number} again or out of order`,
          });
          // A gap breaks the hash chain by definition; do not report it a second time.
          previousHeaderHash = undefined;
        }
        for (const e of checkBlockHashes(block, previousHeaderHash)) add({ ...at, ...e });

        if (block.number === 0) {
          try {
            const config = decodeConfigTransaction(block.data[0] ?? new Uint8Array(0));
            report.genesis = config;
            const channelOfGenesis = effectiveConfig(config).channel;
            if (channelOfGenesis !== channel) {
              add({ ...at, what: `the genesis block configures channel "${channelOfGenesis}", not "${channel}"` });
            }
          } catch (error) {
            add({ ...at, what: `the genesis block is not a channel configuration: ${(error as Error).message}` });
          }
        }

        report.blocks += 1;
        report.transactions += block.data.length;
        report.firstBlock ??= block.number;
        report.lastBlock = block.number;
        previousHeaderHash = blockHeaderHash(block);
        report.lastBlockHash = previousHeaderHash.toString('hex');
        expected = block.number + 1;
      }
    } catch (error) {
      if (!(error instanceof BlockFileError)) throw error;
      add({ file: error.file, block: expected, offset: error.offset, what: error.message });
      // The next file (if any) goes on from where this one broke off; its first block will
      // show whether blocks were lost.
    }
  }

  report.ok = report.problems.length === 0;
  if (!report.ok) {
    const p = report.problems[0];
    report.firstProblem = `${channel}: ${p.file || channelDir} block ${p.block}: ${p.what}`;
  }
  return report;
}

/**
 * Verifies every channel of a peer's ledgers directory (the `ledgersData` directory under
 * peer.fileSystemPath, holding chains/chains/<channel>/blockfile_NNNNNN).
 */
export async function verifyLedger(ledgersDataDir: string): Promise<LedgerReport> {
  const report = await verifyBlockStore(blockStoreDir(ledgersDataDir), `${ledgersDataDir} is not a Fabric ledgers directory`);
  return { ...report, ledgersDir: ledgersDataDir };
}

/**
 * Verifies a block store: a folder with one sub-folder of block files per channel (a peer's
 * ledgersData/chains/chains, an orderer's <FileLedger.Location>/chains).
 */
export async function verifyBlockStore(storeDir: string, what = `${storeDir} is not a Fabric block store`): Promise<LedgerReport> {
  let channels: string[];
  try {
    channels = (await readdir(storeDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${what}: ${storeDir} does not exist`);
    throw error;
  }
  if (channels.length === 0) throw new Error(`${storeDir} holds no channel`);
  const reports: ChannelReport[] = [];
  for (const channel of channels) reports.push(await verifyChannel(join(storeDir, channel), channel));
  return { ledgersDir: storeDir, channels: reports, ok: reports.every((r) => r.ok) };
}

