/**
 * The server's configuration: defaults, then a JSON file (CHAINVAULT_CONFIG), then the
 * environment. Validated once, at start; every problem names the key and where it came from.
 */
import { JOB_DEFAULTS, parseListenAddress, type ChainvaultConfig } from '@chainvault/core';
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

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

function listenHost(raw: unknown): string {
  const host = text(raw);
  if (!isIP(host) && !/^[a-zA-Z0-9.-]+$/.test(host)) throw new Error(`"${host}" is not an IP address or host name`);
  return host;
}

function flag(raw: unknown): boolean {
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'string' && /^(true|1|yes)$/i.test(raw.trim())) return true;
  if (typeof raw === 'string' && /^(false|0|no)$/i.test(raw.trim())) return false;
  throw new Error(`must be true or false, got ${JSON.stringify(raw)}`);
}

function httpUrl(raw: unknown): string {
  const value = text(raw);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`"${value}" is not a URL such as https://chainvault.example.com`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`must be an http(s) URL, got "${value}"`);
  return url.origin;
}

function hostList(raw: unknown): string[] {
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',').map((h) => h.trim()).filter(Boolean) : null;
  if (!list || list.some((h) => typeof h !== 'string' || !/^[a-zA-Z0-9.:-]+$/.test(h))) throw new Error('must be a list of host names (comma-separated in the environment)');
  return (list as string[]).map((h) => h.toLowerCase());
}

function readableFile(raw: unknown): string {
  const path = text(raw);
  try {
    readFileSync(path);
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as Error).message}`);
  }
  return path;
}

function listenAddress(raw: unknown): string {
  const value = text(raw);
  parseListenAddress(value);
  return value;
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

function isolation(raw: unknown): 'installed' | 'all' | 'none' {
  if (raw !== 'installed' && raw !== 'all' && raw !== 'none') throw new Error('must be "installed" (installed plugins run in processes of their own), "all" (built-in ones too) or "none"');
  return raw;
}

/** `{ "<plugin id>": { "memoryMb": 512, "idleSeconds": 60, "answerSeconds": 10 } }`, in the config file or as JSON in the environment. */
function pluginLimits(raw: unknown): Record<string, { memoryMb?: number; idleSeconds?: number; answerSeconds?: number }> {
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      throw new Error('must be JSON such as {"mychain": {"memoryMb": 512, "idleSeconds": 60}}');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('must be an object of plugin ids to { memoryMb, idleSeconds, answerSeconds }');
  for (const [id, limits] of Object.entries(value)) {
    if (typeof limits !== 'object' || limits === null || Array.isArray(limits)) throw new Error(`"${id}" must be an object such as { "memoryMb": 512 }`);
    for (const [key, n] of Object.entries(limits)) {
      if (!['memoryMb', 'idleSeconds', 'answerSeconds'].includes(key)) throw new Error(`"${id}": unknown limit "${key}" (memoryMb, idleSeconds, answerSeconds)`);
      if (!Number.isInteger(n) || (n as number) < 1) throw new Error(`"${id}".${key} must be a whole number of at least 1`);
    }
  }
  return value as Record<string, { memoryMb?: number; idleSeconds?: number; answerSeconds?: number }>;
}

function pathList(raw: unknown): string[] {
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(':').filter(Boolean) : null;
  if (!list || list.some((p) => typeof p !== 'string')) throw new Error('must be a list of directories (colon-separated in the environment)');
  return list as string[];
}

/** Every option: its config-file key, its environment variable, and how it is checked. Documented in the README. */
export const CONFIG_OPTIONS: Option[] = [
  { key: 'dataDir', env: 'CHAINVAULT_DATA_DIR', parse: text, describe: 'data directory' },
  { key: 'host', env: 'CHAINVAULT_HOST', parse: listenHost, describe: 'listen address' },
  { key: 'port', env: 'CHAINVAULT_PORT', parse: integer(0, 65535), describe: 'listen port' },
  { key: 'databaseUrl', env: 'CHAINVAULT_DATABASE_URL', parse: postgresUrl, describe: 'PostgreSQL catalog URL' },
  { key: 'secretKey', env: 'CHAINVAULT_SECRET_KEY', parse: secretKey, describe: 'key for secret node fields' },
  { key: 'jobConcurrency', env: 'CHAINVAULT_JOB_CONCURRENCY', parse: integer(1, 64), describe: 'jobs run at once' },
  { key: 'pluginPaths', env: 'CHAINVAULT_PLUGIN_PATHS', parse: pathList, describe: 'extra plugin directories' },
  { key: 'pluginIsolation', env: 'CHAINVAULT_PLUGIN_ISOLATION', parse: isolation, describe: 'where installed plugins run their jobs' },
  { key: 'pluginMemoryMb', env: 'CHAINVAULT_PLUGIN_MEMORY_MB', parse: integer(64, 65_536), describe: "an isolated plugin call's heap limit" },
  { key: 'pluginIdleSeconds', env: 'CHAINVAULT_PLUGIN_IDLE_SECONDS', parse: integer(1, 86_400), describe: 'an isolated plugin call without progress is stopped after' },
  { key: 'pluginLimits', env: 'CHAINVAULT_PLUGIN_LIMITS', parse: pluginLimits, describe: 'limits per plugin id' },
  { key: 'schedulerTickMs', env: 'CHAINVAULT_SCHEDULER_TICK_MS', parse: integer(100, 3_600_000), describe: 'how often the scheduler looks for due fires' },
  { key: 'maxJobsPerNode', env: 'CHAINVAULT_MAX_JOBS_PER_NODE', parse: integer(1, 64), describe: 'backups running at once per node' },
  { key: 'maxJobsPerDestination', env: 'CHAINVAULT_MAX_JOBS_PER_DESTINATION', parse: integer(1, 64), describe: 'backups running at once per destination' },
  { key: 'jobMaxAttempts', env: 'CHAINVAULT_JOB_MAX_ATTEMPTS', parse: integer(1, 20), describe: 'runs of a job whose failure may pass' },
  { key: 'retryBackoffMs', env: 'CHAINVAULT_RETRY_BACKOFF_MS', parse: integer(0, 86_400_000), describe: 'wait before the first retry' },
  { key: 'leaseMs', env: 'CHAINVAULT_LEASE_MS', parse: integer(1_000, 600_000), describe: 'job lease before another instance takes over' },
  { key: 'cleanupGraceMs', env: 'CHAINVAULT_CLEANUP_GRACE_MS', parse: integer(1_000, 3_600_000), describe: "time a disruptive job's cleanup may take" },
  { key: 'clockFile', env: 'CHAINVAULT_CLOCK_FILE', parse: text, describe: 'test clock file' },
  { key: 'restoreRoots', env: 'CHAINVAULT_RESTORE_ROOTS', parse: pathList, describe: 'directories restores and exports may write into' },
  { key: 'publicUrl', env: 'CHAINVAULT_PUBLIC_URL', parse: httpUrl, describe: 'the URL users reach the server at' },
  { key: 'allowedHosts', env: 'CHAINVAULT_ALLOWED_HOSTS', parse: hostList, describe: 'further host names requests may use' },
  { key: 'tlsCert', env: 'CHAINVAULT_TLS_CERT', parse: readableFile, describe: 'PEM certificate file (HTTPS)' },
  { key: 'tlsKey', env: 'CHAINVAULT_TLS_KEY', parse: readableFile, describe: 'PEM private key file (HTTPS)' },
  { key: 'behindTlsProxy', env: 'CHAINVAULT_BEHIND_TLS_PROXY', parse: flag, describe: 'a TLS proxy stands in front' },
  { key: 'metricsListen', env: 'CHAINVAULT_METRICS_LISTEN', parse: listenAddress, describe: 'host:port serving /metrics without a token' },
  { key: 'maxQueryDepth', env: 'CHAINVAULT_MAX_QUERY_DEPTH', parse: integer(2, 100), describe: 'deepest GraphQL query' },
  { key: 'maxQueryCost', env: 'CHAINVAULT_MAX_QUERY_COST', parse: integer(100, 100_000_000), describe: 'highest GraphQL query cost' },
  { key: 'maxQueryTokens', env: 'CHAINVAULT_MAX_QUERY_TOKENS', parse: integer(200, 1_000_000), describe: 'most tokens in a GraphQL document' },
  { key: 'viewerHidesPaths', env: 'CHAINVAULT_VIEWER_HIDES_PATHS', parse: flag, describe: 'VIEWER tokens see no logs and no paths' },
];

/** Rules between options, checked once every option has its value. */
function crossProblems(config: ChainvaultConfig): string[] {
  const problems: string[] = [];
  if (Boolean(config.tlsCert) !== Boolean(config.tlsKey)) problems.push('CHAINVAULT_TLS_CERT and CHAINVAULT_TLS_KEY go together: set both for HTTPS, or neither');
  if (!isLoopback(config.host) && !config.tlsCert && !config.behindTlsProxy) {
    problems.push(
      `CHAINVAULT_HOST "${config.host}" is not a loopback address: tokens would cross the network in clear text. Set CHAINVAULT_TLS_CERT and CHAINVAULT_TLS_KEY (HTTPS), or CHAINVAULT_BEHIND_TLS_PROXY=true when a TLS proxy stands in front`,
    );
  }
  return problems;
}

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
  const result = config as unknown as ChainvaultConfig;
  problems.push(...crossProblems(result));
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...result,
    dataDir: resolve(cwd, result.dataDir),
    pluginPaths: result.pluginPaths.map((p) => resolve(cwd, p)),
    restoreRoots: result.restoreRoots?.map((p) => resolve(cwd, p)),
  };
}
