/**
 * The Ethereum plugin end to end (issue 5, DESIGN §7.1): a real dev node (Hardhat Network,
 * started here) with transactions of several types, backed up online through GraphQL with the
 * chain-export method. Runs continue the chain, the history document matches the files, verify
 * passes, the files decode to the node's own hashes, a diverging validator makes the end walk
 * back, a node that stops mid-export fails the job clearly, and a reorg below the last backed-up
 * block fails loudly.
 */
import { HARDHAT_ACCOUNT, startHardhatNode, type RunningHardhatNode } from '@chainvault/testing';
import { readRlpBlocks } from '@chainvault/plugin-ethereum';
import { JsonRpcProvider, Wallet } from 'ethers';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BACKUP, CREATE_DESTINATION, CREATE_NETWORK, CREATE_POLICY, REGISTER_NODE, RESTORE, RUN_BACKUP, VERIFY } from './support/scenario';
import { startTestServer, type TestServer } from './support/test-server';

const HISTORY = `query ($id: ID!) { chainHistory(networkId: $id) }`;
const EXPORT = `mutation ($id: ID!, $path: String!) { exportBackup(backupId: $id, path: $path) { id status } }`;
const BACKUP_CHAIN = `query ($id: ID!) { backup(id: $id) { id status createdAt dependsOnId metadata files { path type size } } }`;
const JOB = `query ($id: ID!) { job(id: $id) { id status progress { unit done total etaSeconds } } }`;

interface Boundary {
  block: number;
  hash: string;
  parent_hash: string;
}
interface HistoryEntry {
  file: string;
  date: string;
  canonical_chain: boolean;
  raftSwapFile: boolean;
  start_block: Boundary;
  end_block: Boundary;
}

describe('Ethereum chain-export through GraphQL against a Hardhat node', () => {
  let server: TestServer;
  let chain: RunningHardhatNode;
  let work: string;
  let networkId: string;
  let policyId: string;
  const backups: Record<string, any>[] = [];

  const hashOf = async (node: RunningHardhatNode, n: number) => (await node.rpc<{ hash: string }>('eth_getBlockByNumber', [`0x${n.toString(16)}`, false])).hash;
  const head = async (node: RunningHardhatNode) => Number(await node.rpc<string>('eth_blockNumber'));
  const mine = async (node: RunningHardhatNode, count: number) => {
    // One evm_mine per block, in batches: hardhat_mine leaves placeholder blocks whose roots do not match their bodies.
    for (let done = 0; done < count; done += 500) {
      const batch = Array.from({ length: Math.min(500, count - done) }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'evm_mine', params: [] }));
      await fetch(node.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) });
    }
  };

  /** A legacy, an access-list and an EIP-1559 transaction, each mined in its own block. */
  async function sendTransactions(node: RunningHardhatNode, value = 1n): Promise<void> {
    const provider = new JsonRpcProvider(node.url, undefined, { staticNetwork: true, batchMaxCount: 1 });
    const wallet = new Wallet(HARDHAT_ACCOUNT.privateKey, provider);
    const to = Wallet.createRandom().address;
    const fees = await provider.getFeeData();
    let nonce = await provider.getTransactionCount(wallet.address);
    for (const tx of [
      { type: 0, gasPrice: fees.gasPrice! },
      { type: 1, gasPrice: fees.gasPrice!, accessList: [{ address: to, storageKeys: [] }] },
      { type: 2, maxFeePerGas: fees.maxFeePerGas!, maxPriorityFeePerGas: 2n, data: '0x1234' },
    ]) {
      await (await wallet.sendTransaction({ ...tx, to, value, nonce: nonce++, gasLimit: 50_000n, chainId: 31337n })).wait();
    }
    provider.destroy();
  }

  async function runBackup(): Promise<Record<string, any>> {
    const { runBackup } = await server.client.ok(RUN_BACKUP, { policyId });
    return server.client.waitForJob(runBackup.id);
  }

  async function completedBackup(): Promise<Record<string, any>> {
    const job = await runBackup();
    expect({ status: job.status, error: job.error }).toEqual({ status: 'COMPLETED', error: null });
    const { backup } = await server.client.ok(BACKUP_CHAIN, { id: job.backupId });
    backups.push(backup);
    return backup;
  }

  /** Restores `backupId` (every segment up to it) into a new directory and returns the blocks read back from it. */
  async function restoredBlocks(backupId: string, options: Record<string, number> = {}) {
    const target = join(work, `restore-${backupId}-${Object.values(options).join('-')}`);
    const { restoreBackup } = await server.client.ok(RESTORE, { input: { backupId, targetConfig: { path: target }, options } });
    const job = await server.client.waitForJob(restoreBackup.id);
    expect({ status: job.status, error: job.error }).toEqual({ status: 'COMPLETED', error: null });
    const files = (await readdir(target)).filter((f) => f.endsWith('.rlp'));
    files.sort((a, b) => Number(a.split('-block-')[1].split('-')[0]) - Number(b.split('-block-')[1].split('-')[0]));
    const blocks = [];
    for (const file of files) blocks.push(...readRlpBlocks(await readFile(join(target, file)), 'pos'));
    return { target, files, blocks };
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-ethereum-e2e-'));
    chain = await startHardhatNode();
    await mine(chain, 40);
    await sendTransactions(chain);
    const genesis = join(work, 'genesis.json');
    await writeFile(genesis, JSON.stringify({ config: { chainId: 31337, pragueTime: 0 }, alloc: { [HARDHAT_ACCOUNT.address]: { balance: '0x21e19e0c9bab2400000' } } }));
    // One attempt per job, so a node that stops mid-export fails the job instead of scheduling a retry.
    server = await startTestServer({ config: { jobMaxAttempts: 1 } });
    const { createNetwork } = await server.client.ok(CREATE_NETWORK, { input: { name: 'devnet', protocol: 'geth' } });
    networkId = createNetwork.id;
    await server.client.ok(REGISTER_NODE, {
      input: { networkId, name: 'monitor', plugin: 'ethereum', role: 'monitor', config: { rpcUrl: chain.url, client: 'geth', consensus: 'pos', genesisFile: genesis, timeoutMs: 3000 } },
    });
    const { createDestination } = await server.client.ok(CREATE_DESTINATION, { input: { name: 'chain-repo', kind: 'LOCAL', config: { path: join(work, 'repository') } } });
    const { createPolicy } = await server.client.ok(CREATE_POLICY, {
      // Retention keeps only the last backup by rule; it must still keep every segment that one continues.
      input: { name: 'chain-data', networkId, method: 'chain-export', destinationIds: [createDestination.id], options: { blocksPerFile: 20, batchSize: 10 }, retention: { keepLast: 1 } },
    });
    policyId = createPolicy.id;
  });

  afterAll(async () => {
    await server?.close();
    await chain?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('exports from block 0 on the first run, with the genesis file, in files of at most 20 blocks named by range', async () => {
    const end = await head(chain);
    const backup = await completedBackup();
    expect(backup.metadata).toMatchObject({ startBlock: 0, endBlock: end, endHash: await hashOf(chain, end), blocks: end + 1, transactions: 3, genesis: 'genesis.json', provider: 'geth', exportedWith: 'eth_getBlockByNumber' });
    const ranges = (backup.metadata.history as HistoryEntry[]).map((h) => [h.start_block.block, h.end_block.block]);
    expect(ranges).toEqual([[0, 19], [20, 39], [40, end]]);
    for (const entry of backup.metadata.history as HistoryEntry[]) {
      expect(entry.file).toBe(`${entry.date}-block-${entry.start_block.block}-${entry.end_block.block}.rlp`);
      expect(entry.end_block.hash).toBe(await hashOf(chain, entry.end_block.block));
    }
    expect(backup.files.filter((f: { type: string }) => f.type === 'file').map((f: { path: string }) => f.path).sort()).toEqual(['genesis.json', 'history.json', ...(backup.metadata.history as HistoryEntry[]).map((h) => h.file)].sort());

    const restored = await restoredBlocks(backup.id);
    expect(restored.blocks.map((b) => b.number)).toEqual(Array.from({ length: end + 1 }, (_, i) => i));
    for (const block of restored.blocks) expect(`0x${block.hash.toString('hex')}`).toBe(await hashOf(chain, block.number));
    expect(JSON.parse(await readFile(join(restored.target, 'genesis.json'), 'utf8')).config.chainId).toBe(31337);
  });

  it('exports only the new blocks on the next run, continuing the chain, and restores every segment up to it', async () => {
    const [first] = backups;
    await sendTransactions(chain, 7n);
    await mine(chain, 5);
    const end = await head(chain);
    const second = await completedBackup();
    expect(second.dependsOnId).toBe(first.id);
    expect(second.metadata).toMatchObject({ startBlock: first.metadata.endBlock + 1, endBlock: end, transactions: 3, genesis: null });
    expect((second.metadata.history as HistoryEntry[])[0].start_block.parent_hash).toBe(first.metadata.endHash);

    const restored = await restoredBlocks(second.id);
    expect(restored.blocks.map((b) => b.number)).toEqual(Array.from({ length: end + 1 }, (_, i) => i));
    for (let i = 1; i < restored.blocks.length; i++) expect(restored.blocks[i].parentHash.equals(restored.blocks[i - 1].hash)).toBe(true);
    expect(`0x${restored.blocks[end].hash.toString('hex')}`).toBe(await hashOf(chain, end));

    // A height range restores only the files that cover it.
    const range = await restoredBlocks(second.id, { fromBlock: 25, toBlock: 41 });
    expect(range.blocks[0].number).toBe(20);
    expect(range.files).toHaveLength(2);
  });

  it('publishes the history document: in chainHistory and as history.json in the backup, matching the files', async () => {
    const { chainHistory } = await server.client.ok(HISTORY, { id: networkId });
    const entries = backups.flatMap((b) => b.metadata.history as HistoryEntry[]);
    expect(chainHistory).toEqual({ latest_backup: backups[backups.length - 1].createdAt, provider: 'geth', history: entries });
    for (let i = 1; i < entries.length; i++) expect(entries[i].start_block.parent_hash).toBe(entries[i - 1].end_block.hash);
    expect(entries.every((e) => e.canonical_chain === true && e.raftSwapFile === false)).toBe(true);

    const exported = join(work, 'exported');
    const { exportBackup } = await server.client.ok(EXPORT, { id: backups[1].id, path: exported });
    expect((await server.client.waitForJob(exportBackup.id)).status).toBe('COMPLETED');
    const stored = JSON.parse(await readFile(join(exported, 'history.json'), 'utf8'));
    expect(stored.history).toEqual(entries);
    expect(stored.provider).toBe('geth');
  });

  it('lists the backups that hold a block, and those made in a span of time', async () => {
    const [first, second] = backups;
    const query = `query ($filter: BackupFilter) { backups(filter: $filter) { totalCount nodes { id firstBlock lastBlock } } }`;
    const listed = async (filter: Record<string, unknown>) => (await server.client.ok(query, { filter: { networkId, ...filter } })).backups.nodes as { id: string; firstBlock: number; lastBlock: number }[];
    const ids = async (filter: Record<string, unknown>) => (await listed(filter)).map((b) => b.id);
    expect(await listed({ block: 0 })).toEqual([{ id: first.id, firstBlock: 0, lastBlock: first.metadata.endBlock }]);
    expect(await ids({ block: first.metadata.endBlock })).toEqual([first.id]);
    expect(await listed({ block: second.metadata.startBlock })).toEqual([{ id: second.id, firstBlock: second.metadata.startBlock, lastBlock: second.metadata.endBlock }]);
    expect(await ids({ block: second.metadata.endBlock + 1 })).toEqual([]);
    expect(await ids({ since: second.createdAt })).toEqual(expect.arrayContaining([second.id]));
    expect(await ids({ since: second.createdAt })).not.toContain(first.id);
    expect(await ids({ until: second.createdAt })).toEqual([first.id]);
    expect(await ids({ since: first.createdAt, until: second.createdAt, block: 1 })).toEqual([first.id]);
    const refused = await server.client.fails(query, { filter: { block: -1 } });
    expect(refused).toMatchObject({ message: 'block must be a block height (a whole number from 0), got -1', extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('keeps every segment a kept backup continues, whatever the retention rules say', async () => {
    const { applyRetention } = await server.client.ok(`mutation ($id: ID!) { applyRetention(policyId: $id, dryRun: true) { kept { backupId reasons } deleted { backupId } } }`, { id: policyId });
    expect(applyRetention.deleted).toEqual([]);
    expect(applyRetention.kept).toEqual([
      { backupId: backups[1].id, reasons: ['last 1', 'newest not known corrupt'] },
      { backupId: backups[0].id, reasons: [`needed by ${backups[1].id}`] },
    ]);
  });

  it('verifies every block of a backup against the chain rules', async () => {
    for (const backup of backups) {
      const { verifyBackup } = await server.client.ok(VERIFY, { id: backup.id });
      const job = await server.client.waitForJob(verifyBackup.id);
      expect({ status: job.status, error: job.error }).toEqual({ status: 'COMPLETED', error: null });
      expect(job.result).toMatchObject({ blocks: backup.metadata.blocks, transactions: backup.metadata.transactions });
      expect((await server.client.ok(BACKUP, { id: backup.id })).backup.verification).toBe('VERIFIED');
    }
  });

  it('fails the job clearly when the node stops answering mid-export, and the next run succeeds from the same block', async () => {
    const before = backups[backups.length - 1];
    await mine(chain, 4000);
    const { runBackup } = await server.client.ok(RUN_BACKUP, { policyId });
    let progress: { done: number; total: number; etaSeconds: number | null } | null = null;
    const deadline = Date.now() + 60_000;
    while (!progress?.done) {
      const { job } = await server.client.ok(JOB, { id: runBackup.id });
      expect(['QUEUED', 'RUNNING']).toContain(job.status);
      progress = job.progress?.unit === 'blocks' ? job.progress : null;
      if (Date.now() > deadline) throw new Error('the export reported no progress in blocks');
      await new Promise((r) => setTimeout(r, 25));
    }
    chain.pause();
    try {
      const failed = await server.client.waitForJob(runBackup.id);
      expect(failed.status).toBe('FAILED');
      expect(failed.error).toMatch(/node monitor \(http:\/\/127\.0\.0\.1:\d+\/\) did not answer eth_getBlockByNumber within 3 s/);
      expect(progress.total).toBe(4000);
      expect(progress.done).toBeLessThan(4000);
    } finally {
      chain.resume();
    }
    const resumed = await completedBackup();
    expect(resumed.dependsOnId).toBe(before.id);
    expect(resumed.metadata.startBlock).toBe(before.metadata.endBlock + 1);
    expect(resumed.metadata.endBlock).toBe(await head(chain));
  });

  let beforeFork: string;

  it('walks the end block back to the last block every validator agrees on', async () => {
    const previousEnd = backups[backups.length - 1].metadata.endBlock;
    beforeFork = await chain.rpc<string>('evm_snapshot');
    await mine(chain, 5);
    const forkAt = await head(chain);
    const validator = await startHardhatNode({ forkUrl: chain.url, forkBlock: forkAt });
    try {
      // Both chains grow past the fork with different blocks.
      await sendTransactions(chain, 11n);
      await sendTransactions(validator, 13n);
      expect(await hashOf(validator, forkAt)).toBe(await hashOf(chain, forkAt));
      expect(await hashOf(validator, forkAt + 1)).not.toBe(await hashOf(chain, forkAt + 1));
      await server.client.ok(REGISTER_NODE, { input: { networkId, name: 'validator-1', plugin: 'ethereum', role: 'validator', config: { rpcUrl: validator.url, client: 'geth', consensus: 'pos' } } });
      const backup = await completedBackup();
      expect(backup.metadata).toMatchObject({ startBlock: previousEnd + 1, endBlock: forkAt, endHash: await hashOf(chain, forkAt), validators: ['validator-1'] });
      expect(await head(chain)).toBe(forkAt + 3);
    } finally {
      await validator.stop();
    }
    // With the validator gone, the next run cannot confirm anything and says which node failed.
    const job = await runBackup();
    expect(job.status).toBe('FAILED');
    expect(job.error).toMatch(/1 of 1 validators did not answer, and the policy needs 1: node validator-1 .* is unreachable/);
  });

  it('fails loudly when the chain is reorganised below the last backed-up block, naming both hashes', async () => {
    const last = backups[backups.length - 1];
    const endBlock: number = last.metadata.endBlock;
    // Rewind the node to before the last backup's blocks and grow a different chain past them.
    await chain.rpc('evm_revert', [beforeFork]);
    expect(await head(chain)).toBeLessThan(endBlock);
    await sendTransactions(chain, 99n);
    await mine(chain, 10);
    expect(await head(chain)).toBeGreaterThan(endBlock);
    const now = await hashOf(chain, endBlock);
    expect(now).not.toBe(last.metadata.endHash);

    const job = await runBackup();
    expect(job.status).toBe('FAILED');
    expect(job.error).toContain(`reorg: block ${endBlock} is now ${now} on node monitor`);
    expect(job.error).toContain(`but the previous backup ended at block ${endBlock} with hash ${last.metadata.endHash}`);
    const { backups: listed } = await server.client.ok(`query ($id: ID!) { backups(filter: { policyId: $id }) { totalCount } }`, { id: policyId });
    expect(listed.totalCount).toBe(backups.length);
  });
});
