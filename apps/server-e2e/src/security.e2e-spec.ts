/**
 * The attacks found on a running server, repeated against a real server process: rebound host
 * names, foreign origins on HTTP and on the WebSocket upgrade, graphql-ws without a token,
 * plugin installs from URLs or with install scripts, writes outside the restore roots, and
 * queries that cost the server seconds. Each is refused, and nothing is written, installed or run.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { CREATE_NETWORK, RESTORE, backupNow, createDirectoryPolicy } from './support/scenario';
import { spawnServer, type ServerProcess } from './support/server-process';

jest.setTimeout(120_000);

const run = promisify(execFile);

interface RawAnswer {
  status: number;
  body: string;
}

/** An HTTP request with any headers, `Host` included (fetch will not send a foreign one). */
function raw(url: string, options: { method?: string; path: string; headers?: Record<string, string>; body?: string }): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, method: options.method ?? 'GET', path: options.path, headers: options.headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const graphqlBody = (query: string, variables: Record<string, unknown> = {}) => JSON.stringify({ query, variables });

/** Opens a WebSocket and reports how the upgrade ended: the HTTP status of a refusal, or 101. */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, 'graphql-transport-ws', { headers });
    socket.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.on('open', () => {
      resolve(101);
      socket.close();
    });
    socket.on('error', () => undefined);
  });
}

/** Runs one operation over graphql-ws and resolves with its data, its errors, or how the socket closed. */
function overWebSocket(url: string, connectionParams: Record<string, unknown> | undefined, query: string): Promise<{ data?: unknown; errors?: unknown; closed?: number }> {
  return new Promise((resolve) => {
    const client = createClient({
      url,
      webSocketImpl: WebSocket,
      lazy: true,
      retryAttempts: 0,
      connectionParams,
      on: { closed: (event) => resolve({ closed: (event as { code: number }).code }) },
    });
    client.subscribe(
      { query },
      {
        next: (message) => resolve({ data: message.data, errors: message.errors }),
        error: (error) => {
          if (Array.isArray(error)) resolve({ errors: error });
          else if (error && typeof (error as { code?: number }).code === 'number') resolve({ closed: (error as { code: number }).code });
          else resolve({ errors: [String(error)] });
          void client.dispose();
        },
        complete: () => void client.dispose(),
      },
    );
  });
}

describe('security: a real server refuses every attack that was found', () => {
  let work: string;
  let dataDir: string;
  let server: ServerProcess;
  let wsUrl: string;
  let host: string;

  const networkCount = async () => (await server.client.ok(`{ networks { id } }`)).networks.length as number;
  const auditOf = async (filter: Record<string, unknown>) =>
    (await server.client.ok(`query ($f: AuditEventFilter) { auditEvents(filter: $f, first: 200) { nodes { actor action outcome remoteAddress details } } }`, { f: filter })).auditEvents.nodes as Record<string, any>[];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-security-'));
    dataDir = join(work, 'data');
    // Default restore roots only: <data>/restores.
    server = await spawnServer({ dataDir, extra: { CHAINVAULT_RESTORE_ROOTS: '' } });
    host = new URL(server.url).host;
    wsUrl = `${server.url.replace(/^http/, 'ws')}/graphql`;
  });

  afterAll(async () => {
    server?.child.kill('SIGKILL');
    await server?.exited;
    await rm(work, { recursive: true, force: true });
  });

  describe('tokens', () => {
    it('writes an admin token on the first start, readable by its owner only, and says where', async () => {
      const info = await stat(join(dataDir, 'admin.token'));
      expect(info.mode & 0o777).toBe(0o600);
      expect(server.output()).toContain(join(dataDir, 'admin.token'));
      expect(server.output()).not.toContain(server.client.token!);
    });

    it('answers data only with a token; /health and GraphiQL are served without one', async () => {
      const anonymous = await raw(server.url, { method: 'POST', path: '/graphql', headers: { 'content-type': 'application/json' }, body: graphqlBody('{ networks { id } }') });
      expect(anonymous.status).toBe(401);
      expect(JSON.parse(anonymous.body).errors[0].extensions.code).toBe('UNAUTHENTICATED');
      expect((await raw(server.url, { path: '/metrics' })).status).toBe(401);
      expect((await raw(server.url, { path: '/metrics', headers: { authorization: 'Bearer cvt_not-a-token' } })).status).toBe(401);
      expect((await raw(server.url, { path: '/metrics', headers: server.client.headers() })).status).toBe(200);
      expect((await raw(server.url, { path: '/health' })).status).toBe(200);
      const graphiql = await raw(server.url, { path: '/graphiql' });
      expect(graphiql.status).toBe(200);
      expect(graphiql.body).toMatch(/token/i);
      const refused = await auditOf({ action: 'auth.refused' });
      expect(refused.some((e) => e.details.reason === 'missing' && e.details.route === '/graphql' && e.remoteAddress === '127.0.0.1')).toBe(true);
      expect(refused.some((e) => e.details.reason === 'unknown' && e.details.route === '/metrics')).toBe(true);
    });
  });

  describe('host names and origins', () => {
    const mutation = graphqlBody(`mutation { createNetwork(input: { name: "rebound", protocol: "directory" }) { id } }`);

    it('refuses a rebound host name on every route, even with a valid token', async () => {
      const before = await networkCount();
      for (const path of ['/graphql', '/graphiql', '/health', '/metrics']) {
        const answer = await raw(server.url, {
          method: path === '/graphql' ? 'POST' : 'GET',
          path,
          headers: server.client.headers({ host: 'evil.example.com', origin: 'http://evil.example.com', 'content-type': 'application/json' }),
          body: path === '/graphql' ? mutation : undefined,
        });
        expect({ path, status: answer.status }).toEqual({ path, status: 403 });
        expect(answer.body).toMatch(/evil\.example\.com/);
      }
      expect(await networkCount()).toBe(before);
    });

    it('refuses a foreign Origin on HTTP, and serves the same request from the same origin', async () => {
      const before = await networkCount();
      const foreign = await raw(server.url, { method: 'POST', path: '/graphql', headers: server.client.headers({ host, origin: 'https://attacker.example', 'content-type': 'application/json' }), body: mutation });
      expect(foreign.status).toBe(403);
      const nullOrigin = await raw(server.url, { method: 'POST', path: '/graphql', headers: server.client.headers({ host, origin: 'null', 'content-type': 'application/json' }), body: mutation });
      expect(nullOrigin.status).toBe(403);
      expect(await networkCount()).toBe(before);
      const same = await raw(server.url, { method: 'POST', path: '/graphql', headers: server.client.headers({ host, origin: server.url, 'content-type': 'application/json' }), body: graphqlBody('{ networks { id } }') });
      expect(same.status).toBe(200);
      const refused = await auditOf({ action: 'auth.refused' });
      expect(refused.some((e) => e.details.reason === 'origin' && e.details.origin === 'https://attacker.example')).toBe(true);
    });

    it('refuses the WebSocket upgrade from a foreign Origin or host name', async () => {
      expect(await upgradeStatus(wsUrl, { origin: 'https://attacker.example' })).toBe(403);
      expect(await upgradeStatus(wsUrl, { host: 'evil.example.com' })).toBe(403);
      expect(await upgradeStatus(wsUrl, { origin: server.url })).toBe(101);
    });

    it('serves WebSockets on /graphql only, and closes one that sends a message over 64 KiB', async () => {
      expect(await upgradeStatus(`${server.url.replace(/^http/, 'ws')}/other`, {})).toBe(404);
      const closed = await new Promise<number>((resolve) => {
        const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
        socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { padding: 'x'.repeat(1024 * 1024) } })));
        socket.on('close', (code) => resolve(code));
        socket.on('error', () => undefined);
      });
      expect(closed).toBe(1009);
    });

    it('closes a graphql-ws connection without a valid token before any operation runs', async () => {
      const before = await networkCount();
      const create = `mutation { createNetwork(input: { name: "over-ws", protocol: "directory" }) { id } }`;
      expect(await overWebSocket(wsUrl, undefined, create)).toEqual({ closed: 4403 });
      expect(await overWebSocket(wsUrl, { authorization: 'Bearer cvt_guessed' }, create)).toEqual({ closed: 4403 });
      expect(await networkCount()).toBe(before);
      const allowed = await overWebSocket(wsUrl, { authorization: `Bearer ${server.client.token}` }, `{ networks { id } }`);
      expect(allowed.data).toEqual({ networks: expect.any(Array) });
    });
  });

  describe('roles', () => {
    let viewer: string;
    let operator: string;

    beforeAll(async () => {
      const create = `mutation ($input: CreateTokenInput!) { createToken(input: $input) { secret token { id name role } } }`;
      viewer = (await server.client.ok(create, { input: { name: 'dashboard', role: 'VIEWER' } })).createToken.secret;
      operator = (await server.client.ok(create, { input: { name: 'night-shift', role: 'OPERATOR' } })).createToken.secret;
    });

    it('shows a token once and keeps only its hash', async () => {
      const { tokens } = await server.client.ok(`{ tokens { name role createdBy revokedAt lastUsedAt } }`);
      expect(tokens).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'dashboard', role: 'VIEWER', createdBy: 'admin', revokedAt: null })]));
      const catalog = await readFile(join(dataDir, 'catalog.sqlite'));
      const wal = existsSync(join(dataDir, 'catalog.sqlite-wal')) ? await readFile(join(dataDir, 'catalog.sqlite-wal')) : Buffer.alloc(0);
      for (const secret of [viewer, operator, server.client.token!]) {
        expect(catalog.includes(secret)).toBe(false);
        expect(wal.includes(secret)).toBe(false);
        expect(catalog.includes(createHash('sha256').update(secret).digest('hex')) || wal.includes(createHash('sha256').update(secret).digest('hex'))).toBe(true);
      }
    });

    it('VIEWER reads but cannot mutate, list tokens or read the audit log', async () => {
      const client = server.client.as(viewer);
      expect((await client.ok(`{ networks { id } policies { id } }`)).networks).toEqual(expect.any(Array));
      const before = await networkCount();
      expect((await client.fails(`mutation { createNetwork(input: { name: "by-viewer", protocol: "directory" }) { id } }`)).extensions?.code).toBe('FORBIDDEN');
      expect((await client.fails(`{ tokens { name } }`)).extensions?.code).toBe('FORBIDDEN');
      expect((await client.fails(`{ auditEvents { nodes { id } } }`)).extensions?.code).toBe('FORBIDDEN');
      expect(await networkCount()).toBe(before);
      const refusals = await auditOf({ actor: 'dashboard', outcome: 'refused' });
      expect(refusals.map((e) => e.action).sort()).toEqual(expect.arrayContaining(['api.auditEvents', 'api.createNetwork', 'api.tokens']));
    });

    it('OPERATOR runs the catalog but cannot install plugins, add destinations or make tokens', async () => {
      const client = server.client.as(operator);
      await client.ok(`mutation { createNetwork(input: { name: "by-operator", protocol: "directory" }) { id } }`);
      expect((await client.fails(`mutation { installPlugin(spec: "left-pad") { id } }`)).extensions?.code).toBe('FORBIDDEN');
      expect((await client.fails(`mutation { createToken(input: { name: "escalate", role: ADMIN }) { secret } }`)).extensions?.code).toBe('FORBIDDEN');
      expect((await client.fails(`mutation { createDestination(input: { name: "d", kind: LOCAL, config: { path: "/tmp/x" } }) { id } }`)).extensions?.code).toBe('FORBIDDEN');
      const { tokens } = await server.client.ok(`{ tokens { name } }`);
      expect(tokens.map((t: { name: string }) => t.name)).not.toContain('escalate');
      const events = await auditOf({ actor: 'night-shift' });
      expect(events).toEqual(expect.arrayContaining([expect.objectContaining({ action: 'api.createNetwork', outcome: 'ok' }), expect.objectContaining({ action: 'api.installPlugin', outcome: 'refused' })]));
    });

    it('refuses a revoked token at once, on HTTP and on an open WebSocket', async () => {
      const { createToken } = await server.client.ok(`mutation { createToken(input: { name: "laptop", role: OPERATOR }) { secret } }`);
      const client = server.client.as(createToken.secret);
      await client.ok(`{ networks { id } }`);

      const socket = createClient({ url: wsUrl, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0, connectionParams: { authorization: `Bearer ${createToken.secret}` } });
      const closed = new Promise<number>((resolve) => socket.on('closed', (event) => resolve((event as { code: number }).code)));
      await new Promise<void>((resolve) => socket.on('connected', () => resolve()));

      await server.client.ok(`mutation { revokeToken(id: "laptop") { revokedAt } }`);
      const answer = await raw(server.url, { method: 'POST', path: '/graphql', headers: client.headers({ 'content-type': 'application/json' }), body: graphqlBody('{ networks { id } }') });
      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.body).errors[0].message).toMatch(/"laptop" is revoked/);
      expect(await closed).toBe(4403);
      await socket.dispose();
      expect(await auditOf({ actor: 'laptop', outcome: 'refused' })).toEqual(expect.arrayContaining([expect.objectContaining({ action: 'auth.refused', details: expect.objectContaining({ reason: 'revoked' }) })]));
    });

    it('refuses an expired token', async () => {
      const expiresAt = new Date(Date.now() + 1500).toISOString();
      const { createToken } = await server.client.ok(`mutation ($at: DateTime) { createToken(input: { name: "short-lived", role: VIEWER, expiresAt: $at }) { secret } }`, { at: expiresAt });
      const client = server.client.as(createToken.secret);
      await client.ok(`{ networks { id } }`);
      await new Promise((r) => setTimeout(r, 1700));
      const answer = await raw(server.url, { method: 'POST', path: '/graphql', headers: client.headers({ 'content-type': 'application/json' }), body: graphqlBody('{ networks { id } }') });
      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.body).errors[0].message).toMatch(/"short-lived" is expired/);
      expect(await overWebSocket(wsUrl, { authorization: `Bearer ${createToken.secret}` }, `{ networks { id } }`)).toEqual({ closed: 4403 });
    });
  });

  describe('plugin installs', () => {
    const marker = () => join(work, 'pwned');

    async function evilPackage(name: string): Promise<string> {
      const dir = join(work, 'sources', name);
      await mkdir(dir, { recursive: true });
      const touch = `node -e "require('fs').writeFileSync(${JSON.stringify(marker())}, 'ran')"`;
      const pkg = {
        name,
        version: '1.0.0',
        main: 'index.js',
        license: 'MIT',
        scripts: { preinstall: touch, install: touch, postinstall: touch, prepare: touch, prepack: touch },
        chainvault: { plugin: { id: name.replace('chainvault-plugin-', ''), apiVersion: '^1.0.0', entry: './index.js' } },
        peerDependencies: { '@chainvault/plugin-sdk': '^1.0.0' },
      };
      await writeFile(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
      await writeFile(
        join(dir, 'index.js'),
        `module.exports = require('@chainvault/plugin-sdk').definePlugin({ id: ${JSON.stringify(pkg.chainvault.plugin.id)}, protocols: ['x'], nodeConfigSchema: { type: 'object' }, methods: { copy: { scope: 'node', description: 'x', backup: async () => ({}), restore: async () => ({}) } } });\n`,
      );
      return dir;
    }

    it('refuses URLs and git specs without running npm', async () => {
      for (const spec of ['http://127.0.0.1:9/evil.tgz?x=1', 'https://example.com/evil.tgz', 'git+https://example.com/evil.git', 'github:evil/plugin', 'evil/plugin', 'file:/tmp/evil']) {
        const error = await server.client.fails(`mutation ($spec: String!) { installPlugin(spec: $spec) { id } }`, { spec });
        expect({ spec, code: error.extensions?.code }).toEqual({ spec, code: 'BAD_USER_INPUT' });
      }
      expect(existsSync(marker())).toBe(false);
      const installed = existsSync(join(dataDir, 'plugins', 'node_modules')) ? await readdir(join(dataDir, 'plugins', 'node_modules')) : [];
      expect(installed.filter((n) => n !== '@chainvault')).toEqual([]);
    });

    it('installs a local tarball whose scripts would run as root, without running them, and shows its sha512', async () => {
      const dir = await evilPackage('chainvault-plugin-evil');
      const packs = join(work, 'packs');
      await mkdir(packs, { recursive: true });
      const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packs], { cwd: dir });
      const tarball = join(packs, JSON.parse(stdout)[0].filename);
      const { installPlugin } = await server.client.ok(`mutation ($spec: String!) { installPlugin(spec: $spec) { id status error integrity } }`, { spec: tarball });
      expect(installPlugin).toMatchObject({ id: 'evil', status: 'LOADED', error: null });
      expect(installPlugin.integrity).toBe(`sha512-${createHash('sha512').update(await readFile(tarball)).digest('base64')}`);
      expect(existsSync(marker())).toBe(false);
      const { plugins } = await server.client.ok(`{ plugins { id integrity } }`);
      expect(plugins.find((p: { id: string }) => p.id === 'evil').integrity).toBe(installPlugin.integrity);
      expect(plugins.find((p: { id: string }) => p.id === 'directory').integrity).toBeNull();
    });
  });

  describe('paths', () => {
    let backupId: string;
    let source: string;

    beforeAll(async () => {
      source = join(work, 'source');
      await mkdir(source, { recursive: true });
      await writeFile(join(source, 'authorized_keys'), `ssh-ed25519 AAAA${randomBytes(16).toString('hex')} attacker\n`);
      const { policyId } = await createDirectoryPolicy(server.client, 'paths', source, join(work, 'repository'));
      const job = await backupNow(server.client, policyId);
      expect(job.status).toBe('COMPLETED');
      backupId = job.backupId;
    });

    it('refuses restores and exports outside the restore roots and into the plugins folder, writing nothing', async () => {
      const outside = join(work, 'outside');
      const plugin = join(dataDir, 'plugins', 'node_modules', 'planted');
      const sshDir = join(work, 'root-ssh');
      await mkdir(sshDir, { mode: 0o700 });
      for (const path of [outside, plugin, sshDir, join(dataDir, 'restores', '..', 'plugins', 'x'), '/etc/chainvault-security-test']) {
        const restore = await server.client.fails(RESTORE, { input: { backupId, targetConfig: { path } } });
        expect({ path, code: restore.extensions?.code }).toEqual({ path, code: 'FORBIDDEN' });
        expect(restore.message).toMatch(/restore roots|CHAINVAULT_RESTORE_ROOTS|data directory/);
        const exported = await server.client.fails(`mutation ($b: ID!, $p: String!) { exportBackup(backupId: $b, path: $p) { id } }`, { b: backupId, p: path });
        expect({ path, code: exported.extensions?.code }).toEqual({ path, code: 'FORBIDDEN' });
      }
      expect(existsSync(outside)).toBe(false);
      expect(existsSync(plugin)).toBe(false);
      expect(existsSync('/etc/chainvault-security-test')).toBe(false);
      expect(await readdir(sshDir)).toEqual([]);
      expect((await stat(sshDir)).mode & 0o777).toBe(0o700);
    });

    it('restores under <data>/restores, keeping the mode of a target folder that existed', async () => {
      const target = join(dataDir, 'restores', 'keys');
      await mkdir(target, { mode: 0o700 });
      const { restoreBackup } = await server.client.ok(RESTORE, { input: { backupId, targetConfig: { path: target } } });
      const job = await server.client.waitForJob(restoreBackup.id);
      expect(job.status).toBe('COMPLETED');
      expect(await readFile(join(target, 'authorized_keys'), 'utf8')).toBe(await readFile(join(source, 'authorized_keys'), 'utf8'));
      expect((await stat(target)).mode & 0o777).toBe(0o700);
    });

    it('refuses nodes on / or inside the data directory', async () => {
      const { createNetwork } = await server.client.ok(CREATE_NETWORK, { input: { name: 'paths-net', protocol: 'directory' } });
      for (const path of ['/', dataDir, join(dataDir, 'plugins')]) {
        const error = await server.client.fails(`mutation ($input: RegisterNodeInput!) { registerNode(input: $input) { id } }`, {
          input: { networkId: createNetwork.id, name: `node-${randomBytes(3).toString('hex')}`, plugin: 'directory', role: 'node', config: { path } },
        });
        expect({ path, code: error.extensions?.code }).toEqual({ path, code: 'FORBIDDEN' });
      }
      // A file a node names is a location too: a genesis file that is the secret key would be backed up.
      const { createNetwork: chain } = await server.client.ok(CREATE_NETWORK, { input: { name: 'paths-chain', protocol: 'ethereum' } });
      const genesis = await server.client.fails(`mutation ($input: RegisterNodeInput!) { registerNode(input: $input) { id } }`, {
        input: { networkId: chain.id, name: 'monitor', plugin: 'ethereum', role: 'monitor', config: { rpcUrl: 'http://127.0.0.1:9', client: 'geth', consensus: 'ethash', genesisFile: join(dataDir, 'secret.key') } },
      });
      expect(genesis.extensions?.code).toBe('FORBIDDEN');
      expect(genesis.message).toMatch(/config\.genesisFile .* is inside the data directory/);
    });
  });

  describe('query cost', () => {
    const timed = async (query: string) => {
      const started = performance.now();
      const answer = await raw(server.url, { method: 'POST', path: '/graphql', headers: server.client.headers({ 'content-type': 'application/json' }), body: graphqlBody(query) });
      return { ms: performance.now() - started, answer };
    };

    const fragmentBomb = (levels: number) => {
      const fragments = Array.from({ length: levels }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`);
      fragments.push(`fragment F${levels} on Query { networks { id } }`);
      return `query { ...F0 } ${fragments.join(' ')}`;
    };

    const aliasFlood = (count: number) => `{ ${Array.from({ length: count }, (_, i) => `a${i}: backups { nodes { files { path } } }`).join(' ')} }`;

    it.each([
      ['a fragment bomb', fragmentBomb(30), /maxQueryCost|maxQueryDepth/],
      ['an alias flood', aliasFlood(2000), /maxQueryTokens|maxQueryCost/],
    ])('refuses %s in under 100 ms while small queries keep answering', async (_name, query, message) => {
      // Warm the route once, so the figure is the refusal's and not the first request's.
      await timed('{ __typename }');
      const attack = timed(query);
      const meanwhile = timed('{ __typename }');
      const [refused, small] = await Promise.all([attack, meanwhile]);
      expect(refused.answer.status).toBeLessThan(500);
      expect(JSON.parse(refused.answer.body).errors[0].message).toMatch(message);
      expect(refused.ms).toBeLessThan(100);
      expect(JSON.parse(small.answer.body).data).toEqual({ __typename: 'Query' });
      expect(small.ms).toBeLessThan(100);
    });

    it('counts the list items a request answers, and refuses past 100,000', async () => {
      const many = join(work, 'many-files');
      await mkdir(many);
      for (let i = 0; i < 3500; i += 1) await writeFile(join(many, `f${i}`), '');
      const { policyId } = await createDirectoryPolicy(server.client, 'many', many, join(work, 'many-repository'));
      const { backupId } = await backupNow(server.client, policyId);
      const aliases = (n: number) => `query ($i: ID!) { ${Array.from({ length: n }, (_, k) => `a${k}: backup(id: $i) { files { path } }`).join(' ')} }`;
      expect(Object.keys((await server.client.ok(aliases(20), { i: backupId })) as object)).toHaveLength(20);
      const refused = await server.client.request(aliases(30), { i: backupId });
      expect(refused.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', limit: 'maxQueryItems', max: 100000 } });
    });

    it('applies the same limits over graphql-ws', async () => {
      const started = performance.now();
      // 2,000 aliases are a message over 64 KiB: the socket is closed before anything is parsed.
      expect(await overWebSocket(wsUrl, { authorization: `Bearer ${server.client.token}` }, aliasFlood(2000))).toEqual({ closed: 1009 });
      const result = await overWebSocket(wsUrl, { authorization: `Bearer ${server.client.token}` }, aliasFlood(400));
      expect(performance.now() - started).toBeLessThan(1000);
      expect(JSON.stringify(result.errors)).toMatch(/maxQueryTokens/);
      const costly = await overWebSocket(wsUrl, { authorization: `Bearer ${server.client.token}` }, `query ($n: Int) { backups(first: $n) { nodes { files { path } } } }`.replace('$n)', '500)'));
      expect(JSON.stringify(costly.errors)).toMatch(/maxQueryCost/);
    });
  });

  describe('failed authentications', () => {
    it('are rate limited per address, while a valid token from it is still served', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 40; i += 1) {
        statuses.push((await raw(server.url, { path: '/metrics', headers: { authorization: `Bearer cvt_guess-${i}` } })).status);
      }
      expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      expect(statuses.slice(-5)).toEqual([429, 429, 429, 429, 429]);
      const limited = await raw(server.url, { path: '/metrics', headers: { authorization: 'Bearer cvt_guess-again' } });
      expect(JSON.parse(limited.body).errors[0].message).toMatch(/too many failed authentications from 127\.0\.0\.1; try again in \d+ s/);
      expect((await raw(server.url, { path: '/metrics', headers: server.client.headers() })).status).toBe(200);
    });
  });
});

describe('metrics on a separate address', () => {
  it('serves /metrics there without a token, and only /metrics', async () => {
    const work = await mkdtemp(join(tmpdir(), 'chainvault-metrics-listen-'));
    const { freePort } = await import('./support/server-process');
    const port = await freePort();
    const server = await spawnServer({ dataDir: join(work, 'data'), extra: { CHAINVAULT_METRICS_LISTEN: `127.0.0.1:${port}` } });
    try {
      const metrics = await raw(`http://127.0.0.1:${port}`, { path: '/metrics' });
      expect(metrics.status).toBe(200);
      expect(metrics.body).toMatch(/^chainvault_build_info\{version="[^"]+"\} 1$/m);
      expect((await raw(`http://127.0.0.1:${port}`, { method: 'POST', path: '/graphql', headers: { 'content-type': 'application/json' }, body: graphqlBody('{ networks { id } }') })).status).toBe(404);
      expect((await raw(`http://127.0.0.1:${port}`, { path: '/metrics', headers: { host: 'evil.example.com' } })).status).toBe(403);
      expect((await raw(server.url, { path: '/metrics' })).status).toBe(401);
    } finally {
      server.child.kill('SIGKILL');
      await server.exited;
      await rm(work, { recursive: true, force: true });
    }
  });
});
