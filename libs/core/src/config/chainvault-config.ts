/**
 * What the core needs from the server's configuration. The server validates the environment
 * and config file once, at start, and provides this object.
 */
export interface ChainvaultConfig {
  /** Where the SQLite catalog, the default local repository, installed plugins and the secret key live. */
  dataDir: string;
  host: string;
  port: number;
  /** PostgreSQL URL; SQLite in `dataDir` when undefined. */
  databaseUrl?: string;
  /** Key for secret node fields (base64 of 32 bytes); generated into `dataDir/secret.key` when undefined. */
  secretKey?: string;
  /** How many jobs one instance runs at once. */
  jobConcurrency: number;
  /** Extra directories whose packages are scanned for plugins, besides the built-in ones. */
  pluginPaths: string[];
  /** `installed` (default): installed plugins' job calls run in processes of their own; `all`: built-in ones too; `none`: all in the server's. */
  pluginIsolation?: 'installed' | 'all' | 'none';
  /** An isolated plugin call's JavaScript heap, in MiB. Default 1024. */
  pluginMemoryMb?: number;
  /** How long an isolated plugin call may go without progress, a log line or a storage call. Default 600 s. */
  pluginIdleSeconds?: number;
  /** Per plugin id, limits other than the defaults above. */
  pluginLimits?: Record<string, { memoryMb?: number; idleSeconds?: number; answerSeconds?: number }>;
  /** How often the scheduler looks for due fires. Default 15 s. */
  schedulerTickMs?: number;
  /** Backup jobs running at once against one node (or one network, for network-scope methods), across instances. Default 1. */
  maxJobsPerNode?: number;
  /** Backup jobs running at once into one destination, across instances. Default 2. */
  maxJobsPerDestination?: number;
  /** Runs of a job whose failure may pass (a node restarting), including the first. Default 3. */
  jobMaxAttempts?: number;
  /** The wait before the first retry; it doubles with each further one. Default 60 s. */
  retryBackoffMs?: number;
  /** How long a worker's claim on a job lasts without renewal before another instance takes the job over. Default 30 s. */
  leaseMs?: number;
  /** How long a disruptive job's cleanup (starting the nodes it stopped) may take. Default 5 minutes. */
  cleanupGraceMs?: number;
  /**
   * Read the current time from this file (an ISO-8601 instant) instead of the system clock. For
   * tests that drive the scheduler of several real processes through time; never set in production.
   */
  clockFile?: string;
  /**
   * Directories restores and exports may write into, besides `<dataDir>/restores` (always one).
   * Nothing is ever written inside the data directory outside that folder, nor into a repository.
   */
  restoreRoots?: string[];
  /** The URL users reach the server at, when it is not a loopback one: its host name is served, and its origin accepted. */
  publicUrl?: string;
  /** Further host names (besides loopback ones and the public URL's) that requests may name in `Host` and `Origin`. */
  allowedHosts?: string[];
  /** PEM certificate and key files: with both, the server speaks HTTPS and WSS. */
  tlsCert?: string;
  tlsKey?: string;
  /** A TLS-terminating proxy stands in front: a non-loopback listen address is allowed without a certificate. */
  behindTlsProxy?: boolean;
  /** `host:port` of a second listener that serves only GET /metrics, without a token (for a Prometheus on the same network). */
  metricsListen?: string;
  /** Deepest GraphQL selection accepted. Default 10. */
  maxQueryDepth?: number;
  /** Highest GraphQL query cost accepted (fields counted, lists multiplied by their page size). Default in QUERY_LIMIT_DEFAULTS. */
  maxQueryCost?: number;
  /** Most tokens (names, braces, values) a GraphQL document may have; parsing stops there. Default in QUERY_LIMIT_DEFAULTS. */
  maxQueryTokens?: number;
  /** VIEWER tokens see no job logs and no node, destination or restore paths. */
  viewerHidesPaths?: boolean;
}

/** The GraphQL limits used where the configuration leaves them out. */
export const QUERY_LIMIT_DEFAULTS = {
  maxQueryDepth: 10,
  maxQueryCost: 50_000,
  maxQueryTokens: 500,
} as const;

/** The values used where the configuration leaves an option out. */
export const JOB_DEFAULTS = {
  schedulerTickMs: 15_000,
  maxJobsPerNode: 1,
  maxJobsPerDestination: 2,
  jobMaxAttempts: 3,
  retryBackoffMs: 60_000,
  leaseMs: 30_000,
} as const;

export const CHAINVAULT_CONFIG = Symbol('CHAINVAULT_CONFIG');

/** Splits `host:port` (or `[v6]:port`). */
export function parseListenAddress(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value.trim());
  if (!match || Number(match[3]) > 65535) throw new Error(`"${value}" is not host:port (for example 127.0.0.1:9480)`);
  return { host: match[1] ?? match[2], port: Number(match[3]) };
}
