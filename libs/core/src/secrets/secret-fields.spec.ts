import type { JsonSchema } from '@chainvault/plugin-sdk';
import { mergeSecrets, secretFieldNames, splitSecrets } from './secret-fields';

const schema: JsonSchema = {
  type: 'object',
  properties: {
    rpcUrl: { type: 'string' },
    password: { type: 'string', writeOnly: true },
    tls: {
      type: 'object',
      properties: {
        cert: { type: 'string' },
        key: { type: 'string', writeOnly: true },
        ca: { type: 'object', properties: { bundle: { type: 'string' }, pin: { type: 'string', writeOnly: true } } },
      },
    },
    labels: { type: 'object' },
  },
};

describe('splitSecrets / mergeSecrets', () => {
  const config = {
    rpcUrl: 'http://127.0.0.1:8545',
    password: 'top-secret',
    tls: { cert: 'CERT', key: 'PRIVATE KEY', ca: { bundle: 'BUNDLE', pin: 'PIN' } },
    labels: { key: 'not a secret' },
  };

  it('takes writeOnly fields out of the public part, at every depth', () => {
    const { publicConfig, secrets } = splitSecrets(schema, config);
    expect(publicConfig).toEqual({ rpcUrl: 'http://127.0.0.1:8545', tls: { cert: 'CERT', ca: { bundle: 'BUNDLE' } }, labels: { key: 'not a secret' } });
    expect(JSON.stringify(publicConfig)).not.toMatch(/top-secret|PRIVATE KEY|PIN/);
    expect(secrets).toEqual({ password: 'top-secret', tls: { key: 'PRIVATE KEY', ca: { pin: 'PIN' } } });
    expect(secretFieldNames(secrets).sort()).toEqual(['password', 'tls.ca.pin', 'tls.key']);
  });

  it('merges them back into the config the plugin was given', () => {
    const { publicConfig, secrets } = splitSecrets(schema, config);
    expect(mergeSecrets(publicConfig, secrets)).toEqual(config);
  });

  it('has no secret part when no secret field is set', () => {
    const { publicConfig, secrets } = splitSecrets(schema, { rpcUrl: 'http://x', tls: { cert: 'C' } });
    expect(secrets).toBeNull();
    expect(publicConfig).toEqual({ rpcUrl: 'http://x', tls: { cert: 'C' } });
    expect(mergeSecrets(publicConfig, null)).toEqual(publicConfig);
    expect(secretFieldNames(null)).toEqual([]);
  });

  it('does not change the config it splits', () => {
    const copy = structuredClone(config);
    splitSecrets(schema, copy);
    expect(copy).toEqual(config);
  });

  it('does not change the public config it merges into', () => {
    const { publicConfig, secrets } = splitSecrets(schema, config);
    const before = structuredClone(publicConfig);
    mergeSecrets(publicConfig, secrets);
    expect(publicConfig).toEqual(before);
  });
});
