import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FIXTURES, ledgerutilLedger } from './__fixtures__/fabric';
import { BlockFileError, deserializeBlock, listChannels, readBlockFile, readBootstrappingSnapshotInfo, type BlockFileRecord } from './blockfile';
import { blockDataHash, blockHeaderBytes, blockHeaderHash, derUnsignedInteger, transactionsWellFormedError } from './hashes';

const mychannel = (ledger: string) => join(ledgerutilLedger(ledger), 'chains', 'chains', 'mychannel');

async function collect(path: string): Promise<BlockFileRecord[]> {
  const records: BlockFileRecord[] = [];
  for await (const record of readBlockFile(path)) records.push(record);
  return records;
}

describe('DER encoding of the block header (protoutil.BlockHeaderBytes)', () => {
  it('encodes uint64 block numbers as minimal INTEGERs, with a 0x00 before a set top bit', () => {
    expect(derUnsignedInteger(0).toString('hex')).toBe('020100');
    expect(derUnsignedInteger(127).toString('hex')).toBe('02017f');
    expect(derUnsignedInteger(128).toString('hex')).toBe('02020080');
    expect(derUnsignedInteger(255).toString('hex')).toBe('020200ff');
    expect(derUnsignedInteger(256).toString('hex')).toBe('02020100');
    expect(derUnsignedInteger(0xffffffffffffffffn).toString('hex')).toBe('020900ffffffffffffffff');
  });

  it('wraps number, previous hash and data hash in a SEQUENCE (long-form lengths beyond 127 bytes)', () => {
    const empty = blockHeaderBytes({ number: 0, previousHash: Buffer.alloc(0), dataHash: Buffer.alloc(32, 1) });
    expect(empty.toString('hex')).toBe('3027' + '020100' + '0400' + '0420' + '01'.repeat(32));
    const big = blockHeaderBytes({ number: 1, previousHash: Buffer.alloc(100), dataHash: Buffer.alloc(100) });
    expect(big.subarray(0, 3).toString('hex')).toBe('3081cf');
  });
});

describe('readBlockFile', () => {
  it('reads the 8 records of sample_prod at the offsets of the derived index, hashing to the README values', async () => {
    const records = await collect(join(mychannel('sample_prod'), 'blockfile_000000'));
    expect(records.map((r) => r.block.number)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(records.map((r) => r.offset)).toEqual([0, 15448, 20269, 24976, 29746, 33998, 38216, 42433]);
    expect(records.every((r) => r.file === 'blockfile_000000')).toBe(true);
    expect(blockHeaderHash(records[0].block).toString('hex')).toBe('c4a1491ab9a62e9125b3cbab3a782ea1f56e24c608620d85bb940585d059a2a1');
    expect(blockHeaderHash(records[7].block).toString('hex')).toBe('ba00545bfd2681a2453c26b281ea932fedf53bc40c5dd5a9091ab8df8fc4d371');
    expect(records[0].block.previousHash.length).toBe(0);
    for (let i = 1; i < records.length; i++) {
      expect(records[i].block.previousHash).toEqual(blockHeaderHash(records[i - 1].block));
      expect(blockDataHash(records[i].block.data)).toEqual(records[i].block.dataHash);
      expect(transactionsWellFormedError(records[i].block.data, false)).toBeUndefined();
    }
    expect(records.map((r) => r.block.metadata.length)).toEqual(Array(8).fill(5));
  });

  it.each(['sample_prod', 'sample_bad_ledger', 'glued_together', 'sample_ledger_from_snapshot'])(
    '%s: every record matches the derived index (number, header hash, offset, length, transactions, metadata entries)',
    async (ledger) => {
      const csv = await readFile(join(FIXTURES, 'derived', 'fabric', 'ledgerutil', ledger, 'ledgersData', 'chains', 'chains', 'mychannel', 'blockfile_000000.index.csv'), 'utf8');
      const [head, ...rows] = csv.trim().split('\n').map((line) => line.split(','));
      const col = (row: string[], name: string) => row[head.indexOf(name)];
      const records = await collect(join(mychannel(ledger), 'blockfile_000000'));
      expect(records.map((r) => [r.block.number, blockHeaderHash(r.block).toString('hex'), r.offset, r.size, r.block.data.length, r.block.metadata.length])).toEqual(
        rows.map((row) => {
          const length = Number(col(row, 'serialized_block_length'));
          const prefix = length < 0x80 ? 1 : length < 0x4000 ? 2 : 3;
          return [Number(col(row, 'number')), col(row, 'header_hash_sha256'), Number(col(row, 'record_offset')), prefix + length, Number(col(row, 'tx_count')), Number(col(row, 'metadata_entries'))];
        }),
      );
    },
  );

  it('deserializeBlock decodes one record body and rejects short or overlong ones', async () => {
    const bytes = await readFile(join(mychannel('sample_prod'), 'blockfile_000000'));
    const deserialized = deserializeBlock(bytes.subarray(2, 15448));
    expect(deserialized.number).toBe(0);
    expect(() => deserializeBlock(bytes.subarray(2, 15000))).toThrow(/remain/);
    expect(() => deserializeBlock(Buffer.concat([bytes.subarray(2, 15448), Buffer.from([0])]))).toThrow(/1 bytes follow the block's metadata/);
  });

  it('reads the snapshot bootstrap info of sample_ledger_from_snapshot', async () => {
    expect(await readBootstrappingSnapshotInfo(mychannel('sample_prod'))).toBeUndefined();
    const info = await readBootstrappingSnapshotInfo(mychannel('sample_ledger_from_snapshot'));
    expect(info).toBeDefined();
    expect(info!.lastBlockNum).toBe(2);
    expect(info!.lastBlockHash.toString('hex')).toBe('51332a216087229ef5bf2b79be5fec2ba8cd0afe3d2668c2b3aeb8e3323bec0d');
    expect(info!.previousBlockHash.toString('hex')).toBe('9628a5f10f00839e233e56650e866d616d89bc4f10025b24d971efc4bbea74c8');
    const [first] = await collect(join(mychannel('sample_ledger_from_snapshot'), 'blockfile_000000'));
    expect(first.block.number).toBe(3);
    expect(first.block.previousHash).toEqual(info!.lastBlockHash);
  });

  it('lists the channels of a ledgers directory', async () => {
    expect(await listChannels(ledgerutilLedger('glued_together'))).toEqual(['mychannel']);
  });

  it('BlockFileError is an Error with file and offset', () => {
    const error = new BlockFileError('x', 'blockfile_000003', 42, true);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ file: 'blockfile_000003', offset: 42, truncated: true });
  });
});

describe('transactionsWellFormedError (protoutil.VerifyTransactionsAreWellFormed)', () => {
  const envelope = Buffer.from('0a03' + '010203' + '1202' + 'aabb', 'hex');

  it('accepts a canonical envelope and rejects glued bytes, missing fields and garbage', () => {
    expect(transactionsWellFormedError([envelope], false)).toBeUndefined();
    expect(transactionsWellFormedError([Buffer.concat([envelope, envelope])], false)).toBe('transaction 0 has 9 trailing bytes');
    expect(transactionsWellFormedError([envelope, Buffer.from('1202aabb', 'hex')], false)).toBe('transaction 1 has no payload');
    expect(transactionsWellFormedError([Buffer.from('0a03010203', 'hex')], false)).toBe('transaction 0 has no signature');
    expect(transactionsWellFormedError([Buffer.from('0a05', 'hex')], false)).toMatch(/^transaction 0 is invalid/);
    expect(transactionsWellFormedError([Buffer.from('1202aabb0a03010203', 'hex')], false)).toBe('transaction 0 does not match its canonical encoding');
    expect(transactionsWellFormedError([], false)).toBe('empty block');
  });

  it('skips the check for a config block, as Fabric does', () => {
    expect(transactionsWellFormedError([Buffer.concat([envelope, envelope])], true)).toBeUndefined();
  });
});
