import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FABRIC, ledgerutilExpected, ledgerutilLedger, tempDir, unzip } from './__fixtures__/fabric';
import { DATA_HASH_MISMATCH, PREVIOUS_HASH_MISMATCH, verifyLedger, type ChannelReport, type LedgerProblem } from './verify-ledger';

/** Problems grouped per block, in the shape of ledgerutil's blocks.json. */
function asLedgerutilResult(problems: LedgerProblem[]): { blockNum: number; valid: boolean; errors: string[] }[] {
  const byBlock = new Map<number, string[]>();
  for (const p of problems) byBlock.set(p.block, [...(byBlock.get(p.block) ?? []), p.what]);
  return [...byBlock].map(([blockNum, errors]) => ({ blockNum, valid: false, errors }));
}

function only(report: { channels: ChannelReport[] }): ChannelReport {
  expect(report.channels).toHaveLength(1);
  return report.channels[0];
}

describe('verifyLedger on the ledgerutil fixtures (fixtures README §2.2)', () => {
  it('sample_prod: 8 blocks, 8 transactions, everything verifies, as ledgerutil says (correct_blocks.json)', async () => {
    const report = await verifyLedger(ledgerutilLedger('sample_prod'));
    const channel = only(report);
    expect(report.ok).toBe(true);
    expect(channel).toMatchObject({
      channel: 'mychannel',
      files: ['blockfile_000000'],
      blocks: 8,
      transactions: 8,
      firstBlock: 0,
      lastBlock: 7,
      lastBlockHash: 'ba00545bfd2681a2453c26b281ea932fedf53bc40c5dd5a9091ab8df8fc4d371',
      ok: true,
      problems: [],
    });
    expect(asLedgerutilResult(channel.problems)).toEqual(await ledgerutilExpected('correct_blocks.json'));
    expect(channel.genesis).toMatchObject({ channel: 'mychannel', headerType: 'CONFIG', consensusType: 'solo' });
    expect(channel.genesis!.applicationOrgs.map((o) => o.mspId)).toEqual(['SampleOrg']);
  });

  it('sample_ledger_from_snapshot: blocks 3…6 after the snapshot of block 2 verify, linked to the snapshot hash', async () => {
    const report = await verifyLedger(ledgerutilLedger('sample_ledger_from_snapshot'));
    const channel = only(report);
    expect(report.ok).toBe(true);
    expect(channel).toMatchObject({
      channel: 'mychannel',
      blocks: 4,
      transactions: 4,
      firstBlock: 3,
      lastBlock: 6,
      lastBlockHash: '331a1c16f16eb7fbe13318e04e37f59fc199b4c72352680a4ca1995397f8371e',
      bootstrappedFromSnapshot: { lastBlockNum: 2, lastBlockHash: '51332a216087229ef5bf2b79be5fec2ba8cd0afe3d2668c2b3aeb8e3323bec0d' },
      problems: [],
    });
    expect(channel.genesis).toBeUndefined();
    expect(asLedgerutilResult(channel.problems)).toEqual(await ledgerutilExpected('correct_blocks.json'));
  });

  it('sample_bad_ledger: fails at block 0 (DataHash) and block 1 (PreviousHash), exactly as ledgerutil (hash_error_blocks.json)', async () => {
    const report = await verifyLedger(ledgerutilLedger('sample_bad_ledger'));
    const channel = only(report);
    expect(report.ok).toBe(false);
    expect(channel).toMatchObject({ channel: 'mychannel', blocks: 10, transactions: 10, lastBlock: 9, ok: false });
    expect(channel.problems[0]).toMatchObject({ file: 'blockfile_000000', block: 0, offset: 0, what: DATA_HASH_MISMATCH });
    expect(channel.problems[1]).toMatchObject({ file: 'blockfile_000000', block: 1, offset: 18641, what: PREVIOUS_HASH_MISMATCH });
    expect(channel.firstProblem).toBe('mychannel: blockfile_000000 block 0: DataHash mismatch');
    expect(channel.genesis).toMatchObject({ channel: 'mychannel', consensusType: 'etcdraft' });
    expect(channel.genesis!.applicationOrgs.map((o) => o.mspId)).toEqual(['Org1MSP', 'Org2MSP']);
    expect(asLedgerutilResult(channel.problems)).toEqual(await ledgerutilExpected('hash_error_blocks.json'));
  });

  it('glued_together: block 8 carries 3183 bytes glued after its envelope; reported as ledgerutil does (glued_together.json)', async () => {
    const report = await verifyLedger(ledgerutilLedger('glued_together'));
    const channel = only(report);
    expect(report.ok).toBe(false);
    expect(channel).toMatchObject({ channel: 'mychannel', blocks: 9, transactions: 9, lastBlock: 8 });
    expect(channel.lastBlockHash).toBe('3cc7cb977c968b1be3bdc2294bb40d8e453d6b319dcac9f858db30dfffac420d');
    expect(channel.problems[0]).toMatchObject({ file: 'blockfile_000000', block: 8, offset: 46681, what: 'transaction 0 has 3183 trailing bytes' });
    expect(channel.firstProblem).toBe('mychannel: blockfile_000000 block 8: transaction 0 has 3183 trailing bytes');
    expect(asLedgerutilResult(channel.problems)).toEqual(await ledgerutilExpected('glued_together.json'));
    // The plain SHA-256 of the concatenated data does match the header (README §2.2): only the
    // canonical-encoding check catches the glued bytes.
    expect(channel.problems[1].detail).toMatch(/SHA-256 of the raw data is (\w+), header says \1/);
  });
});

describe('verifyLedger on the zipped kvledger sample ledgers (fixtures README §2.1)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  const ledgers = (version: string) => join(tmp.path, version, 'ledgersData');

  beforeAll(async () => {
    tmp = await tempDir();
    for (const version of ['v11', 'v11_with_commit_hashes', 'v13_statecouchdb', 'v20']) {
      await unzip(join(FABRIC, 'kvledger-sample-ledgers', version, 'ledgersData.zip'), join(tmp.path, version));
    }
  });
  afterAll(() => tmp?.remove());

  it('v20: channel testchannel, 20 blocks, 20 transactions, head 690ce6ac…, solo genesis with org1…org3', async () => {
    const report = await verifyLedger(ledgers('v20'));
    const channel = only(report);
    expect(report.ok).toBe(true);
    expect(channel).toMatchObject({
      channel: 'testchannel',
      blocks: 20,
      transactions: 20,
      firstBlock: 0,
      lastBlock: 19,
      lastBlockHash: '690ce6acead159c08848115b464df5f54497c45b26baf3c8edb1068a0dbc4ade',
    });
    expect(channel.genesis?.consensusType).toBe('solo');
    expect(channel.genesis!.applicationOrgs.map((o) => o.name.toLowerCase())).toEqual(['org1', 'org2', 'org3']);
  });

  it('v13_statecouchdb: ledger1 and ledger2, 9 blocks and 15 transactions each, both verify', async () => {
    const report = await verifyLedger(ledgers('v13_statecouchdb'));
    expect(report.ok).toBe(true);
    expect(report.channels.map((c) => [c.channel, c.blocks, c.transactions, c.lastBlock, c.lastBlockHash])).toEqual([
      ['ledger1', 9, 15, 8, 'f62943cd36fcc17c044be330092b3d5dc3c038231994ece3de1b8f683a5f1f4b'],
      ['ledger2', 9, 15, 8, '9678bff654a29373b6914ab2e1ff4e9ede730a166e3d5fcf980f1662449bdb81'],
    ]);
    for (const c of report.channels) expect(c.genesis).toMatchObject({ channel: c.channel, consensusType: 'solo' });
  });

  it.each(['v11', 'v11_with_commit_hashes'])('%s: the upstream quirk (block 1 has an empty previousHash) fails both channels at block 1', async (version) => {
    const report = await verifyLedger(ledgers(version));
    expect(report.ok).toBe(false);
    expect(report.channels.map((c) => c.channel)).toEqual(['ledger1', 'ledger2']);
    for (const c of report.channels) {
      expect(c).toMatchObject({ blocks: 9, transactions: 15, lastBlock: 8, ok: false });
      expect(c.problems).toEqual([expect.objectContaining({ file: 'blockfile_000000', block: 1, what: PREVIOUS_HASH_MISMATCH })]);
      expect(c.problems[0].detail).toMatch(/^header says \(empty\)/);
      expect(c.firstProblem).toBe(`${c.channel}: blockfile_000000 block 1: PreviousHash mismatch`);
    }
  });
});

describe('verifyLedger on damaged copies of sample_prod (in a temporary directory)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let blockFile: Buffer;
  const channelDir = (name: string) => join(tmp.path, name, 'chains', 'chains', 'mychannel');

  beforeAll(async () => {
    tmp = await tempDir();
    blockFile = await readFile(join(ledgerutilLedger('sample_prod'), 'chains', 'chains', 'mychannel', 'blockfile_000000'));
  });
  afterAll(() => tmp?.remove());

  async function ledger(name: string, files: Record<string, Buffer>): Promise<string> {
    await mkdir(channelDir(name), { recursive: true });
    for (const [file, content] of Object.entries(files)) await writeFile(join(channelDir(name), file), content);
    return join(tmp.path, name);
  }

  it('a file truncated inside block 1 is a fault naming the file, the offset and the block', async () => {
    const report = await verifyLedger(await ledger('truncated', { blockfile_000000: blockFile.subarray(0, 15448 + 100) }));
    const channel = only(report);
    expect(channel).toMatchObject({ blocks: 1, lastBlock: 0, ok: false });
    expect(channel.problems).toEqual([
      expect.objectContaining({ file: 'blockfile_000000', block: 1, offset: 15448, what: expect.stringMatching(/truncated at offset 15448/) }),
    ]);
    expect(channel.firstProblem).toMatch(/^mychannel: blockfile_000000 block 1: blockfile_000000: truncated at offset 15448/);
  });

  it('a file cut inside a length prefix is a truncation too', async () => {
    const cut = Buffer.concat([blockFile.subarray(0, 15448), Buffer.from([0xc3])]);
    const channel = only(await verifyLedger(await ledger('cut-prefix', { blockfile_000000: cut })));
    expect(channel.problems).toEqual([expect.objectContaining({ block: 1, offset: 15448, what: expect.stringMatching(/inside a record's length prefix/) })]);
  });

  it('blocks spread over two block files are read in order', async () => {
    const root = await ledger('two-files', { blockfile_000000: blockFile.subarray(0, 24976), blockfile_000001: blockFile.subarray(24976) });
    const channel = only(await verifyLedger(root));
    expect(channel).toMatchObject({ files: ['blockfile_000000', 'blockfile_000001'], blocks: 8, transactions: 8, lastBlock: 7, ok: true });
  });

  it('a missing block is a gap naming the block after it', async () => {
    const withoutBlock2 = Buffer.concat([blockFile.subarray(0, 20269), blockFile.subarray(24976)]);
    const channel = only(await verifyLedger(await ledger('gap', { blockfile_000000: withoutBlock2 })));
    expect(channel.blocks).toBe(7);
    expect(channel.problems).toEqual([expect.objectContaining({ block: 3, offset: 20269, what: 'block 2 is missing: expected block 2, found block 3' })]);
  });

  it('a missing block file is reported', async () => {
    const root = await ledger('missing-file', { blockfile_000000: blockFile.subarray(0, 24976), blockfile_000002: blockFile.subarray(24976) });
    const channel = only(await verifyLedger(root));
    expect(channel.problems[0]).toMatchObject({ file: 'blockfile_000002', what: expect.stringMatching(/expected blockfile_000001/) });
  });

  it('a flipped byte inside a transaction breaks the data hash of that block only', async () => {
    const damaged = Buffer.from(blockFile);
    damaged[29746 + 2000] ^= 0xff; // inside block 4's envelope
    const channel = only(await verifyLedger(await ledger('flipped', { blockfile_000000: damaged })));
    expect(channel.problems.map((p) => [p.block, p.what])).toEqual([[4, DATA_HASH_MISMATCH]]);
  });

  it('refuses a directory that is not a ledgers directory', async () => {
    await expect(verifyLedger(join(tmp.path, 'nothing-here'))).rejects.toThrow(/not a Fabric ledgers directory/);
  });

  it('a copied snapshot channel whose info file is removed starts at 3 and is a gap', async () => {
    const source = join(ledgerutilLedger('sample_ledger_from_snapshot'), 'chains', 'chains', 'mychannel');
    await mkdir(channelDir('no-snapshot-info'), { recursive: true });
    await copyFile(join(source, 'blockfile_000000'), join(channelDir('no-snapshot-info'), 'blockfile_000000'));
    const channel = only(await verifyLedger(join(tmp.path, 'no-snapshot-info')));
    expect(channel.problems[0]).toMatchObject({ block: 3, what: 'blocks 0…2 are missing: expected block 0, found block 3' });
  });
});
