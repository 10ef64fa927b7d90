// chain-export against a real dev node (Hardhat Network, started here): the conformance kit's round trips, what
// verify finds in a damaged file, restore of a height range with an import command, and bad configuration.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createCommandRunner, PluginError, type BackupContext, type ChainvaultPlugin, type NodeHandle, type RestoreContext } from '@chainvault/plugin-sdk';
import { DirectoryArtifacts, runConformance } from '@chainvault/plugin-sdk/testing';
import { HARDHAT_ACCOUNT, startHardhatNode, type RunningHardhatNode } from '@chainvault/testing';
import { Wallet, JsonRpcProvider } from 'ethers';
import { createServer as createHttpServer, type Server } from 'node:http';
import plugin, { readRlpBlocks, type ChainExportMetadata, type EthereumNodeConfig } from './index';
import type { ConsensusKind } from './block';

const method = plugin.methods['chain-export'];
const untyped = plugin as unknown as ChainvaultPlugin;

let node: RunningHardhatNode;
let work: string;

beforeAll(async () => {
  node = await startHardhatNode();
});
afterAll(async () => {
  await node?.stop();
});
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'chainvault-ethereum-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

const monitor = (url: string, extra: Partial<EthereumNodeConfig> = {}): NodeHandle<EthereumNodeConfig> => ({
  id: 'monitor-1',
  name: 'monitor',
  role: 'monitor',
  config: { rpcUrl: url, client: 'geth', consensus: 'pos', ...extra },
});

/** Sends one transaction of each type Hardhat accepts (legacy, access list, EIP-1559, EIP-7702), a block each. */
async function sendTransactionsOfEveryType(url: string): Promise<void> {
  const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, batchMaxCount: 1 });
  const wallet = new Wallet(HARDHAT_ACCOUNT.privateKey, provider);
  const to = Wallet.createRandom().address;
  const accessList = [{ address: to, storageKeys: ['0x' + '00'.repeat(31) + '01'] }];
  const fees = await provider.getFeeData();
  // Nonces are counted here: each transaction is mined (automine) before the next is sent.
  let nonce = await provider.getTransactionCount(wallet.address);
  for (const tx of [
    { type: 0, to, value: 1n, gasPrice: fees.gasPrice! },
    { type: 1, to, value: 2n, gasPrice: fees.gasPrice!, accessList },
    { type: 2, to, value: 3n, maxFeePerGas: fees.maxFeePerGas!, maxPriorityFeePerGas: 1n, accessList, data: '0xdeadbeef' },
  ]) {
    await (await wallet.sendTransaction({ ...tx, nonce: nonce++, gasLimit: 100_000n, chainId: 31337n })).wait();
  }
  // EIP-7702: the sender delegates its own code, so the authorization's nonce is the one after the transaction's.
  const authorization = await wallet.authorize({ address: to, nonce: nonce + 1, chainId: 31337n });
  await (
    await wallet.sendTransaction({ type: 4, to: wallet.address, value: 0n, nonce: nonce++, authorizationList: [authorization], maxFeePerGas: fees.maxFeePerGas!, maxPriorityFeePerGas: 1n, gasLimit: 100_000n, chainId: 31337n })
  ).wait();
  provider.destroy();
}

async function nodeHash(n: number): Promise<string> {
  const block = await node.rpc<{ hash: string }>('eth_getBlockByNumber', [`0x${n.toString(16)}`, false]);
  return block.hash;
}

/** Every block in the directory's .rlp files, checked against the node's own hashes; returns the numbers seen. */
async function assertFilesMatchNode(directory: string): Promise<number[]> {
  const files = (await readdir(directory)).filter((f) => f.endsWith('.rlp')).sort((a, b) => Number(a.split('-block-')[1].split('-')[0]) - Number(b.split('-block-')[1].split('-')[0]));
  const numbers: number[] = [];
  for (const file of files) {
    for (const block of readRlpBlocks(await readFile(join(directory, file)), 'pos')) {
      expect(`0x${block.hash.toString('hex')}`).toBe(await nodeHash(block.number));
      numbers.push(block.number);
    }
  }
  return numbers;
}

function context(overrides: Partial<BackupContext<EthereumNodeConfig>> & { artifacts: DirectoryArtifacts }): BackupContext<EthereumNodeConfig> {
  const signal = new AbortController().signal;
  return {
    method: 'chain-export',
    options: {},
    progress: { update: () => undefined },
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    signal,
    tempDir: work,
    commands: createCommandRunner(signal),
    network: { id: 'n', name: 'net', protocol: 'geth' },
    node: undefined,
    nodes: [monitor(node.url)],
    previous: null,
    ...overrides,
  };
}

/** A loopback port nothing listens on: bound once by us, then released. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Mines blocks one evm_mine at a time (Hardhat's hardhat_mine leaves placeholder blocks whose roots do not match their bodies). */
async function mine(count: number): Promise<void> {
  await fetch(node.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(Array.from({ length: count }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'evm_mine', params: [] }))),
  });
}

describe('chain-export against a Hardhat node', () => {
  it('passes the conformance kit: block 0 onward first, then only the new blocks, each restore equal to the chain', async () => {
    await mine(32);
    const genesis = join(work, 'genesis.json');
    await writeFile(genesis, JSON.stringify({ config: { chainId: 31337 }, alloc: {} }));
    let targets = 0;
    const restoredRanges: number[][] = [];
    const report = await runConformance({
      plugin: untyped,
      method: 'chain-export',
      nodes: [monitor(node.url, { genesisFile: genesis }) as unknown as NodeHandle],
      options: { blocksPerFile: 10, batchSize: 7 },
      makeTarget: () => ({ config: { path: join(work, `target-${++targets}`) } }),
      assertRestored: async (target) => {
        const path = String(target.config.path);
        const numbers = await assertFilesMatchNode(path);
        expect(numbers).toEqual(numbers.map((_, i) => i));
        expect(JSON.parse(await readFile(join(path, 'genesis.json'), 'utf8'))).toEqual({ config: { chainId: 31337 }, alloc: {} });
        restoredRanges.push([numbers[0], numbers[numbers.length - 1]]);
      },
      change: () => sendTransactionsOfEveryType(node.url),
    });

    const [first, second] = report.backups.map((b) => b.metadata as unknown as ChainExportMetadata);
    expect(first.startBlock).toBe(0);
    expect(first.genesis).toBe('genesis.json');
    expect(first.history.map((h) => [h.start_block.block, h.end_block.block])).toEqual([[0, 9], [10, 19], [20, 29], [30, 32]]);
    expect(first.history.every((h) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z-block-\d+-\d+\.rlp$/.test(h.file))).toBe(true);
    expect(second.startBlock).toBe(first.endBlock! + 1);
    expect(second.history[0].start_block.parent_hash).toBe(first.endHash);
    expect(second.transactions).toBe(4);
    expect(second.genesis).toBeNull();
    expect(report.backups[1].dependsOn).toEqual(['backup-1']);
    // The second restore holds both segments: the kit hands the first backup to it as an earlier one.
    expect(restoredRanges).toEqual([
      [0, first.endBlock],
      [0, second.endBlock],
    ]);
    expect(report.progress.filter((p) => p.unit === 'blocks').at(-1)).toMatchObject({ done: second.blocks, total: second.blocks });
  });

  it('verify names the first block whose bytes were changed in storage', async () => {
    await mine(5);
    await sendTransactionsOfEveryType(node.url);
    const store = new DirectoryArtifacts(join(work, 'backup'));
    const outcome = await method.backup(context({ artifacts: store, options: { blocksPerFile: 1000 } }));
    const metadata = outcome!.metadata as unknown as ChainExportMetadata;
    const record = { id: 'b1', createdAt: new Date(), metadata: outcome!.metadata! };
    const verifyContext = { ...context({ artifacts: store }), backup: record, artifacts: store };
    await expect(method.verify!(verifyContext)).resolves.toMatchObject({ problems: [], checked: { blocks: metadata.blocks, transactions: metadata.transactions } });

    // Change one byte inside the last block's transactions: its header still decodes, its body no longer matches.
    const file = join(store.root, metadata.history[0].file);
    const bytes = await readFile(file);
    const last = readRlpBlocks(bytes, 'pos').at(-1)!;
    bytes[last.end - 40] ^= 0x01;
    await writeFile(file, bytes);
    const report = await method.verify!(verifyContext);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toContain(`block ${last.number}`);
  });

  it('restores the files that cover a height range and runs the import command with them, its output in the log', async () => {
    await mine(48);
    const store = new DirectoryArtifacts(join(work, 'backup'));
    const outcome = await method.backup(context({ artifacts: store, options: { blocksPerFile: 16 } }));
    const metadata = outcome!.metadata as unknown as ChainExportMetadata;
    const target = join(work, 'restored');
    // The import command stands in for `geth import {files}`: it reads the files it is given and reports what it read.
    const script = "for (const f of process.argv.slice(1)) console.log('read', require('path').basename(f), require('fs').statSync(f).size)";
    const logs: string[] = [];
    const signal = new AbortController().signal;
    const restoreContext: RestoreContext<EthereumNodeConfig & { path: string }> = {
      method: 'chain-export',
      options: { fromBlock: 20, toBlock: 40 },
      progress: { update: () => undefined },
      log: { info: (m) => logs.push(m), warn: (m) => logs.push(m), error: (m) => logs.push(m) },
      signal,
      tempDir: work,
      commands: createCommandRunner(signal),
      backup: { id: 'b1', createdAt: new Date(), metadata: outcome!.metadata! },
      earlier: [],
      sources: [monitor(node.url)],
      target: { config: { path: target, importCommand: [process.execPath, '-e', script, '{files}'] } as never },
      artifacts: store,
    };
    const result = await method.restore(restoreContext);

    const expected = metadata.history.filter((h) => h.end_block.block >= 20 && h.start_block.block <= 40).map((h) => h.file);
    expect(expected).toHaveLength(2);
    expect((await readdir(target)).sort()).toEqual(expected.sort());
    expect(result).toMatchObject({ details: { files: 2, fromBlock: 16, toBlock: 47, imported: true } });
    for (const file of expected) expect(logs).toContain(`import: read ${file} ${(await readFile(join(target, file))).length}`);
    await assertFilesMatchNode(target);

    const beyond = { ...restoreContext, options: { toBlock: metadata.endBlock! + 1 }, target: { config: { path: join(work, 'beyond') } as never } };
    await expect(method.restore(beyond)).rejects.toThrow(`toBlock ${metadata.endBlock! + 1} is beyond block ${metadata.endBlock}, where this backup ends`);
  });

  it('refuses a node whose consensus rule does not give the node\'s hashes, naming the block', async () => {
    const store = new DirectoryArtifacts(join(work, 'backup'));
    const error = await method.backup(context({ artifacts: store, nodes: [monitor(node.url, { consensus: 'qbft' })] })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginError);
    expect((error as PluginError).message).toMatch(/^block 0 from node monitor .* cannot be hashed under the qbft rule \(block 0: extraData is not IBFT 2.0\/QBFT extra data .*\); check the node's consensus setting$/);
  });

  it('fails clearly when the monitor cannot be reached', async () => {
    const store = new DirectoryArtifacts(join(work, 'backup'));
    const port = await closedPort();
    const error = await method.backup(context({ artifacts: store, nodes: [monitor(`http://127.0.0.1:${port}`)] })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UNREACHABLE', retryable: true });
    expect((error as Error).message).toContain(`node monitor (http://127.0.0.1:${port}/) is unreachable (ECONNREFUSED)`);
  });
});

const FIXTURES = join(__dirname, '..', '..', '..', '..', 'shared', 'fixtures', 'ethereum');

/**
 * A FAKE Geth: no Geth runs on this machine, so this serves a recorded chain (a fixture export file) over JSON-RPC the
 * way Geth does, with debug_getRawBlock answering each block's own bytes. It lets the export path for nodes that give
 * raw blocks run against real chains (PoS Prague, GoQuorum IBFT, mainnet with uncles). `tamper` changes one block.
 */
async function startFakeGeth(chain: Buffer, consensus: ConsensusKind, tamper?: { block: number; at: number }): Promise<{ url: string; close(): Promise<void> }> {
  const blocks = readRlpBlocks(chain, consensus);
  const byNumber = new Map(blocks.map((b) => [b.number, b]));
  const raw = (n: number) => {
    const bytes = Buffer.from(chain.subarray(byNumber.get(n)!.start, byNumber.get(n)!.end));
    if (tamper?.block === n) bytes[bytes.length - tamper.at] ^= 0x01;
    return `0x${bytes.toString('hex')}`;
  };
  const answer = (call: { id: number; method: string; params: string[] }) => {
    const n = call.params?.[0] === undefined ? NaN : Number(call.params[0]);
    const known = byNumber.has(n);
    switch (call.method) {
      case 'eth_blockNumber':
        return { result: `0x${blocks[blocks.length - 1].number.toString(16)}` };
      case 'eth_chainId':
        return { result: '0x1' };
      case 'debug_getRawBlock':
        return { result: known ? raw(n) : null };
      case 'eth_getBlockByNumber': {
        const b = byNumber.get(n);
        // A file that starts after genesis still names the genesis hash, as its first block's parent.
        if (!b && n === blocks[0].number - 1) return { result: { number: call.params[0], hash: `0x${blocks[0].parentHash.toString('hex')}` } };
        return { result: b ? { number: call.params[0], hash: `0x${b.hash.toString('hex')}`, parentHash: `0x${b.parentHash.toString('hex')}` } : null };
      }
      default:
        return { error: { code: -32601, message: `the method ${call.method} does not exist/is not available` } };
    }
  };
  const server: Server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const request = JSON.parse(body);
      const reply = (call: { id: number; method: string; params: string[] }) => ({ jsonrpc: '2.0', id: call.id, ...answer(call) });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(Array.isArray(request) ? request.map(reply) : reply(request)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('chain-export from a node that answers debug_getRawBlock (a fake Geth serving fixture chains)', () => {
  it.each<[string, ConsensusKind]>([
    ['geth-devp2p-prague/chain.rlp', 'pos'],
    ['besu-ibft-quorum/ibft.blocks', 'istanbul'],
    ['besu-mainnet-0-999/1000.blocks', 'ethash'],
  ])('stores %s byte for byte as the node gives it (%s)', async (file, consensus) => {
    const chain = await readFile(join(FIXTURES, file));
    const blocks = readRlpBlocks(chain, consensus);
    const geth = await startFakeGeth(chain, consensus);
    try {
      // The Prague export starts at block 1 (it holds no genesis block): the run continues a backup that ended at block 0.
      const previous = blocks[0].number === 0 ? null : { id: 'b0', createdAt: new Date(), metadata: { endBlock: 0, endHash: `0x${blocks[0].parentHash.toString('hex')}` } };
      const store = new DirectoryArtifacts(join(work, 'backup'));
      const outcome = await method.backup(context({ artifacts: store, previous, options: { blocksPerFile: 10_000 }, nodes: [monitor(geth.url, { consensus: consensus === 'ethash' ? 'ethash' : (consensus as EthereumNodeConfig['consensus']) })] }));
      const metadata = outcome!.metadata as unknown as ChainExportMetadata;
      expect(metadata).toMatchObject({ exportedWith: 'debug_getRawBlock', startBlock: blocks[0].number, endBlock: blocks[blocks.length - 1].number, blocks: blocks.length });
      expect(metadata.history).toHaveLength(1);
      expect((await readFile(join(store.root, metadata.history[0].file))).equals(chain)).toBe(true);
      const record = { id: 'b1', createdAt: new Date(), metadata: outcome!.metadata! };
      await expect(method.verify!({ ...context({ artifacts: store }), backup: record, artifacts: store })).resolves.toMatchObject({ problems: [] });
    } finally {
      await geth.close();
    }
  });

  it('refuses a block whose transactions do not match its header, naming it, and stores nothing', async () => {
    const chain = await readFile(join(FIXTURES, 'geth-devp2p-prague/chain.rlp'));
    const blocks = readRlpBlocks(chain, 'pos');
    const geth = await startFakeGeth(chain, 'pos', { block: 12, at: 30 });
    try {
      const store = new DirectoryArtifacts(join(work, 'backup'));
      const previous = { id: 'b0', createdAt: new Date(), metadata: { endBlock: 0, endHash: `0x${blocks[0].parentHash.toString('hex')}` } };
      const error = await method.backup(context({ artifacts: store, previous, nodes: [monitor(geth.url)] })).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'INCONSISTENT' });
      expect((error as Error).message).toMatch(/^block 12: /);
    } finally {
      await geth.close();
    }
  });
});
