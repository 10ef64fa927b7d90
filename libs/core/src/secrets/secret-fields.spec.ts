import { machineSchema, type JsonSchema } from '@chainvault/plugin-sdk';
import { keepSecrets, maskSecretValues, mergeSecrets, secretFieldNames, splitSecrets, withSecretsMasked } from './secret-fields';

/** Every string anywhere in a value, to check that none of the secrets is among them. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

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

describe('secrets inside arrays', () => {
  const peersSchema: JsonSchema = {
    type: 'object',
    properties: {
      peers: {
        type: 'array',
        items: { type: 'object', properties: { name: { type: 'string' }, token: { type: 'string', writeOnly: true } } },
      },
      apiKeys: { type: 'array', items: { type: 'string', writeOnly: true } },
    },
  };

  it('seals each item\'s own secret and mirrors the array position by position', () => {
    const config = { peers: [{ name: 'p0', token: 'tok-0' }, { name: 'p1' }, { name: 'p2', token: 'tok-2' }] };
    const { publicConfig, secrets } = splitSecrets(peersSchema, config);
    expect(publicConfig).toEqual({ peers: [{ name: 'p0' }, { name: 'p1' }, { name: 'p2' }] });
    expect(secrets).toEqual({ peers: [{ token: 'tok-0' }, null, { token: 'tok-2' }] });
    expect(secretFieldNames(secrets)).toEqual(['peers[0].token', 'peers[2].token']);
    expect(mergeSecrets(publicConfig, secrets)).toEqual(config);
  });

  it('keeps an array whose items hold no secret out of the secrets', () => {
    const { publicConfig, secrets } = splitSecrets(peersSchema, { peers: [{ name: 'p0' }, { name: 'p1' }] });
    expect(secrets).toBeNull();
    expect(publicConfig).toEqual({ peers: [{ name: 'p0' }, { name: 'p1' }] });
  });

  it('leaves a null in the public array where an item is a secret as a whole', () => {
    const config = { apiKeys: ['key-a', 'key-b'] };
    const { publicConfig, secrets } = splitSecrets(peersSchema, config);
    expect(publicConfig).toEqual({ apiKeys: [null, null] });
    expect(strings(publicConfig)).toEqual([]);
    expect(secretFieldNames(secrets)).toEqual(['apiKeys[0]', 'apiKeys[1]']);
    expect(mergeSecrets(publicConfig, secrets)).toEqual(config);
  });

  it('puts back an item that was null as null, and one that is a secret object whole', () => {
    const nested: JsonSchema = { type: 'object', properties: { creds: { type: 'array', items: { type: ['object', 'null'], writeOnly: true } } } };
    const config = { creds: [null, { user: 'u', pass: 'p4ss' }] };
    const { publicConfig, secrets } = splitSecrets(nested, config);
    expect(publicConfig).toEqual({ creds: [null, null] });
    expect(secretFieldNames(secrets)).toEqual(['creds[1].user', 'creds[1].pass']);
    expect(mergeSecrets(publicConfig, secrets)).toEqual(config);
  });

  it('walks arrays of arrays and tuples (prefixItems)', () => {
    const grid: JsonSchema = {
      type: 'object',
      properties: {
        grid: { type: 'array', items: { type: 'array', items: { type: 'object', properties: { pin: { type: 'string', writeOnly: true } } } } },
        pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'string', writeOnly: true }] } as JsonSchema,
      },
    };
    const config = { grid: [[{ pin: '1111' }], [{}, { pin: '2222' }]], pair: ['user', 'passw0rd'] };
    const { publicConfig, secrets } = splitSecrets(grid, config);
    expect(publicConfig).toEqual({ grid: [[{}], [{}, {}]], pair: ['user', null] });
    expect(secretFieldNames(secrets)).toEqual(['grid[0][0].pin', 'grid[1][1].pin', 'pair[1]']);
    expect(mergeSecrets(publicConfig, secrets)).toEqual(config);
  });
});

describe('a node config with replicas on machines (the SDK\'s machineSchema, a oneOf)', () => {
  const nodeSchema: JsonSchema = {
    type: 'object',
    properties: {
      network: { type: 'string' },
      machine: machineSchema,
      replicas: {
        type: 'array',
        items: { type: 'object', properties: { host: { type: 'string' }, machine: machineSchema }, required: ['host', 'machine'] },
      },
    },
  };
  const ssh = (host: string, key: string) => ({ kind: 'ssh', host, port: 22, user: 'chainvault', privateKey: key, hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` });
  const config = {
    network: 'concord',
    machine: ssh('client-1', '-----BEGIN OPENSSH PRIVATE KEY-----\nKEY-OF-CLIENT\n-----END OPENSSH PRIVATE KEY-----\n'),
    replicas: [
      { host: 'replica-0', machine: ssh('10.0.0.10', 'KEY-OF-REPLICA-0') },
      { host: 'replica-1', machine: { kind: 'local' } },
      { host: 'replica-2', machine: ssh('10.0.0.12', 'KEY-OF-REPLICA-2') },
    ],
  };

  it('keeps every private key out of the public config, local and SSH replicas mixed', () => {
    const { publicConfig, secrets } = splitSecrets(nodeSchema, config);
    expect(strings(publicConfig).join('\n')).not.toMatch(/KEY-OF/);
    expect(publicConfig).toEqual({
      network: 'concord',
      machine: { kind: 'ssh', host: 'client-1', port: 22, user: 'chainvault', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` },
      replicas: [
        { host: 'replica-0', machine: { kind: 'ssh', host: '10.0.0.10', port: 22, user: 'chainvault', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` } },
        { host: 'replica-1', machine: { kind: 'local' } },
        { host: 'replica-2', machine: { kind: 'ssh', host: '10.0.0.12', port: 22, user: 'chainvault', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` } },
      ],
    });
    expect(secrets).toEqual({
      machine: { privateKey: config.machine.privateKey },
      replicas: [{ machine: { privateKey: 'KEY-OF-REPLICA-0' } }, null, { machine: { privateKey: 'KEY-OF-REPLICA-2' } }],
    });
  });

  it('names each replica\'s key by its position', () => {
    expect(secretFieldNames(splitSecrets(nodeSchema, config).secrets)).toEqual(['machine.privateKey', 'replicas[0].machine.privateKey', 'replicas[2].machine.privateKey']);
  });

  it('gives the plugin each replica\'s own key back', () => {
    const { publicConfig, secrets } = splitSecrets(nodeSchema, config);
    const merged = mergeSecrets(publicConfig, secrets) as typeof config;
    expect(merged).toEqual(config);
    expect((merged.replicas[2].machine as { privateKey: string }).privateKey).toBe('KEY-OF-REPLICA-2');
  });

  it('seals a privateKey even on a machine whose kind names the branch without one (the union of branches)', () => {
    const stray = { replicas: [{ host: 'r', machine: { kind: 'local', privateKey: 'STRAY-KEY' } }] };
    const { publicConfig, secrets } = splitSecrets(nodeSchema, stray);
    expect(JSON.stringify(publicConfig)).not.toContain('STRAY-KEY');
    expect(secretFieldNames(secrets)).toEqual(['replicas[0].machine.privateKey']);
  });
});

describe('$ref, allOf and maps of secrets', () => {
  it('follows $refs into $defs and definitions, and refs that lead to refs', () => {
    const withRefs = {
      type: 'object',
      properties: {
        primary: { $ref: '#/$defs/endpoint' },
        backups: { type: 'array', items: { $ref: '#/definitions/alias' } },
      },
      $defs: { endpoint: { type: 'object', properties: { url: { type: 'string' }, auth: { $ref: '#/$defs/auth' } } }, auth: { type: 'object', properties: { user: { type: 'string' }, password: { type: 'string', writeOnly: true } } } },
      definitions: { alias: { $ref: '#/$defs/endpoint' } },
    } as unknown as JsonSchema;
    const config = {
      primary: { url: 'https://a', auth: { user: 'u', password: 'pw-primary' } },
      backups: [{ url: 'https://b', auth: { user: 'u', password: 'pw-backup' } }, { url: 'https://c' }],
    };
    const { publicConfig, secrets } = splitSecrets(withRefs, config);
    expect(JSON.stringify(publicConfig)).not.toMatch(/pw-/);
    expect(secretFieldNames(secrets)).toEqual(['primary.auth.password', 'backups[0].auth.password']);
    expect(mergeSecrets(publicConfig, secrets)).toEqual(config);
  });

  it('walks a recursive schema as deep as the config goes, and a ref cycle ends', () => {
    const tree = {
      $ref: '#/$defs/node',
      $defs: {
        node: { type: 'object', properties: { name: { type: 'string' }, secret: { type: 'string', writeOnly: true }, children: { type: 'array', items: { $ref: '#/$defs/node' } } } },
        // A ref cycle at one position: a → b → a. It must not loop.
        a: { $ref: '#/$defs/b' },
        b: { $ref: '#/$defs/a' },
      },
      properties: { loop: { $ref: '#/$defs/a' } },
    } as unknown as JsonSchema;
    const config = { name: 'root', secret: 's-root', children: [{ name: 'c', children: [{ name: 'g', secret: 's-grandchild' }] }], loop: { x: 1 } };
    const { publicConfig, secrets } = splitSecrets(tree, config);
    expect(publicConfig).toEqual({ name: 'root', children: [{ name: 'c', children: [{ name: 'g' }] }], loop: { x: 1 } });
    expect(secretFieldNames(secrets)).toEqual(['secret', 'children[0].children[0].secret']);
    expect(mergeSecrets(publicConfig, secrets)).toEqual(config);
  });

  it('seals a value whose $ref it cannot resolve, rather than guess', () => {
    const remote = { type: 'object', properties: { name: { type: 'string' }, auth: { $ref: 'https://example.com/auth.json' } } } as unknown as JsonSchema;
    const { publicConfig, secrets } = splitSecrets(remote, { name: 'n', auth: { token: 'T0KEN' } });
    expect(publicConfig).toEqual({ name: 'n' });
    expect(secrets).toEqual({ auth: { token: 'T0KEN' } });
  });

  it('unites the branches of allOf and anyOf', () => {
    const combined: JsonSchema = {
      allOf: [
        { type: 'object', properties: { user: { type: 'string' } } },
        { type: 'object', properties: { password: { type: 'string', writeOnly: true } } },
      ],
      anyOf: [{ type: 'object', properties: { token: { type: 'string', writeOnly: true } } }, { type: 'object', properties: { cert: { type: 'string' } } }],
    };
    const config = { user: 'u', password: 'pw', token: 'tk', cert: 'C' };
    const { publicConfig, secrets } = splitSecrets(combined, config);
    expect(publicConfig).toEqual({ user: 'u', cert: 'C' });
    expect(secrets).toEqual({ password: 'pw', token: 'tk' });
    expect(mergeSecrets(publicConfig, secrets)).toEqual(config);
  });

  it('seals every value of a map whose additionalProperties is writeOnly, and keeps the named ones', () => {
    const env: JsonSchema = {
      type: 'object',
      properties: { env: { type: 'object', properties: { LOG_LEVEL: { type: 'string' } }, additionalProperties: { type: 'string', writeOnly: true } } },
    };
    const config = { env: { LOG_LEVEL: 'info', DB_PASSWORD: 'db-pw', 'API.TOKEN': 'api-tk' } };
    const { publicConfig, secrets } = splitSecrets(env, config);
    expect(publicConfig).toEqual({ env: { LOG_LEVEL: 'info' } });
    expect(secrets).toEqual({ env: { DB_PASSWORD: 'db-pw', 'API.TOKEN': 'api-tk' } });
    expect(secretFieldNames(secrets)).toEqual(['env.DB_PASSWORD', 'env["API.TOKEN"]']);
    expect(mergeSecrets(publicConfig, secrets)).toEqual(config);
  });

  it('seals a whole object field marked writeOnly (the Ethereum plugin\'s headers)', () => {
    const headers: JsonSchema = { type: 'object', properties: { rpcUrl: { type: 'string' }, headers: { type: 'object', additionalProperties: { type: 'string' }, writeOnly: true } } };
    const config = { rpcUrl: 'http://x', headers: { Authorization: 'Bearer abc' } };
    const { publicConfig, secrets } = splitSecrets(headers, config);
    expect(publicConfig).toEqual({ rpcUrl: 'http://x' });
    expect(secretFieldNames(secrets)).toEqual(['headers.Authorization']);
    expect(mergeSecrets(publicConfig, secrets)).toEqual(config);
  });

  it('keeps a key named __proto__ as data', () => {
    const config = JSON.parse('{"env":{"__proto__":"not-a-prototype","A":"a-secret"}}') as Record<string, unknown>;
    const env: JsonSchema = { type: 'object', properties: { env: { type: 'object', additionalProperties: { type: 'string', writeOnly: true } } } };
    const { publicConfig, secrets } = splitSecrets(env, config);
    expect(Object.keys(secrets!.env as object)).toEqual(['__proto__', 'A']);
    const merged = mergeSecrets(publicConfig, secrets);
    expect(Object.getPrototypeOf(merged.env)).toBe(Object.prototype);
    expect(merged).toEqual(config);
  });
});

describe('secrets stored before arrays were walked', () => {
  it('still merge: nested objects, and a whole secret value under a key the public part lacks', () => {
    const publicConfig = { rpcUrl: 'http://x', tls: { cert: 'C' } };
    const stored = { password: 'pw', tls: { key: 'K' }, headers: { Authorization: 'Bearer t' }, apiKeys: ['k1', 'k2'] };
    expect(mergeSecrets(publicConfig, stored)).toEqual({ rpcUrl: 'http://x', tls: { cert: 'C', key: 'K' }, password: 'pw', headers: { Authorization: 'Bearer t' }, apiKeys: ['k1', 'k2'] });
    expect(secretFieldNames(stored)).toEqual(['password', 'tls.key', 'headers.Authorization', 'apiKeys[0]', 'apiKeys[1]']);
  });
});

describe('masking secret values in messages', () => {
  const secrets = { password: 'hunter22', replicas: [null, { machine: { privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n' } }], pin: 'ab' };

  it('masks each value as it is, as JSON quotes it, and a line of a multi-line key', () => {
    const key = (secrets.replicas[1] as { machine: { privateKey: string } }).machine.privateKey;
    const text = `wrong password hunter22; got ${JSON.stringify(key)}; line b3BlbnNzaC1rZXktdjEAAAAABG5vbmU=; raw ${key}`;
    const masked = maskSecretValues(text, secrets);
    expect(masked).not.toMatch(/hunter22|b3BlbnNzaC1rZXktdjEAAAAABG5vbmU=/);
    expect(masked).toContain('wrong password ***');
  });

  it('masks a very short secret only where it stands alone', () => {
    expect(maskSecretValues('pin ab refused; about the cabin', secrets)).toBe('pin *** refused; about the cabin');
  });

  it('rewrites the message of an error thrown through withSecretsMasked, keeping its type', async () => {
    class Refusal extends Error {}
    const error = await withSecretsMasked([null, secrets], () => {
      throw new Refusal('login with hunter22 failed');
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Refusal);
    expect((error as Error).message).toBe('login with *** failed');
    expect((error as Error).stack).not.toContain('hunter22');
  });
});

describe('keepSecrets', () => {
  it('keeps the secrets a changed config does not give again, where their object still is', () => {
    const earlier = { machine: { privateKey: 'k1' }, stateDatabase: { password: 'p1' }, headers: { Authorization: 'Bearer t' } };
    const was = { machine: { kind: 'ssh', host: 'h' }, stateDatabase: { kind: 'couchdb', url: 'u' }, path: '/x' };
    expect(keepSecrets(earlier, was, { machine: { kind: 'ssh', host: 'h2' }, stateDatabase: { kind: 'couchdb', url: 'u' } }, null)).toEqual(earlier);
    // Given again: replaced; an object gone (stateDatabase) takes its secret with it; a secret-as-a-whole map stays.
    expect(keepSecrets(earlier, was, { machine: { kind: 'ssh' } }, { machine: { privateKey: 'k2' } })).toEqual({ machine: { privateKey: 'k2' }, headers: { Authorization: 'Bearer t' } });
    expect(keepSecrets(earlier, was, { path: '/x' }, null)).toEqual({ headers: { Authorization: 'Bearer t' } });
    expect(keepSecrets(null, {}, { a: 1 }, null)).toBeNull();
  });

  it('keeps array items by place while the item is there', () => {
    const earlier = { peers: [{ token: 't0' }, { token: 't1' }] };
    const was = { peers: [{ url: 'a' }, { url: 'b' }] };
    expect(keepSecrets(earlier, was, { peers: [{ url: 'a' }, { url: 'b' }] }, null)).toEqual(earlier);
    expect(keepSecrets(earlier, was, { peers: [{ url: 'a' }] }, null)).toEqual({ peers: [{ token: 't0' }] });
    expect(keepSecrets(earlier, was, { peers: [{ url: 'a' }, { url: 'b' }] }, { peers: [null, { token: 'new' }] })).toEqual({ peers: [{ token: 't0' }, { token: 'new' }] });
    expect(keepSecrets(earlier, was, {}, null)).toBeNull();
  });
});
