/**
 * The server's configuration: defaults, then a JSON file (CHAINVAULT_CONFIG), then the
 * environment. Validated once, at start; every problem names the key and where it came from.
 */
import { JOB_DEFAULTS, type ChainvaultConfig } from '@chainvault/core';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

interface Option {
  key: keyof ChainvaultConfig;
  env: string;
  parse: (raw: unknown) => unknown;
  describe: string;
}


function text(raw: unknown): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw new Error('must be a non-empty string');
  return raw.trim();
}

function integer(min: number, max: number) {
  return (raw: unknown): number => {
    const value = typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : raw;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new Error(`must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
}

/** The API has no authentication yet, so it listens on loopback only (DESIGN §10). */
function loopbackHost(raw: unknown): string {
  const host = text(raw);
  const loopback = host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
  if (!loopback) throw new Error(`"${host}" is not a loopback address; until API tokens exist chainvault listens only on 127.0.0.0/8, ::1 or localhost`);
  return host;
}

function postgresUrl(raw: unknown): string {
  const url = text(raw);
  if (!/^postgres(ql)?:\/\//.test(url)) throw new Error('must be a PostgreSQL URL such as postgres://user@127.0.0.1:5432/chainvault');
  try {
    new URL(url);
  } catch {
    throw new Error('is not a valid URL');
  }
  return url;
}

function secretKey(raw: unknown): string {
  const key = text(raw);
  if (Buffer.from(key, 'base64').length !== 32) throw new Error('must be 32 bytes in base64 (openssl rand -base64 32)');
  return key;
}

function pathList(raw: unknown): string[] {
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(':').filter(Boolean) : null;
  if (!list || list.some((p) => typeof p !== 'string')) throw new Error('must be a list of directories (colon-separated in the environment)');
  return list as string[];
}

/** Every option: its config-file key, its environment variable, and how it is checked. Documented in the README. */
export const CONFIG_OPTIONS: Option[] = [
  { key: 'dataDir', env: 'CHAINVAULT_DATA_DIR', parse: text, describe: 'data directory' },
  { key: 'host', env: 'CHAINVAULT_HOST', parse: loopbackHost, describe: 'listen address' },
  { key: 'port', env: 'CHAINVAULT_PORT', parse: integer(0, 65535), describe: 'listen port' },
  { key: 'databaseUrl', env: 'CHAINVAULT_DATABASE_URL', parse: postgresUrl, describe: 'PostgreSQL catalog URL' },
  { key: 'secretKey', env: 'CHAINVAULT_SECRET_KEY', parse: secretKey, describe: 'key for secret node fields' },
  { key: 'jobConcurrency', env: 'CHAINVAULT_JOB_CONCURRENCY', parse: integer(1, 64), describe: 'jobs run at once' },
  { key: 'pluginPaths', env: 'CHAINVAULT_PLUGIN_PATHS', parse: pathList, describe: 'extra plugin directories' },
  { key: 'schedulerTickMs', env: 'CHAINVAULT_SCHEDULER_TICK_MS', parse: integer(100, 3_600_000), describe: 'how often the scheduler looks for due fires' },
  { key: 'maxJobsPerNode', env: 'CHAINVAULT_MAX_JOBS_PER_NODE', parse: integer(1, 64), describe: 'backups running at once per node' },
  { key: 'maxJobsPerDestination', env: 'CHAINVAULT_MAX_JOBS_PER_DESTINATION', parse: integer(1, 64), describe: 'backups running at once per destination' },
  { key: 'jobMaxAttempts', env: 'CHAINVAULT_JOB_MAX_ATTEMPTS', parse: integer(1, 20), describe: 'runs of a job whose failure may pass' },
  { key: 'retryBackoffMs', env: 'CHAINVAULT_RETRY_BACKOFF_MS', parse: integer(0, 86_400_000), describe: 'wait before the first retry' },
  { key: 'leaseMs', env: 'CHAINVAULT_LEASE_MS', parse: integer(1_000, 600_000), describe: 'job lease before another instance takes over' },
  { key: 'clockFile', env: 'CHAINVAULT_CLOCK_FILE', parse: text, describe: 'test clock file' },
];

export const DEFAULTS: ChainvaultConfig = {
  dataDir: './data',
  host: '127.0.0.1',
  port: 4800,
  jobConcurrency: 2,
  pluginPaths: [],
  ...JOB_DEFAULTS,
};

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ChainvaultConfig {
  const problems: string[] = [];
  const config: Record<string, unknown> = { ...DEFAULTS };

  const file = env.CHAINVAULT_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(resolve(cwd, file), 'utf8'));
    } catch (error) {
      throw new ConfigError([`CHAINVAULT_CONFIG: cannot read ${file}: ${(error as Error).message}`]);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError([`CHAINVAULT_CONFIG: ${file} must hold a JSON object`]);
    for (const [key, raw] of Object.entries(parsed)) {
      const option = CONFIG_OPTIONS.find((o) => o.key === key);
      if (!option) {
        problems.push(`${file}: unknown key "${key}" (known: ${CONFIG_OPTIONS.map((o) => o.key).join(', ')})`);
        continue;
      }
      try {
        config[key] = option.parse(raw);
      } catch (error) {
        problems.push(`${file}: "${key}" ${(error as Error).message}`);
      }
    }
  }
  for (const option of CONFIG_OPTIONS) {
    const raw = env[option.env];
    if (raw === undefined || raw === '') continue;
    try {
      config[option.key] = option.parse(raw);
    } catch (error) {
      problems.push(`${option.env} ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const result = config as unknown as ChainvaultConfig;
  return { ...result, dataDir: resolve(cwd, result.dataDir), pluginPaths: result.pluginPaths.map((p) => resolve(cwd, p)) };
}
