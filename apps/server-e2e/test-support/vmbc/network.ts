/**
 * A VMware Blockchain network made of TEST STAND-INS, on this host, for the e2e tests of the `vmbc`
 * plugin (intermittent backup, shared/seeds/001_11435fedc7e2cf99.txt). The real pieces are
 * proprietary; here each "machine" is a folder under `root` with its own node agent stand-in
 * (agent.js, a separate process on its own port), replicas run the rocksdb plugin's
 * replica-standin on a real RocksDB, clients run an idle process, and the operator's `concop` and
 * Concord's `kv_blockchain_db_editor` are concop.js and db-editor.js.
 *
 *   <root>/<replica-N>/mnt/data/rocksdbdata     the replica's RocksDB (dataDirectory)
 *   <root>/<replica-N>/run/{status,control}.json the replica's status file and wedge control file
 *   <root>/<client-N>/config/daml-ledger-api/environment-vars, config/daml-index-db/environment-vars,
 *                     config/telegraf/telegraf.conf   the client files the seed backs up
 *   <root>/<machine>/faults.json                the agent's faults; <root>/operator/faults.json concop's
 *   <root>/<machine>/{agent,node}.log           logs; <root>/operator/network.json concop's network file
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { freePort } from '@chainvault/testing';

const NATIVE = resolve(dirname(require.resolve('@chainvault/plugin-rocksdb/package.json')), 'dist', 'native');
export const REPLICA_STANDIN = join(NATIVE, 'replica-standin');
export const AGENT_JS = join(__dirname, 'agent.js');
export const CONCOP_JS = join(__dirname, 'concop.js');
export const DB_EDITOR_JS = join(__dirname, 'db-editor.js');

export interface VmbcMachine {
  name: string;
  role: 'replica' | 'client';
  /** The machine's address as concop reports it (not reachable: everything runs on 127.0.0.1). */
  address: string;
  machineRoot: string;
  agentUrl: string;
  agentPort: number;
  faultFile: string;
  pidFile: string;
}
export interface VmbcReplica extends VmbcMachine {
  dataDirectory: string;
  statusFile: string;
  controlFile: string;
}
export interface VmbcClient extends VmbcMachine {
  /** The seed's three client configuration files. */
  files: string[];
}
export interface NodeStatus {
  running: boolean;
  pid: number | null;
  lastBlock: number | null;
  wedged: boolean;
  stateTransfer: boolean;
}
export interface AgentAnswer {
  status: number;
  body: any;
}
export interface VmbcNetwork {
  root: string;
  replicas: VmbcReplica[];
  clients: VmbcClient[];
  networkFile: string;
  /** concop: append e.g. 'wedge', 'stop'. */
  concopArgv: string[];
  /** kv_blockchain_db_editor: append the data directory and e.g. 'getLastBlockID'. */
  dbEditorArgv: string[];
  /** Replaces a machine's fault file ('operator': concop's); null clears it. */
  faults: { set(machine: string, json: Record<string, unknown> | null): void };
  /** An HTTP request to a machine's agent (rejects on `timeoutMs` without an answer). */
  agent(machine: string, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs?: number): Promise<AgentAnswer>;
  status(machine: string): Promise<NodeStatus>;
  /** Ends every node and agent process (nothing on disk is removed). */
  stop(): Promise<void>;
}
export interface VmbcNetworkOptions {
  root: string;
  replicas?: number;
  clients?: number;
  blocksPerSecond?: number;
  valueSize?: number;
}

function writeJson(file: string, value: unknown): void {
  writeFileSync(`${file}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function pidIn(file: string): number | null {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || null;
  } catch {
    return null;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
async function terminate(pid: number | null, graceMs = 10_000): Promise<void> {
  if (!pid || !alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  while (alive(pid)) await sleep(20);
}

function agentRequest(port: number, method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<AgentAnswer> {
  return new Promise((resolveAnswer, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: payload ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: the text as it is
        }
        resolveAnswer({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from the agent on port ${port} to ${method} ${path} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

const CLIENT_FILES: Record<string, string> = {
  'config/daml-ledger-api/environment-vars': 'PARTICIPANT_ID={name}\nINDEXDB_HOST=daml_index_db\nINDEXDB_PORT=5432\nJAVA_OPTS=-Xmx4g\n',
  'config/daml-index-db/environment-vars': 'POSTGRES_USER=indexdb\nPOSTGRES_DB=daml_ledger\nPGDATA=/mnt/data/db\n',
  'config/telegraf/telegraf.conf': '[agent]\n  interval = "10s"\n  hostname = "{name}"\n[[outputs.prometheus_client]]\n  listen = ":9273"\n',
};

export async function startVmbcNetwork(options: VmbcNetworkOptions): Promise<VmbcNetwork> {
  const { root, replicas: replicaCount = 4, clients: clientCount = 2, blocksPerSecond = 100, valueSize = 256 } = options;
  if (!existsSync(REPLICA_STANDIN)) throw new Error(`${REPLICA_STANDIN} is missing: run bash plugins/rocksdb/native/build.sh first`);
  const agents: ChildProcess[] = [];
  const machines = new Map<string, VmbcMachine>();
  const operatorDir = join(root, 'operator');
  mkdirSync(operatorDir, { recursive: true });
  const operatorFaultFile = join(operatorDir, 'faults.json');
  const networkFile = join(operatorDir, 'network.json');

  const setUp = async (name: string, role: 'replica' | 'client', address: string) => {
    const machineRoot = join(root, name);
    mkdirSync(join(machineRoot, 'run'), { recursive: true });
    const agentPort = await freePort();
    const machine: VmbcMachine = { name, role, address, machineRoot, agentPort, agentUrl: `http://127.0.0.1:${agentPort}`, faultFile: join(machineRoot, 'faults.json'), pidFile: join(machineRoot, 'run', 'node.pid') };
    let startArgv: string[];
    let extra: Record<string, unknown> = {};
    if (role === 'replica') {
      const replica: VmbcReplica = { ...machine, dataDirectory: join(machineRoot, 'mnt', 'data', 'rocksdbdata'), statusFile: join(machineRoot, 'run', 'status.json'), controlFile: join(machineRoot, 'run', 'control.json') };
      mkdirSync(replica.dataDirectory, { recursive: true });
      startArgv = [REPLICA_STANDIN, '--db', replica.dataDirectory, '--status-file', replica.statusFile, '--control-file', replica.controlFile, '--blocks-per-second', String(blocksPerSecond), '--value-size', String(valueSize)];
      extra = { statusFile: replica.statusFile, dataDirectory: replica.dataDirectory };
      machines.set(name, replica);
    } else {
      const files = Object.entries(CLIENT_FILES).map(([relative, content]) => {
        const file = join(machineRoot, relative);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, content.replace(/\{name\}/g, name));
        return file;
      });
      startArgv = [process.execPath, '-e', 'setInterval(() => {}, 1e9)'];
      machines.set(name, { ...machine, files } as VmbcClient);
    }
    const configFile = join(machineRoot, 'agent.json');
    writeJson(configFile, { port: agentPort, role, pidFile: machine.pidFile, startArgv, faultFile: machine.faultFile, logFile: join(machineRoot, 'node.log'), ...extra });
    const log = openSync(join(machineRoot, 'agent.log'), 'a');
    const agent = spawn(process.execPath, [AGENT_JS, '--config', configFile], { stdio: ['ignore', log, log] });
    closeSync(log);
    agents.push(agent);
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (agent.exitCode !== null) throw new Error(`the agent of ${name} exited: ${readFileSync(join(machineRoot, 'agent.log'), 'utf8')}`);
      const answer = await agentRequest(agentPort, 'GET', '/api/node/status', undefined, 1000).catch(() => null);
      if (answer?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`the agent of ${name} does not answer on port ${agentPort}`);
      await sleep(50);
    }
    const started = await agentRequest(agentPort, 'POST', '/api/node/management?action=start');
    if (started.status !== 200) throw new Error(`starting ${name}: ${JSON.stringify(started.body)}`);
  };

  const machineOf = (name: string) => {
    const machine = machines.get(name);
    if (!machine) throw new Error(`no machine ${name} (have ${[...machines.keys()].join(', ')})`);
    return machine;
  };

  const stop = async () => {
    await Promise.all([...machines.values()].map((m) => terminate(pidIn(m.pidFile))));
    await Promise.all(agents.map((a) => terminate(a.pid ?? null)));
  };

  try {
    const setups: Promise<void>[] = [];
    for (let i = 0; i < replicaCount; i++) setups.push(setUp(`replica-${i + 1}`, 'replica', `192.168.100.${107 + i}`));
    for (let i = 0; i < clientCount; i++) setups.push(setUp(`client-${i + 1}`, 'client', `192.168.100.${107 + replicaCount + i}`));
    await Promise.all(setups);
  } catch (error) {
    await stop();
    throw error;
  }

  const all = [...machines.values()];
  const replicas = all.filter((m): m is VmbcReplica => m.role === 'replica').sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  const clients = all.filter((m): m is VmbcClient => m.role === 'client').sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  writeJson(networkFile, {
    replicas: replicas.map(({ name, address, controlFile, statusFile }) => ({ name, address, controlFile, statusFile })),
    faultFile: operatorFaultFile,
  });

  const agent = (name: string, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs?: number) => agentRequest(machineOf(name).agentPort, method, path, body, timeoutMs);
  return {
    root,
    replicas,
    clients,
    networkFile,
    concopArgv: [process.execPath, CONCOP_JS, '--network', networkFile],
    dbEditorArgv: [process.execPath, DB_EDITOR_JS],
    faults: {
      set(name, json) {
        writeJson(name === 'operator' ? operatorFaultFile : machineOf(name).faultFile, json ?? {});
      },
    },
    agent,
    async status(name) {
      const answer = await agent(name, 'GET', '/api/node/status');
      if (answer.status !== 200) throw new Error(`status of ${name}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body as NodeStatus;
    },
    stop,
  };
}
