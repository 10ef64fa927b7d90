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
}

export const CHAINVAULT_CONFIG = Symbol('CHAINVAULT_CONFIG');
