/**
 * Hyperledger Fabric resources as chainvault nodes (seed 004): a peer, an orderer, a CA, an MSP
 * or a genesis/config block, each on its machine, with what the operator knows of it: its
 * folders, its configuration files, its state database and the commands that stop, start and
 * check it. The defaults are Fabric's own (peer.fileSystemPath, FileLedger.Location, the CA
 * server's home).
 */
import { PluginError, machineSchema, type JsonSchema, type MachineConfig } from '@chainvault/plugin-sdk';
import { isAbsolute, normalize } from 'node:path';

export const ROLES = ['peer', 'orderer', 'ca', 'msp', 'genesis'] as const;
export type FabricRole = (typeof ROLES)[number];

/** Fabric's defaults for the resource's main folder; an MSP folder and a block file have none. */
export const DEFAULT_PATHS: Partial<Record<FabricRole, string>> = {
  peer: '/var/hyperledger/production',
  orderer: '/var/hyperledger/production/orderer',
  ca: '/etc/hyperledger/fabric-ca-server',
};

export interface CouchDbConfig {
  kind: 'couchdb';
  /** The CouchDB as the peer's machine reaches it, e.g. http://127.0.0.1:5984. */
  url: string;
  username?: string;
  /** A secret: stored sealed, never returned. */
  password?: string;
  /** Only these databases (default: every database but CouchDB's own `_users`, `_replicator`, `_global_changes`). */
  databases?: string[];
}

export type StateDatabaseConfig = { kind: 'leveldb' } | CouchDbConfig;

export interface FabricNodeConfig {
  machine?: MachineConfig;
  /**
   * The resource's main folder (peer: peer.fileSystemPath; orderer: FileLedger.Location; CA: the
   * server's home), an MSP's folder, or a genesis/config block's file.
   */
  path?: string;
  /** core.yaml, orderer.yaml, fabric-ca-server-config.yaml, connection profiles: backed up, restored and rewritten by templates. */
  configFiles?: string[];
  /** A peer's or orderer's own MSP (its signing identity), when outside `path`. */
  mspDir?: string;
  /** Its TLS certificates and keys, when outside `path`. */
  tlsDir?: string;
  /** The parent: the organisation's MSP folder on the same machine. */
  organizationMsp?: string;
  /** An etcdraft orderer's WAL folder (Consensus.WALDir), when outside `path`. */
  walDir?: string;
  /** An etcdraft orderer's snapshot folder (Consensus.SnapDir), when outside `path`. */
  snapDir?: string;
  /** A CA's database file (db.datasource of SQLite), when outside its home. */
  caDatabase?: string;
  /** A peer's state database: LevelDB inside its folder (default) or CouchDB. */
  stateDatabase?: StateDatabaseConfig;
  stopCommand?: string[];
  startCommand?: string[];
  /** Exits 0 when the resource is up and well (`peer node status`, a curl of /healthz). */
  checkCommand?: string[];
  /** Rebuilds a peer's state database from its ledger (`peer node rebuild-dbs`), run with the peer stopped. */
  rebuildCommand?: string[];
  /** How long a started resource may take to pass its check, in seconds (default 120). */
  checkTimeoutSeconds?: number;
  /** How long one command may take, in seconds (default 300). */
  commandTimeoutSeconds?: number;
}

const argv = (description: string): JsonSchema => ({ type: 'array', items: { type: 'string', maxLength: 4096 }, minItems: 1, maxItems: 64, description });
const absolute = (description: string): JsonSchema => ({ type: 'string', minLength: 1, maxLength: 4096, description });

export const nodeConfigSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    machine: machineSchema,
    path: absolute(`The resource's folder: peer.fileSystemPath (default ${DEFAULT_PATHS.peer}), the orderer's FileLedger.Location (default ${DEFAULT_PATHS.orderer}), the CA's home (default ${DEFAULT_PATHS.ca}), an MSP folder, or a genesis/config block file.`),
    configFiles: { type: 'array', items: absolute('An absolute path.'), maxItems: 32, description: "Configuration files (core.yaml, orderer.yaml, fabric-ca-server-config.yaml, connection profiles), restored and rewritten by templates." },
    mspDir: absolute("The resource's own MSP folder, when outside its folder."),
    tlsDir: absolute('Its TLS certificates and keys, when outside its folder.'),
    organizationMsp: absolute("The organisation's MSP folder (a parent resource), backed up with it."),
    walDir: absolute('Orderers: the etcdraft WAL folder (Consensus.WALDir), when outside the ledger folder.'),
    snapDir: absolute('Orderers: the etcdraft snapshot folder (Consensus.SnapDir), when outside the ledger folder.'),
    caDatabase: absolute("CAs: the SQLite database file, when outside the CA's home."),
    stateDatabase: {
      description: "Peers: the state database, LevelDB inside the peer's folder (default) or CouchDB read through its HTTP API.",
      oneOf: [
        { type: 'object', additionalProperties: false, required: ['kind'], properties: { kind: { const: 'leveldb' } } },
        {
          type: 'object',
          additionalProperties: false,
          required: ['kind', 'url'],
          properties: {
            kind: { const: 'couchdb' },
            url: { type: 'string', minLength: 8, maxLength: 2048, description: "CouchDB's URL as the peer's machine reaches it." },
            username: { type: 'string', minLength: 1, maxLength: 256 },
            password: { type: 'string', minLength: 1, maxLength: 1024, writeOnly: true },
            databases: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 256 }, maxItems: 1000, description: "Only these databases (default: all but CouchDB's own)." },
          },
        },
      ],
    },
    stopCommand: argv('Stops the resource (docker stop, systemctl stop, any argv).'),
    startCommand: argv('Starts it again.'),
    checkCommand: argv('Exits 0 when the resource is up and well.'),
    rebuildCommand: argv("Peers: rebuilds the state database from the ledger (peer node rebuild-dbs), run with the peer stopped."),
    checkTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 120 },
    commandTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 86400, default: 300 },
  },
};

export function checkNodeConfig(config: FabricNodeConfig): void {
  const bad = (message: string) => new PluginError('INVALID_CONFIG', message);
  const paths: [string, string | undefined][] = [
    ['path', config.path],
    ['mspDir', config.mspDir],
    ['tlsDir', config.tlsDir],
    ['organizationMsp', config.organizationMsp],
    ['walDir', config.walDir],
    ['snapDir', config.snapDir],
    ['caDatabase', config.caDatabase],
    ...(config.configFiles ?? []).map((f, i) => [`configFiles[${i}]`, f] as [string, string]),
  ];
  for (const [field, path] of paths) {
    if (path === undefined) continue;
    if (!isAbsolute(path) || path.includes('\0')) throw bad(`${field} must be an absolute path, got "${path}"`);
    if (normalize(path) === '/') throw bad(`${field} cannot be the root folder`);
  }
  const state = config.stateDatabase;
  if (state?.kind === 'couchdb') {
    let url: URL;
    try {
      url = new URL(state.url);
    } catch {
      throw bad(`stateDatabase.url "${state.url}" is not a URL`);
    }
    if (url.protocol !== 'http:') throw bad(`stateDatabase.url must be an http: URL (reached from the peer's machine), got "${state.url}"`);
    if (url.username || url.password) throw bad('stateDatabase.url must not hold credentials: give username and password');
    if (Boolean(state.username) !== Boolean(state.password)) throw bad('stateDatabase needs both username and password, or neither');
  }
  if (config.startCommand && !config.stopCommand) throw bad('a startCommand needs its stopCommand');
}

/** The resource's main folder or file: the configured one, Fabric's default, or an error naming what is missing. */
export function resourcePath(role: string, config: FabricNodeConfig): string {
  const path = config.path ?? DEFAULT_PATHS[role as FabricRole];
  if (!path) throw new PluginError('INVALID_CONFIG', `a ${role} resource needs its path (${role === 'msp' ? 'the MSP folder' : 'the block file'})`);
  return path.replace(/\/+$/, '');
}

export const isRole = (role: string): role is FabricRole => (ROLES as readonly string[]).includes(role);

export interface ResourceOptions {
  /**
   * How a peer's state database is kept from getting ahead of its ledger: `state-first` reads it
   * before the ledger while the peer runs; `stop` stops the resource (peer, orderer, CA) for the
   * copy (it needs its stop and start commands).
   */
  consistency: 'state-first' | 'stop';
  /** Leave the state database out (it is rebuilt from the ledger on restore). */
  includeStateDatabase: boolean;
  /** Store a ledger that fails verification anyway (the backup is marked and its verify fails). */
  keepDamagedLedger: boolean;
  /** Certificates expiring within this many days are reported. */
  expiryWarningDays: number;
}

export const DEFAULT_RESOURCE_OPTIONS: ResourceOptions = { consistency: 'state-first', includeStateDatabase: true, keepDamagedLedger: false, expiryWarningDays: 30 };

export const resourceOptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    consistency: { enum: ['state-first', 'stop'], default: 'state-first', description: "state-first: a peer's state database is read before its ledger while it runs; stop: the peer, orderer or CA is stopped for the copy (its database and ledger at rest) and started and checked after it." },
    includeStateDatabase: { type: 'boolean', default: true, description: 'Leave it out to rebuild it from the ledger on restore.' },
    keepDamagedLedger: { type: 'boolean', default: false, description: 'Store a ledger that fails verification anyway (its backup then fails verify).' },
    expiryWarningDays: { type: 'integer', minimum: 1, maximum: 3650, default: 30 },
  },
};

/** A template: how a backup becomes a new network elsewhere. */
export interface RestoreTemplate {
  /** Backed-up resource name → target node name (default: the same name, then the same place among its role). */
  resources?: Record<string, string>;
  /** Host names in the configuration files, old → new. Every host:port a config file names must be mapped. */
  hosts?: Record<string, string>;
  /** Ports, old → new, replaced where a config file gives a host's port or a *port key. */
  ports?: Record<string, number>;
  /** Path prefixes in the configuration files, old → new. */
  paths?: Record<string, string>;
}

export interface FabricRestoreOptions {
  template?: RestoreTemplate;
  /** Do not start the resource after the restore (default false: start it and wait for its check). */
  leaveStopped?: boolean;
}

const stringMap = (description: string, value: JsonSchema): JsonSchema => ({ type: 'object', additionalProperties: value, description });

export const restoreOptionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    template: {
      type: 'object',
      additionalProperties: false,
      description: 'Restores the backup as a new network: machines come from the target nodes; host names, ports and paths are rewritten in the configuration files.',
      properties: {
        resources: stringMap('Backed-up resource name → target node name.', { type: 'string', minLength: 1, maxLength: 255 }),
        hosts: stringMap('Host name → new host name.', { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9._-]+$' }),
        ports: stringMap('Port → new port.', { type: 'integer', minimum: 1, maximum: 65535 }),
        paths: stringMap('Absolute path prefix → new prefix.', { type: 'string', minLength: 1, maxLength: 4096, pattern: '^/' }),
      },
    },
    leaveStopped: { type: 'boolean', default: false },
  },
};

export const timeoutOf = (config: FabricNodeConfig) => (config.commandTimeoutSeconds ?? 300) * 1000;
