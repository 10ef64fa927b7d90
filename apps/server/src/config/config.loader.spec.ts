import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './config.loader';

const KEY = randomBytes(32).toString('base64');

/** The problems loadConfig reports, or a failure if it accepted the configuration. */
function problemsOf(env: NodeJS.ProcessEnv, cwd: string): string[] {
  try {
    loadConfig(env, cwd);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected the configuration to be refused');
}

describe('loadConfig', () => {
  let cwd: string;

  beforeEach(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'chainvault-config-'));
  });
  afterEach(async () => {
    await rm(cwd, { recursive: true, force: true });
  });

  const writeConfig = async (content: unknown, name = 'chainvault.json') => {
    await writeFile(join(cwd, name), typeof content === 'string' ? content : JSON.stringify(content));
    return name;
  };

  it('starts with the documented defaults: ./data under the working directory, 127.0.0.1:4800, SQLite', () => {
    const config = loadConfig({}, cwd);
    expect(config).toEqual({
      dataDir: join(cwd, 'data'),
      host: '127.0.0.1',
      port: 4800,
      jobConcurrency: 2,
      pluginPaths: [],
      schedulerTickMs: 15_000,
      maxJobsPerNode: 1,
      maxJobsPerDestination: 2,
      jobMaxAttempts: 3,
      retryBackoffMs: 60_000,
      leaseMs: 30_000,
    });
    expect(config.clockFile).toBeUndefined();
    expect(config.databaseUrl).toBeUndefined();
    expect(config.secretKey).toBeUndefined();
  });

  it('takes every setting from the environment', () => {
    const config = loadConfig(
      {
        CHAINVAULT_DATA_DIR: 'var/chainvault',
        CHAINVAULT_HOST: '::1',
        CHAINVAULT_PORT: '4900',
        CHAINVAULT_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/chainvault',
        CHAINVAULT_SECRET_KEY: KEY,
        CHAINVAULT_JOB_CONCURRENCY: '4',
        CHAINVAULT_PLUGIN_PATHS: '/opt/plugins:extra',
        CHAINVAULT_SCHEDULER_TICK_MS: '500',
        CHAINVAULT_MAX_JOBS_PER_NODE: '2',
        CHAINVAULT_MAX_JOBS_PER_DESTINATION: '3',
        CHAINVAULT_JOB_MAX_ATTEMPTS: '5',
        CHAINVAULT_RETRY_BACKOFF_MS: '1000',
        CHAINVAULT_LEASE_MS: '4000',
        CHAINVAULT_CLOCK_FILE: '/tmp/clock',
      },
      cwd,
    );
    expect(config).toEqual({
      dataDir: join(cwd, 'var/chainvault'),
      host: '::1',
      port: 4900,
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/chainvault',
      secretKey: KEY,
      jobConcurrency: 4,
      pluginPaths: ['/opt/plugins', join(cwd, 'extra')],
      schedulerTickMs: 500,
      maxJobsPerNode: 2,
      maxJobsPerDestination: 3,
      jobMaxAttempts: 5,
      retryBackoffMs: 1000,
      leaseMs: 4000,
      clockFile: '/tmp/clock',
    });
  });

  it('leaves an absolute data directory as it is, and accepts localhost', () => {
    const config = loadConfig({ CHAINVAULT_DATA_DIR: '/srv/chainvault', CHAINVAULT_HOST: 'localhost' }, cwd);
    expect(config.dataDir).toBe('/srv/chainvault');
    expect(config.host).toBe('localhost');
  });

  it('reads a config file named by CHAINVAULT_CONFIG, and the environment wins over it', async () => {
    const file = await writeConfig({ dataDir: '/srv/from-file', port: 5000, jobConcurrency: 3, databaseUrl: 'postgresql://u@127.0.0.1/db' });
    const fromFile = loadConfig({ CHAINVAULT_CONFIG: file }, cwd);
    expect(fromFile).toMatchObject({ dataDir: '/srv/from-file', port: 5000, jobConcurrency: 3, databaseUrl: 'postgresql://u@127.0.0.1/db', host: '127.0.0.1' });

    const overridden = loadConfig({ CHAINVAULT_CONFIG: file, CHAINVAULT_PORT: '6000', CHAINVAULT_DATA_DIR: '/srv/from-env' }, cwd);
    expect(overridden).toMatchObject({ dataDir: '/srv/from-env', port: 6000, jobConcurrency: 3 });
  });

  it.each([
    ['CHAINVAULT_PORT', 'abc', /CHAINVAULT_PORT.*whole number from 0 to 65535.*"abc"/],
    ['CHAINVAULT_PORT', '70000', /CHAINVAULT_PORT.*whole number from 0 to 65535.*"70000"/],
    ['CHAINVAULT_PORT', '48.5', /CHAINVAULT_PORT.*whole number/],
    ['CHAINVAULT_HOST', '0.0.0.0', /CHAINVAULT_HOST "0\.0\.0\.0" is not a loopback address.*CHAINVAULT_TLS_CERT and CHAINVAULT_TLS_KEY.*CHAINVAULT_BEHIND_TLS_PROXY=true/],
    ['CHAINVAULT_HOST', '192.168.1.10', /CHAINVAULT_HOST "192\.168\.1\.10" is not a loopback address/],
    ['CHAINVAULT_HOST', 'evil host', /CHAINVAULT_HOST.*not an IP address or host name/],
    ['CHAINVAULT_TLS_CERT', '/nonexistent/cert.pem', /CHAINVAULT_TLS_CERT cannot read \/nonexistent\/cert\.pem/],
    ['CHAINVAULT_BEHIND_TLS_PROXY', 'perhaps', /CHAINVAULT_BEHIND_TLS_PROXY must be true or false/],
    ['CHAINVAULT_PUBLIC_URL', 'ftp://x', /CHAINVAULT_PUBLIC_URL must be an http\(s\) URL/],
    ['CHAINVAULT_METRICS_LISTEN', '9480', /CHAINVAULT_METRICS_LISTEN.*not host:port/],
    ['CHAINVAULT_MAX_QUERY_COST', '5', /CHAINVAULT_MAX_QUERY_COST.*whole number from 100/],
    ['CHAINVAULT_DATABASE_URL', 'mysql://root@127.0.0.1/chainvault', /CHAINVAULT_DATABASE_URL.*PostgreSQL URL/],
    ['CHAINVAULT_SECRET_KEY', randomBytes(16).toString('base64'), /CHAINVAULT_SECRET_KEY.*32 bytes.*openssl rand -base64 32/],
    ['CHAINVAULT_JOB_CONCURRENCY', '0', /CHAINVAULT_JOB_CONCURRENCY.*whole number from 1 to 64/],
  ])('refuses %s=%s and names the variable', (variable, value, message) => {
    const problems = problemsOf({ [variable]: value }, cwd);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it('names the file and the key for a bad value in the config file', async () => {
    const file = await writeConfig({ host: '0.0.0.0', port: 'eighty' });
    const problems = problemsOf({ CHAINVAULT_CONFIG: file }, cwd);
    expect(problems).toEqual([expect.stringMatching(/chainvault\.json: "port" must be a whole number/), expect.stringMatching(/CHAINVAULT_HOST "0\.0\.0\.0" is not a loopback address/)]);
  });

  it('listens on a non-loopback address only with TLS or behind a declared TLS proxy', async () => {
    expect(loadConfig({ CHAINVAULT_HOST: '0.0.0.0', CHAINVAULT_BEHIND_TLS_PROXY: 'true' }, cwd)).toMatchObject({ host: '0.0.0.0', behindTlsProxy: true });
    const cert = join(cwd, 'cert.pem');
    const key = join(cwd, 'key.pem');
    await writeFile(cert, 'cert');
    await writeFile(key, 'key');
    expect(loadConfig({ CHAINVAULT_HOST: '0.0.0.0', CHAINVAULT_TLS_CERT: cert, CHAINVAULT_TLS_KEY: key }, cwd)).toMatchObject({ tlsCert: cert, tlsKey: key });
    expect(problemsOf({ CHAINVAULT_TLS_CERT: cert }, cwd)).toEqual([expect.stringMatching(/CHAINVAULT_TLS_CERT and CHAINVAULT_TLS_KEY go together/)]);
  });

  it('takes restore roots, host names and query limits', () => {
    const config = loadConfig({ CHAINVAULT_RESTORE_ROOTS: '/srv/restores:relative', CHAINVAULT_ALLOWED_HOSTS: 'Vault.example.com, backup.lan', CHAINVAULT_PUBLIC_URL: 'https://vault.example.com/ui', CHAINVAULT_MAX_QUERY_DEPTH: '12' }, cwd);
    expect(config.restoreRoots).toEqual(['/srv/restores', join(cwd, 'relative')]);
    expect(config.allowedHosts).toEqual(['vault.example.com', 'backup.lan']);
    expect(config.publicUrl).toBe('https://vault.example.com');
    expect(config.maxQueryDepth).toBe(12);
  });

  it('refuses an unknown key in the config file and lists the known ones', async () => {
    const file = await writeConfig({ dataDir: '/srv/x', datadir: '/srv/typo' });
    const problems = problemsOf({ CHAINVAULT_CONFIG: file }, cwd);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/chainvault\.json: unknown key "datadir"/);
    expect(problems[0]).toMatch(/known: .*dataDir.*port/);
  });

  it('says which file it cannot read, and why', async () => {
    expect(problemsOf({ CHAINVAULT_CONFIG: 'missing.json' }, cwd)).toEqual([expect.stringMatching(/^CHAINVAULT_CONFIG: cannot read missing\.json: .*ENOENT/)]);

    const file = await writeConfig('{ "port": 4800, ');
    expect(problemsOf({ CHAINVAULT_CONFIG: file }, cwd)).toEqual([expect.stringMatching(/^CHAINVAULT_CONFIG: cannot read chainvault\.json: .*JSON/)]);

    const array = await writeConfig([1, 2], 'array.json');
    expect(problemsOf({ CHAINVAULT_CONFIG: array }, cwd)).toEqual([expect.stringMatching(/array\.json must hold a JSON object/)]);
  });

  it('says when the config file exists but cannot be read', async () => {
    // A directory cannot be read as a file whoever runs the test (root reads files of mode 000).
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(cwd, 'conf.d'));
    expect(problemsOf({ CHAINVAULT_CONFIG: 'conf.d' }, cwd)).toEqual([expect.stringMatching(/^CHAINVAULT_CONFIG: cannot read conf\.d: .*EISDIR/)]);
  });

  it('reports every problem at once, from the file and the environment', async () => {
    const file = await writeConfig({ colour: 'blue', jobConcurrency: 100 });
    const problems = problemsOf(
      { CHAINVAULT_CONFIG: file, CHAINVAULT_PORT: 'abc', CHAINVAULT_HOST: '0.0.0.0', CHAINVAULT_DATABASE_URL: 'mysql://x', CHAINVAULT_SECRET_KEY: 'short' },
      cwd,
    );
    expect(problems).toHaveLength(6);
    for (const name of ['"colour"', '"jobConcurrency"', 'CHAINVAULT_PORT', 'CHAINVAULT_HOST', 'CHAINVAULT_DATABASE_URL', 'CHAINVAULT_SECRET_KEY']) {
      expect(problems.some((p) => p.includes(name))).toBe(true);
    }
    // The error's own message, as `chainvault serve` prints it, lists them one per line.
    expect(() => loadConfig({ CHAINVAULT_CONFIG: file, CHAINVAULT_PORT: 'abc' }, cwd)).toThrow(/^invalid configuration:\n {2}- .*\n {2}- .*\n {2}- .*CHAINVAULT_PORT/);
  });
});
