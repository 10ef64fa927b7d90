/**
 * VMware Blockchain nodes (replicas and clients) and the options of the intermittent backup,
 * with the defaults of the product documentation (seed 001): the node agent on
 * 127.0.0.1:8546, replica data under /mnt/data/rocksdbdata, the block ids read with
 * kv_blockchain_db_editor from the concord-core image, and the clients' three config files.
 */
import { PluginError, machineSchema, type JsonSchema, type MachineConfig } from '@chainvault/plugin-sdk';
import { isAbsolute } from 'node:path';

export const DEFAULT_AGENT_URL = 'http://127.0.0.1:8546';
export const DEFAULT_DATA_DIRECTORY = '/mnt/data/rocksdbdata';
export const DEFAULT_CLIENT_FILES = ['/config/daml-ledger-api/environment-vars', '/config/daml-index-db/environment-vars', '/config/telegraf/telegraf.conf'];
export const CONCORD_CORE_IMAGE = 'vmwaresaas.jfrog.io/vmwblockchain/concord-core:1.8.0.0.53';
/** The seed's block-id query: `{dataDirectory}` and `{query}` (getLastBlockID or getLastReachableBlockID) are filled in. */
export const DEFAULT_BLOCK_ID_COMMAND = [
  'sudo', 'docker', 'run', '--rm', '--entrypoint=', '--mount', 'type=bind,source={dataDirectory},target=/concord/rocksdbdata',
  CONCORD_CORE_IMAGE, '/concord/kv_blockchain_db_editor', '/concord/rocksdbdata', '{query}',
];

export interface VmbcNodeConfig {
  machine?: MachineConfig;
  /** The node agent, as reached from the node's machine. */
  agentUrl?: string;
  /** Replicas: the Concord RocksDB folder. */
  dataDirectory?: string;
  /** Replicas: the address `concop wedge status` names it by (default: the machine's host). */
  address?: string;
  /** Replicas: prints the last block id; `{dataDirectory}` and `{query}` are filled in. */
  blockIdCommand?: string[];
  /** Clients: files archived as .tar.gz (absolute paths). */
  clientFiles?: string[];
  /** Clients: also archive this folder (the client database, /mnt/data/db). */
  clientDatabase?: string;
  /** The one client that runs the operator: the command that runs concop there, `{args}` standing for its arguments. */
  operatorCommand?: string[];
  /** How long one agent call or command may take, in seconds (default 300). */
  commandTimeoutSeconds?: number;
}

export interface IntermittentOptions {
  /** Seconds between two `concop wedge status` polls. */
  wedgePollSeconds: number;
  /** How long the replicas may take to report wedged before the wedge is issued again. */
  wedgeTimeoutSeconds: number;
  /** How many times the wedge is issued (a `wedge stop` that times out, or a status that never turns true) before the run fails. */
  wedgeAttempts: number;
  /** How long one `concop wedge stop` may take. */
  wedgeCommandTimeoutSeconds: number;
  /** Go on when replicas stopped at different block ids (the lagging ones catch up by state transfer when started). */
  acceptLag: boolean;
  /** Stop at the next safe point when less than this remains of the maintenance window. */
  windowMarginSeconds: number;
  /** Also archive each client's database folder (clientDatabase). */
  includeClientDatabase: boolean;
}

export const DEFAULT_INTERMITTENT: IntermittentOptions = {
  wedgePollSeconds: 5,
  wedgeTimeoutSeconds: 600,
  wedgeAttempts: 3,
  wedgeCommandTimeoutSeconds: 120,
  acceptLag: false,
  windowMarginSeconds: 60,
  includeClientDatabase: false,
};

export interface SyncOptions {
  /** `rsync`: chainvault pulls the replica's data over SSH. `agent`: the node agent pushes it (POST /api/backup?action=run_now). */
  via: 'rsync' | 'agent';
  /** For `agent`: the host name of the chainvault server as the replicas reach it (empty: this host's paths, for agents on this host). */
  backupServer: string;
  rsyncUser: string;
  timeZone: string;
  /** For `agent`: the agent's own schedule (the seed's schedule_frequency). */
  scheduleFrequency: 'HOURLY' | 'DAILY';
}

export const DEFAULT_SYNC: SyncOptions = { via: 'rsync', backupServer: '', rsyncUser: 'vmbc', timeZone: 'UTC', scheduleFrequency: 'HOURLY' };

const argv: JsonSchema = { type: 'array', items: { type: 'string', maxLength: 4096 }, minItems: 1, maxItems: 64 };
const absolute: JsonSchema = { type: 'string', minLength: 2, maxLength: 4096 };

export const nodeConfigSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    machine: machineSchema,
    // Defaults are applied by the plugin, not written into the config: a client has no data directory.
    agentUrl: { type: 'string', minLength: 8, maxLength: 2048, description: `The node agent's URL as seen from the node's machine. Default ${DEFAULT_AGENT_URL}.` },
    dataDirectory: { ...absolute, description: `Replicas: Concord's RocksDB folder. Default ${DEFAULT_DATA_DIRECTORY}.` },
    address: { type: 'string', minLength: 1, maxLength: 255, description: 'Replicas: the address `concop wedge status` names the replica by. Default: the machine\'s host.' },
    blockIdCommand: { ...argv, description: 'Replicas: prints {"lastBlockID": "N"}; {dataDirectory} and {query} are filled in. Default: kv_blockchain_db_editor in the concord-core image.' },
    clientFiles: { type: 'array', items: absolute, maxItems: 256, description: "Clients: the files archived (default: the seed's three config files)." },
    clientDatabase: { ...absolute, description: 'Clients: the client database folder, archived when the policy says so.' },
    operatorCommand: { ...argv, description: "The client that runs the operator: the command that runs concop, with {args} for its arguments, e.g. [\"sudo\",\"docker\",\"exec\",\"operator\",\"sh\",\"-c\",\"./concop {args}\"]." },
    commandTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 86400, default: 300 },
  },
};

export const intermittentOptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    wedgePollSeconds: { type: 'number', minimum: 0.1, maximum: 600, default: 5 },
    wedgeTimeoutSeconds: { type: 'number', minimum: 1, maximum: 86400, default: 600 },
    wedgeAttempts: { type: 'integer', minimum: 1, maximum: 10, default: 3 },
    wedgeCommandTimeoutSeconds: { type: 'number', minimum: 1, maximum: 3600, default: 120 },
    acceptLag: { type: 'boolean', default: false },
    windowMarginSeconds: { type: 'number', minimum: 0, maximum: 86400, default: 60 },
    includeClientDatabase: { type: 'boolean', default: false },
  },
};

export const syncOptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    via: { enum: ['rsync', 'agent'], default: 'rsync' },
    backupServer: { type: 'string', maxLength: 253, default: '' },
    rsyncUser: { type: 'string', minLength: 1, maxLength: 64, default: 'vmbc' },
    timeZone: { type: 'string', minLength: 1, maxLength: 64, default: 'UTC' },
    scheduleFrequency: { enum: ['HOURLY', 'DAILY'], default: 'HOURLY' },
  },
};

export const restoreOptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    clientArchiveDirectory: { ...absolute, default: '/tmp', description: "Where a client's archive is put on its machine before it is unpacked over /." },
  },
};

export function checkNodeConfig(config: VmbcNodeConfig): void {
  const bad = (message: string) => new PluginError('INVALID_CONFIG', message);
  if (config.agentUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(config.agentUrl);
    } catch {
      throw bad(`agentUrl "${config.agentUrl}" is not a URL`);
    }
    if (url.protocol !== 'http:') throw bad(`agentUrl must be an http: URL, got "${config.agentUrl}"`);
  }
  for (const [field, path] of [['dataDirectory', config.dataDirectory], ['clientDatabase', config.clientDatabase], ...(config.clientFiles ?? []).map((f, i) => [`clientFiles[${i}]`, f])] as [string, string | undefined][]) {
    if (path !== undefined && (!isAbsolute(path) || path.includes('\0'))) throw bad(`${field} must be an absolute path, got "${path}"`);
  }
  if (config.operatorCommand && !config.operatorCommand.some((w) => w.includes('{args}'))) throw bad('operatorCommand must say where concop\'s arguments go with {args}');
  if (config.blockIdCommand && !config.blockIdCommand.some((w) => w.includes('{query}'))) throw bad('blockIdCommand must say where the query goes with {query}');
}

/** Fills a command template: a word that is exactly `{name}` becomes the value's words; `{name}` inside a word is replaced by them joined with spaces. */
export function fillCommand(template: string[], values: Record<string, string[]>): string[] {
  return template.flatMap((word) => {
    const whole = /^\{(\w+)\}$/.exec(word);
    if (whole && values[whole[1]]) return values[whole[1]];
    return [word.replace(/\{(\w+)\}/g, (match, name: string) => (values[name] ? values[name].join(' ') : match))];
  });
}
