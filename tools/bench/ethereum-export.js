#!/usr/bin/env node
/**
 * Ethereum chain-export benchmark: exports N blocks (default 10,000) from a local Hardhat node
 * into a real repository with the plugin's chain-export method, and measures, in the same run and
 * against the same node, the floor: fetching the same blocks with eth_getBlockByNumber(n, true)
 * with the same batching and nothing else (no encoding, hashing, checking or storing).
 *
 *   npm run build && node tools/bench/ethereum-export.js [--blocks 10000] [--batch 50] [--parallel 4] [--rounds 3]
 *
 * Prints blocks per second for both and chainvault's share of the floor (goal: at least 90%).
 */
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const BLOCKS = option('blocks', 10_000);
const BATCH = option('batch', 50);
const PARALLEL = option('parallel', 4);
const ROUNDS = option('rounds', 3);
/** One block in this many carries a transaction, so bodies are not all empty. */
const TX_EVERY = option('tx-every', 10);

const dist = (path) => join(__dirname, '..', '..', path, 'dist');
const { startHardhatNode } = require(dist('libs/testing'));
const { LocalBackend, Repository } = require(dist('libs/repository'));
const { createCommandRunner } = require(dist('libs/plugin-sdk'));
const plugin = require(dist('plugins/ethereum')).default;

async function post(url, body) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return response.json();
}

async function buildChain(node) {
  const [account] = await node.rpc('eth_accounts');
  let mined = 0;
  while (mined < BLOCKS) {
    // A transaction mines its own block (automine); empty blocks in between come from evm_mine in batches.
    await node.rpc('eth_sendTransaction', [{ from: account, to: '0x000000000000000000000000000000000000dEaD', value: '0x1', data: '0x' + 'ab'.repeat(64) }]);
    const empty = Math.min(TX_EVERY - 1, BLOCKS - mined - 1);
    if (empty > 0) await post(node.url, Array.from({ length: empty }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'evm_mine', params: [] })));
    mined += 1 + empty;
  }
}

/** The floor: the same blocks, same batch size and batches in flight, only fetched and parsed. */
async function floor(node, last) {
  let next = 0;
  let blocks = 0;
  const worker = async () => {
    while (next <= last) {
      const first = next;
      next = Math.min(last + 1, first + BATCH);
      const batch = [];
      for (let n = first; n < next; n++) batch.push({ jsonrpc: '2.0', id: n, method: 'eth_getBlockByNumber', params: [`0x${n.toString(16)}`, true] });
      const answers = await post(node.url, batch);
      blocks += answers.filter((a) => a.result).length;
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  if (blocks !== last + 1) throw new Error(`floor fetched ${blocks} blocks, expected ${last + 1}`);
}

async function chainvault(node, repositoryDir) {
  const repository = await Repository.openOrInit(new LocalBackend(repositoryDir), {});
  const writer = repository.startBackup({ previous: null });
  const signal = new AbortController().signal;
  const outcome = await plugin.methods['chain-export'].backup({
    method: 'chain-export',
    options: { batchSize: BATCH, parallelBatches: PARALLEL },
    progress: { update: () => undefined },
    log: { info: () => undefined, warn: (m) => console.warn(m), error: (m) => console.error(m) },
    signal,
    tempDir: repositoryDir,
    commands: createCommandRunner(signal),
    network: { id: 'bench', name: 'bench', protocol: 'geth' },
    node: undefined,
    nodes: [{ id: 'monitor', name: 'monitor', role: 'monitor', config: { rpcUrl: node.url, client: 'geth', consensus: 'pos' } }],
    previous: null,
    artifacts: writer,
  });
  await writer.commit({ createdAt: new Date(), labels: {}, metadata: outcome.metadata });
  return outcome.metadata;
}

const seconds = async (work) => {
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const result = await work();
  const used = process.cpuUsage(cpu);
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, cpu: (used.user + used.system) / 1e6, result };
};
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

(async () => {
  const node = await startHardhatNode();
  const work = mkdtempSync(join(tmpdir(), 'chainvault-bench-eth-'));
  try {
    process.stdout.write(`building a chain of ${BLOCKS} blocks (a transaction every ${TX_EVERY}) ... `);
    const built = await seconds(() => buildChain(node));
    const last = Number(await node.rpc('eth_blockNumber'));
    console.log(`${built.seconds.toFixed(1)} s, head ${last}`);

    const floors = [];
    const exports = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const fetched = await seconds(() => floor(node, last));
      floors.push(fetched.seconds);
      const exported = await seconds(() => chainvault(node, join(work, `repository-${round}`)));
      if (exported.result.blocks !== last + 1) throw new Error(`chain-export exported ${exported.result.blocks} blocks, expected ${last + 1}`);
      exports.push(exported.seconds);
      rmSync(join(work, `repository-${round}`), { recursive: true, force: true });
      console.log(
        `round ${round}: floor ${((last + 1) / fetched.seconds).toFixed(0)} blocks/s (this process's CPU ${fetched.cpu.toFixed(2)} s of ${fetched.seconds.toFixed(2)} s), ` +
          `chainvault ${((last + 1) / exported.seconds).toFixed(0)} blocks/s (CPU ${exported.cpu.toFixed(2)} s of ${exported.seconds.toFixed(2)} s)`,
      );
    }
    const floorRate = (last + 1) / median(floors);
    const exportRate = (last + 1) / median(exports);
    console.log('');
    console.log(`| ${last + 1} blocks, batch ${BATCH}, ${PARALLEL} in flight | blocks/s (median of ${ROUNDS}) |`);
    console.log('|---|---|');
    console.log(`| floor: eth_getBlockByNumber only | ${floorRate.toFixed(0)} |`);
    console.log(`| chainvault chain-export into a repository | ${exportRate.toFixed(0)} (${((100 * exportRate) / floorRate).toFixed(0)}% of the floor) |`);
  } finally {
    await node.stop();
    rmSync(work, { recursive: true, force: true });
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
