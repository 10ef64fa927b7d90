/**
 * A real Ethereum dev node for tests: Hardhat Network 2 (`hardhat node`) in a child process on
 * 127.0.0.1, optionally forked from another node at a given block. Hardhat answers the standard
 * JSON-RPC calls a Geth node answers for chain data (not debug_getRawBlock) and mines a block
 * per transaction, or any number on `hardhat_mine`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort, stopChild } from './processes';

export interface HardhatNodeOptions {
  chainId?: number;
  /** Hardhat's hardfork name; default prague (all five transaction types). */
  hardfork?: string;
  /** Start as a fork of this node's chain at `forkBlock`. */
  forkUrl?: string;
  forkBlock?: number;
}

export interface RunningHardhatNode {
  url: string;
  port: number;
  /** One JSON-RPC call; throws on an error answer. */
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  /** Freezes the node's process (SIGSTOP): it holds its connections but answers nothing. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

/** Hardhat's first default account (its well-known, public test key); it is funded on every Hardhat chain. */
export const HARDHAT_ACCOUNT = {
  address: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
  privateKey: '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
};

const START_TIMEOUT_MS = 60_000;


// Runs in the child: hardhat as a grandchild that dies with us, whether we are stopped or the test process vanishes
// (our stdin closes).
const WRAPPER = `
const { spawn } = require('child_process');
const node = spawn(process.execPath, [process.env.HARDHAT_CLI, 'node', '--hostname', '127.0.0.1', '--port', process.env.HARDHAT_PORT], { stdio: ['ignore', 'inherit', 'inherit'] });
const stop = () => { node.kill('SIGKILL'); process.exit(0); };
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
node.on('exit', (code) => process.exit(code ?? 1));
process.stdout.write(JSON.stringify({ pid: node.pid }) + '\\n');
`;

export async function startHardhatNode(options: HardhatNodeOptions = {}): Promise<RunningHardhatNode> {
  const cli = require.resolve('hardhat/internal/cli/cli.js');
  // Hardhat insists on a project that resolves its own local installation: a directory beside node_modules.
  const workspace = dirname(dirname(dirname(require.resolve('hardhat/package.json'))));
  const project = join(workspace, 'tmp', `hardhat-${randomBytes(6).toString('hex')}`);
  await mkdir(project, { recursive: true });
  const network: Record<string, unknown> = {
    chainId: options.chainId ?? 31337,
    hardfork: options.hardfork ?? 'prague',
    mining: { auto: true },
    loggingEnabled: false,
  };
  if (options.forkUrl) network.forking = { url: options.forkUrl, blockNumber: options.forkBlock };
  if (options.forkUrl) network.chains = { [options.chainId ?? 31337]: { hardforkHistory: { [options.hardfork ?? 'prague']: 0 } } };
  await writeFile(join(project, 'hardhat.config.js'), `module.exports = ${JSON.stringify({ networks: { hardhat: network } }, null, 2)};\n`);

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['-e', WRAPPER], {
    cwd: project,
    env: { ...process.env, HARDHAT_CLI: cli, HARDHAT_PORT: String(port), HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true', HARDHAT_TELEMETRY: 'false' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  let nodePid: number | undefined;
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    const line = output.split('\n').find((l) => l.startsWith('{"pid"'));
    if (line && nodePid === undefined) nodePid = (JSON.parse(line) as { pid: number }).pid;
  });
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

  let id = 1;
  const rpc = async <T>(method: string, params: unknown[] = []): Promise<T> => {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: id++, method, params }) });
    const body = (await response.json()) as { result?: T; error?: { message: string } };
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result as T;
  };
  const stop = async () => {
    if (nodePid) {
      try {
        process.kill(nodePid, 'SIGCONT');
      } catch {
        // already gone
      }
    }
    await stopChild(child);
    await rm(project, { recursive: true, force: true });
  };
  try {
    await waitUntilAnswering(rpc, child, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    port,
    rpc,
    pause: () => process.kill(nodePid!, 'SIGSTOP'),
    resume: () => process.kill(nodePid!, 'SIGCONT'),
    stop,
  };
}

async function waitUntilAnswering(rpc: (method: string) => Promise<unknown>, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`hardhat node exited with code ${child.exitCode}:\n${output()}`);
    try {
      await rpc('eth_blockNumber');
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`hardhat node did not answer within ${START_TIMEOUT_MS} ms:\n${output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

