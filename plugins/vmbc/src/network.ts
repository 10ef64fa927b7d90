/**
 * Talking to a VMware Blockchain network: the node agents' HTTP API (stop, start, status, the
 * agent's own backup route), the operator's `concop` on its client machine, and the replicas'
 * block ids. Outputs are parsed as the product documentation shows them (seed 001), including
 * the Python-style `{'succ': True}` of `concop unwedge`.
 */
import { PluginError, type Machine, type MachineProvider, type NodeHandle, type PluginLogger } from '@chainvault/plugin-sdk';
import { DEFAULT_AGENT_URL, DEFAULT_BLOCK_ID_COMMAND, DEFAULT_DATA_DIRECTORY, fillCommand, type VmbcNodeConfig } from './config';

export type VmbcNode = NodeHandle<VmbcNodeConfig>;

export const agentUrlOf = (node: VmbcNode) => (node.config.agentUrl ?? DEFAULT_AGENT_URL).replace(/\/+$/, '');
export const dataDirectoryOf = (node: VmbcNode) => node.config.dataDirectory ?? DEFAULT_DATA_DIRECTORY;
export const timeoutOf = (node: VmbcNode) => (node.config.commandTimeoutSeconds ?? 300) * 1000;
/** The address `concop wedge status` names a replica by. */
export function addressOf(node: VmbcNode): string {
  if (node.config.address) return node.config.address;
  const machine = node.config.machine;
  return machine && machine.kind === 'ssh' ? machine.host : '127.0.0.1';
}

/** Parses what the operator prints: JSON, or Python's repr of a dict (`{'succ': True}`). */
export function parseOperatorOutput(text: string): Record<string, unknown> {
  const found = /\{[\s\S]*\}/.exec(text);
  if (!found) throw new PluginError('INCONSISTENT', `the operator printed no answer: ${text.trim().slice(0, 300) || '(nothing)'}`);
  const python = found[0].replace(/'/g, '"').replace(/\bTrue\b/g, 'true').replace(/\bFalse\b/g, 'false').replace(/\bNone\b/g, 'null');
  for (const candidate of [found[0], python]) {
    try {
      const value = JSON.parse(candidate) as unknown;
      if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // the next form
    }
  }
  throw new PluginError('INCONSISTENT', `the operator's answer is neither JSON nor a Python dict: ${found[0].slice(0, 300)}`);
}

export class Network {
  constructor(
    private readonly machines: MachineProvider,
    private readonly log: PluginLogger,
  ) {}

  machineOf(node: VmbcNode): Promise<Machine> {
    return this.machines.get(node.config.machine);
  }

  /** POST /api/node/management?action=stop|start through the node's agent. */
  async manage(node: VmbcNode, action: 'stop' | 'start'): Promise<void> {
    const machine = await this.machineOf(node);
    const url = `${agentUrlOf(node)}/api/node/management?action=${action}`;
    const started = Date.now();
    const answer = await machine.request(url, { method: 'POST', timeoutMs: timeoutOf(node) }).catch((error: PluginError) => {
      throw new PluginError(error.code === 'TIMEOUT' ? 'TIMEOUT' : 'UNREACHABLE', `the agent of ${node.name} did not ${action} it: ${error.message}`, { retryable: false });
    });
    if (answer.status < 200 || answer.status >= 300) throw new PluginError('COMMAND_FAILED', `the agent of ${node.name} answered ${answer.status} to ${action}: ${answer.body.slice(0, 300)}`);
    this.log.info(`${action === 'stop' ? 'stopped' : 'started'} ${node.role} ${node.name} through its agent on ${machine.name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }

  /** The agent's view of the node (GET /api/node/status): running, and whether a replica is in state transfer. */
  async status(node: VmbcNode): Promise<{ running: boolean; stateTransfer: boolean; lastBlock: number | null }> {
    const machine = await this.machineOf(node);
    const answer = await machine.request(`${agentUrlOf(node)}/api/node/status`, { timeoutMs: 30_000, logged: false }).catch((error: PluginError) => {
      throw new PluginError('UNREACHABLE', `the agent of ${node.name} does not answer: ${error.message}`);
    });
    if (answer.status !== 200) throw new PluginError('UNREACHABLE', `the agent of ${node.name} answered ${answer.status} to its status: ${answer.body.slice(0, 200)}`);
    let body: { running?: unknown; stateTransfer?: unknown; lastBlock?: unknown };
    try {
      body = JSON.parse(answer.body) as typeof body;
    } catch {
      throw new PluginError('UNREACHABLE', `the agent of ${node.name} answered its status with something that is not JSON: ${answer.body.slice(0, 200)}`);
    }
    return { running: body.running === true, stateTransfer: body.stateTransfer === true, lastBlock: typeof body.lastBlock === 'number' ? body.lastBlock : null };
  }

  /** Runs `concop <args>` through the operator's client and parses its answer. */
  async concop(operator: VmbcNode, args: string[], timeoutMs: number): Promise<Record<string, unknown>> {
    const machine = await this.machineOf(operator);
    const command = fillCommand(operator.config.operatorCommand!, { args });
    const result = await machine.run(command, { timeoutMs });
    return parseOperatorOutput(result.stdout);
  }

  /** A replica's last block id and last reachable block id, read from its stopped database. */
  async blockIds(replica: VmbcNode): Promise<{ lastBlockId: number; lastReachableBlockId: number }> {
    const machine = await this.machineOf(replica);
    const read = async (query: string, field: string) => {
      const command = fillCommand(replica.config.blockIdCommand ?? DEFAULT_BLOCK_ID_COMMAND, { dataDirectory: [dataDirectoryOf(replica)], query: [query] });
      const result = await machine.run(command, { timeoutMs: timeoutOf(replica) });
      const value = parseOperatorOutput(result.stdout)[field];
      const id = typeof value === 'string' || typeof value === 'number' ? Number(value) : NaN;
      if (!Number.isSafeInteger(id)) throw new PluginError('INCONSISTENT', `${query} on ${replica.name} printed no ${field}: ${result.stdout.trim().slice(0, 200)}`);
      return id;
    };
    return { lastBlockId: await read('getLastBlockID', 'lastBlockID'), lastReachableBlockId: await read('getLastReachableBlockID', 'lastReachableBlockID') };
  }
}
