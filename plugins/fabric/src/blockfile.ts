// Reader for a Fabric peer's block store: <ledgersData>/chains/chains/<channel>/blockfile_NNNNNN.
//
// A block file is a sequence of records `uvarint(len) || serializedBlock`. serializedBlock is
// Fabric's own layout (common/ledger/blkstorage/block_serialization.go), not a protobuf
// common.Block:
//   uvarint(header.number) || bytes(header.dataHash) || bytes(header.previousHash)
//   || uvarint(#data) || bytes(envelope)…  || uvarint(#metadata) || bytes(metadata)…
// where bytes(x) = uvarint(len(x)) || x. Files roll over at 64 MiB, so a channel's chain is the
// concatenation of its block files in suffix order.
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { peekUvarint, protoFields, WireError, WireReader, WIRE_LEN, WIRE_VARINT } from './wire';

export interface FabricBlock {
  number: number;
  dataHash: Buffer;
  previousHash: Buffer;
  /** The serialized transaction envelopes (common.Envelope), in order. */
  data: Buffer[];
  /** The metadata entries (SIGNATURES, LAST_CONFIG, TRANSACTIONS_FILTER, ORDERER, COMMIT_HASH …). */
  metadata: Buffer[];
}

export interface BlockFileRecord {
  /** Name of the block file, e.g. blockfile_000000. */
  file: string;
  /** Byte offset of the record's length prefix in that file. */
  offset: number;
  /** Size of the whole record, length prefix included. */
  size: number;
  block: FabricBlock;
}

export interface BlockFileInfo {
  name: string;
  suffix: number;
  path: string;
  size: number;
}

/** A block file that ends inside a record or holds a record that does not decode. */
export class BlockFileError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly offset: number,
    readonly truncated: boolean,
  ) {
    super(message);
    this.name = 'BlockFileError';
  }
}

const BLOCK_FILE = /^blockfile_(\d+)$/;

/** The directory that holds one sub-directory per channel. */
export function blockStoreDir(ledgersDataDir: string): string {
  return join(ledgersDataDir, 'chains', 'chains');
}

/** Channels of a peer's block store (sorted), read from <ledgersData>/chains/chains. */
export async function listChannels(ledgersDataDir: string): Promise<string[]> {
  const entries = await readdir(blockStoreDir(ledgersDataDir), { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** The block files of a channel directory in chain order (numeric suffix). */
export async function listBlockFiles(channelDir: string): Promise<BlockFileInfo[]> {
  const files: BlockFileInfo[] = [];
  for (const entry of await readdir(channelDir, { withFileTypes: true })) {
    const match = BLOCK_FILE.exec(entry.name);
    if (!match || !entry.isFile()) continue;
    const path = join(channelDir, entry.name);
    files.push({ name: entry.name, suffix: Number(match[1]), path, size: (await stat(path)).size });
  }
  return files.sort((a, b) => a.suffix - b.suffix);
}

/** Decodes one serialized block (the record body, without its length prefix). */
export function deserializeBlock(bytes: Uint8Array): FabricBlock {
  const r = new WireReader(bytes);
  const number = r.uvarintNumber('block number');
  const dataHash = Buffer.from(r.lengthDelimited('data hash'));
  const previousHash = Buffer.from(r.lengthDelimited('previous hash'));
  const dataCount = r.uvarintNumber('number of transactions');
  if (dataCount > r.remaining) throw new WireError(`block claims ${dataCount} transactions in ${r.remaining} bytes`, r.pos, false);
  const data: Buffer[] = [];
  for (let i = 0; i < dataCount; i++) data.push(Buffer.from(r.lengthDelimited(`transaction ${i}`)));
  const metadataCount = r.uvarintNumber('number of metadata entries');
  if (metadataCount > r.remaining) throw new WireError(`block claims ${metadataCount} metadata entries in ${r.remaining} bytes`, r.pos, false);
  const metadata: Buffer[] = [];
  for (let i = 0; i < metadataCount; i++) metadata.push(Buffer.from(r.lengthDelimited(`metadata entry ${i}`)));
  if (r.remaining > 0) throw new WireError(`${r.remaining} bytes follow the block's metadata`, r.pos, false);
  return { number, dataHash, previousHash, data, metadata };
}

async function readExactly(handle: Awaited<ReturnType<typeof open>>, length: number, position: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buffer : buffer.subarray(0, done);
}

/**
 * Iterates the block records of one block file. Throws BlockFileError (after yielding every
 * complete record before it) when the file ends inside a record or a record does not decode.
 * The file is read up to the size it had when it was opened, so a peer appending to it is harmless.
 */
export async function* readBlockFile(path: string, name = basename(path)): AsyncGenerator<BlockFileRecord> {
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    let offset = 0;
    while (offset < size) {
      const head = await readExactly(handle, Math.min(10, size - offset), offset);
      const prefix = peekUvarint(head);
      if (!prefix) {
        throw new BlockFileError(`${name}: truncated at offset ${offset}: the file ends inside a record's length prefix`, name, offset, true);
      }
      const available = size - offset - prefix.size;
      if (prefix.value > BigInt(available)) {
        throw new BlockFileError(
          `${name}: truncated at offset ${offset}: the record declares ${prefix.value} bytes but the file ends after ${available}`,
          name,
          offset,
          true,
        );
      }
      const length = Number(prefix.value);
      const body = await readExactly(handle, length, offset + prefix.size);
      if (body.length !== length) {
        throw new BlockFileError(`${name}: truncated at offset ${offset}: the file shrank while being read`, name, offset, true);
      }
      let block: FabricBlock;
      try {
        block = deserializeBlock(body);
      } catch (error) {
        const why = error instanceof Error ? error.message : String(error);
        throw new BlockFileError(`${name}: the record at offset ${offset} (${length} bytes) does not decode: ${why}`, name, offset, false);
      }
      yield { file: name, offset, size: prefix.size + length, block };
      offset += prefix.size + length;
    }
  } finally {
    await handle.close();
  }
}

/** Iterates every block of a channel directory, across its block files in order. */
export async function* readChannelBlocks(channelDir: string): AsyncGenerator<BlockFileRecord> {
  for (const file of await listBlockFiles(channelDir)) yield* readBlockFile(file.path, file.name);
}

/** blkstorage.BootstrappingSnapshotInfo, written when a peer joined the channel from a snapshot. */
export interface BootstrappingSnapshotInfo {
  lastBlockNum: number;
  lastBlockHash: Buffer;
  previousBlockHash: Buffer;
}

export const BOOTSTRAPPING_SNAPSHOT_INFO = 'bootstrappingSnapshot.info';

/** Reads <channelDir>/bootstrappingSnapshot.info; undefined when the channel was not bootstrapped from a snapshot. */
export async function readBootstrappingSnapshotInfo(channelDir: string): Promise<BootstrappingSnapshotInfo | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(join(channelDir, BOOTSTRAPPING_SNAPSHOT_INFO));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const info: BootstrappingSnapshotInfo = { lastBlockNum: 0, lastBlockHash: Buffer.alloc(0), previousBlockHash: Buffer.alloc(0) };
  for (const f of protoFields(bytes)) {
    if (f.field === 1 && f.wireType === WIRE_VARINT) info.lastBlockNum = Number(f.varint!);
    else if (f.field === 2 && f.wireType === WIRE_LEN) info.lastBlockHash = Buffer.from(f.bytes!);
    else if (f.field === 3 && f.wireType === WIRE_LEN) info.previousBlockHash = Buffer.from(f.bytes!);
  }
  return info;
}
