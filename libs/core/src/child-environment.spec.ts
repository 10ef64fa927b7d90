import { childEnvironment, isWithheldVariable } from './child-environment';

describe('childEnvironment', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it("leaves out chainvault's key, tokens, database URL and every chainvault variable named like a secret", () => {
    Object.assign(process.env, {
      CHAINVAULT_SECRET_KEY: 'a2V5',
      CHAINVAULT_TOKEN: 'cv_admin_token',
      CHAINVAULT_DATABASE_URL: 'postgres://backup:hunter2@db/chainvault',
      CHAINVAULT_S3_SECRET_ACCESS_KEY: 's3-secret',
      CHAINVAULT_SFTP_PASSWORD: 'sftp-password',
      CHAINVAULT_KEY_PASSPHRASE: 'passphrase',
      chainvault_api_token: 'lower-case-token',
      AWS_SECRET_ACCESS_KEY: 'aws-secret',
      PGPASSWORD: 'pg-password',
    });
    const env = childEnvironment();
    for (const name of [
      'CHAINVAULT_SECRET_KEY',
      'CHAINVAULT_TOKEN',
      'CHAINVAULT_DATABASE_URL',
      'CHAINVAULT_S3_SECRET_ACCESS_KEY',
      'CHAINVAULT_SFTP_PASSWORD',
      'CHAINVAULT_KEY_PASSPHRASE',
      'chainvault_api_token',
      'AWS_SECRET_ACCESS_KEY',
      'PGPASSWORD',
    ]) {
      expect(env).not.toHaveProperty([name]);
    }
    expect(JSON.stringify(env)).not.toMatch(/a2V5|cv_admin_token|hunter2|s3-secret|sftp-password|passphrase|lower-case-token/);
  });

  it("passes on only the basics (PATH, HOME, the locale, TZ): no other variable of the server's reaches a child", () => {
    Object.assign(process.env, { CHAINVAULT_PORT: '4100', CHAINVAULT_DATA_DIR: '/var/lib/chainvault', AWS_REGION: 'eu-west-1', GITHUB_TOKEN: 'not-ours', LC_ALL: 'C.UTF-8', TZ: 'Europe/Paris' });
    const env = childEnvironment();
    expect(env.PATH).toBe(process.env.PATH);
    expect(env).toMatchObject({ LC_ALL: 'C.UTF-8', TZ: 'Europe/Paris' });
    for (const name of ['CHAINVAULT_PORT', 'CHAINVAULT_DATA_DIR', 'AWS_REGION', 'GITHUB_TOKEN']) expect(env).not.toHaveProperty([name]);
  });

  it('sets what the caller passes on top, removes what it passes as undefined, and never touches process.env', () => {
    Object.assign(process.env, { CHAINVAULT_TOKEN: 'cv_admin_token', LANG: 'C.UTF-8' });
    const env = childEnvironment({ npm_config_ignore_scripts: 'true', LANG: undefined });
    expect(env.npm_config_ignore_scripts).toBe('true');
    expect(env).not.toHaveProperty(['LANG']);
    env.EXTRA = 'x';
    expect(process.env.LANG).toBe('C.UTF-8');
    expect(process.env.CHAINVAULT_TOKEN).toBe('cv_admin_token');
    expect(process.env.EXTRA).toBeUndefined();
  });

  it('withholds by name: chainvault variables named like secrets or URLs, and nothing else', () => {
    expect(['CHAINVAULT_SECRET_KEY', 'CHAINVAULT_TOKEN', 'CHAINVAULT_DATABASE_URL', 'CHAINVAULT_TLS_KEY'].filter(isWithheldVariable)).toHaveLength(4);
    expect(['CHAINVAULT_PORT', 'CHAINVAULT_HOST', 'CHAINVAULT_PLUGIN_PATHS', 'SECRET_KEY', 'MY_CHAINVAULT_TOKEN'].filter(isWithheldVariable)).toEqual([]);
  });
});
