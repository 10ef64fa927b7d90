/**
 * What a RocksDB node is (its machine, its database, where its checkpoints go, the operator's
 * commands) and the checkpoint policy's options, named as the VMware Blockchain documentation
 * names them (seed 002): FEATURE_db_checkpoints, db_checkpoint_duration, dbcheckpoint_window,
 * num_of_rocksdbcheckpoints, db_checkpoint_diskspace_threshold, db_checkpoint_path.
 */
import { PluginError, machineSchema, type JsonSchema, type MachineConfig } from '@chainvault/plugin-sdk';
import { isAbsolute, normalize } from 'node:path';

export interface RocksdbCommands {
  /** Asks the node for a checkpoint now (Concord: `concop dbCheckpoint create` in the operator container). */
  createCheckpoint?: string[];
  /** Prints the node's own view of its checkpoints (`concop dbCheckpoint status`); shown in the job log. */
  checkpointStatus?: string[];
  /** Stops the node (for restores); returns once it has stopped. */
  stop?: string[];
  /** Starts the node again. */
  start?: string[];
}

export interface RocksdbNodeConfig {
  machine?: MachineConfig;
  /** The RocksDB database folder (it holds CURRENT and a MANIFEST). */
  dataDirectory: string;
  /** Where the node's checkpoints are, `<checkpointPath>/<lastBlockId>`. Default: the policy's db_checkpoint_path. */
  checkpointPath?: string;
  /** Where the last block id is read: the greatest key with this prefix, its rest a decimal number. Default: the sequence number. */
  blockKeyPrefix?: string;
  /** The column family holding the block keys (default `default`). */
  blockColumnFamily?: string;
  commands?: RocksdbCommands;
  /** How long one operator command may take, in seconds (default 300). */
  commandTimeoutSeconds?: number;
}

export type CheckpointSource = 'chainvault' | 'node';

export interface CheckpointOptions {
  FEATURE_db_checkpoints: boolean;
  db_checkpoint_duration: number;
  dbcheckpoint_window: number;
  num_of_rocksdbcheckpoints: number;
  db_checkpoint_diskspace_threshold: number;
  db_checkpoint_path: string;
  source: CheckpointSource;
  /** How long to wait for the node to make a checkpoint asked for with its createCheckpoint command, in seconds. */
  createTimeoutSeconds: number;
}

export const DEFAULT_OPTIONS: CheckpointOptions = {
  FEATURE_db_checkpoints: true,
  db_checkpoint_duration: 21600,
  dbcheckpoint_window: 30000,
  num_of_rocksdbcheckpoints: 2,
  db_checkpoint_diskspace_threshold: 0.5,
  db_checkpoint_path: 'rocksdbdata/checkpoints',
  source: 'chainvault',
  createTimeoutSeconds: 600,
};

const command: JsonSchema = { type: 'array', items: { type: 'string', maxLength: 4096 }, minItems: 1, maxItems: 64 };

export const nodeConfigSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['dataDirectory'],
  properties: {
    machine: machineSchema,
    dataDirectory: { type: 'string', minLength: 2, maxLength: 4096, description: 'The RocksDB database folder (absolute).' },
    checkpointPath: { type: 'string', minLength: 2, maxLength: 4096, description: "Where the node's checkpoints live (absolute). Default: the policy's db_checkpoint_path." },
    blockKeyPrefix: { type: 'string', minLength: 1, maxLength: 256, description: 'Block keys are this prefix and a decimal block id; the greatest is the last block. Without it, the sequence number stands for the block id.' },
    blockColumnFamily: { type: 'string', minLength: 1, maxLength: 256 },
    commands: {
      type: 'object',
      additionalProperties: false,
      properties: {
        createCheckpoint: { ...command, description: 'Asks the node for a checkpoint now, e.g. ["docker","exec","operator","sh","-c","./concop dbCheckpoint create"].' },
        checkpointStatus: { ...command, description: 'Prints the node\'s checkpoints, e.g. ["docker","exec","operator","sh","-c","./concop dbCheckpoint status"].' },
        stop: { ...command, description: 'Stops the node; used by restores.' },
        start: { ...command, description: 'Starts the node; used by restores.' },
      },
    },
    commandTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 86400, default: 300 },
  },
};

export const optionsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    FEATURE_db_checkpoints: { type: 'boolean', default: true, description: 'Checkpoints are made at all.' },
    db_checkpoint_duration: { type: 'number', minimum: 0, default: 21600, description: 'Seconds between checkpoints: a scheduled run sooner after the last one is SKIPPED.' },
    dbcheckpoint_window: { type: 'integer', minimum: 0, default: 30000, description: 'Blocks (sequence numbers) executed since the last checkpoint before a scheduled run makes another.' },
    num_of_rocksdbcheckpoints: { type: 'integer', minimum: 1, maximum: 100, default: 2, description: 'Checkpoints kept on the node; the oldest beyond it are removed.' },
    db_checkpoint_diskspace_threshold: { type: 'number', minimum: 0, maximum: 100, default: 0.5, description: 'No checkpoint when free space would fall under this × the database size.' },
    db_checkpoint_path: { type: 'string', minLength: 1, maxLength: 4096, default: 'rocksdbdata/checkpoints', description: "Where checkpoints are made: absolute, or relative to the data directory's parent (Concord: /mnt/data)." },
    source: { enum: ['chainvault', 'node'], default: 'chainvault', description: 'chainvault: chainvault makes the checkpoint of the live database. node: ship the checkpoints the node makes itself.' },
    createTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 86400, default: 600 },
  },
};

/** Checks beyond the schema: absolute, distinct paths and commands that name a program. */
export function checkNodeConfig(config: RocksdbNodeConfig): void {
  const bad = (message: string) => new PluginError('INVALID_CONFIG', message);
  for (const [field, value] of [['dataDirectory', config.dataDirectory], ['checkpointPath', config.checkpointPath]] as const) {
    if (value === undefined) continue;
    if (!isAbsolute(value)) throw bad(`${field} must be an absolute path, got "${value}"`);
    if (value.includes('\0')) throw bad(`${field} must not contain a NUL character`);
    if (normalize(value) === '/') throw bad(`${field} cannot be /`);
  }
  if (config.checkpointPath && normalize(config.checkpointPath).replace(/\/+$/, '') === normalize(config.dataDirectory).replace(/\/+$/, '')) {
    throw bad('checkpointPath cannot be the data directory itself: checkpoints go in a folder of their own');
  }
  for (const [name, argv] of Object.entries(config.commands ?? {})) {
    if (Array.isArray(argv) && (argv[0] ?? '').trim() === '') throw bad(`commands.${name} must start with the program to run`);
  }
}

/** The options with their defaults filled in. */
export function withDefaults(options: Partial<CheckpointOptions> | undefined): CheckpointOptions {
  return { ...DEFAULT_OPTIONS, ...(options ?? {}) };
}
