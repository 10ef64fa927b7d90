/**
 * A third party's path (issue 17): `chainvault plugins new` makes a standalone package that
 * installs, builds, passes its own tests and packs outside the workspace; the server installs
 * the tarball and backs up and restores through it; `chainvault plugins test` runs the
 * conformance kit against real nodes, passing the generated, directory and Ethereum plugins and
 * naming the failing checks of a broken one.
 */
import { HARDHAT_ACCOUNT, compareTrees, startHardhatNode, writeSampleTree, type RunningHardhatNode } from '@chainvault/testing';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CREATE_NETWORK, CREATE_POLICY, REGISTER_NODE, backupNow, restoreTo } from './support/scenario';
import { startTestServer, type TestServer } from './support/test-server';

jest.setTimeout(600_000);

const ROOT = join(__dirname, '..', '..', '..');
const BIN = join(ROOT, 'apps', 'cli', 'bin', 'chainvault.js');

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const { CHAINVAULT_TOKEN: _t, CHAINVAULT_DATA_DIR: _d, ...rest } = process.env;
    execFile(command, args, { cwd, env: { ...rest, ...env }, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const BROKEN = `'use strict';
const { definePlugin } = require('@chainvault/plugin-sdk');
module.exports = definePlugin({
  id: 'careless',
  protocols: ['careless'],
  nodeConfigSchema: { type: 'object', properties: { path: { type: 'string' } } },
  methods: {
    copy: {
      scope: 'node',
      description: 'Forgets the files and ignores cancels.',
      async backup(ctx) { await ctx.artifacts.writeFile('note.txt', 'not the data'); return { metadata: {} }; },
      async restore(ctx) { await ctx.artifacts.extractTree(ctx.target.config.path); },
    },
  },
});
`;

describe('third-party plugins from outside the workspace', () => {
  let work: string;
  let server: TestServer;
  let data: string;
  let chain: RunningHardhatNode | undefined;
  const cli = (args: string[], cwd = work) => run(process.execPath, [BIN, ...args], cwd, { CHAINVAULT_URL: server.url, CHAINVAULT_TOKEN: server.token });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-ecosystem-'));
    data = join(work, 'data-to-back-up');
    await writeSampleTree(data, { bigFileBytes: 64 * 1024 });
    server = await startTestServer();
  });

  afterAll(async () => {
    await chain?.stop();
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('creates a standalone plugin that builds, passes its tests, packs, installs into the server and backs up and restores', async () => {
    const made = await cli(['plugins', 'new', 'demo', '--dir', 'demo-plugin']);
    expect(made).toMatchObject({ code: 0, stdout: expect.stringContaining('created chainvault-plugin-demo') });
    const pkg = join(work, 'demo-plugin');
    expect(await run('npm', ['install', '--no-audit', '--no-fund'], pkg)).toMatchObject({ code: 0 });
    const tested = await run('npm', ['test'], pkg);
    expect(`${tested.stdout}${tested.stderr}`).toMatch(/Tests:\s+2 passed, 2 total/);
    expect(await run('npm', ['pack'], pkg)).toMatchObject({ code: 0 });
    const tarball = (await readdir(pkg)).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBe('chainvault-plugin-demo-0.1.0.tgz');
    const refused = await cli(['plugins', 'new', 'demo', '--dir', 'demo-plugin']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('is not empty');

    const installed = await cli(['plugins', 'install', join('demo-plugin', tarball!)]);
    expect(installed).toMatchObject({ code: 0, stdout: expect.stringMatching(/^demo 0\.1\.0: LOADED\nintegrity sha512-/) });
    const { client } = server;
    const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name: 'demo', protocol: 'demo' } });
    const { registerNode } = await client.ok(REGISTER_NODE, { input: { networkId: createNetwork.id, name: 'folder', plugin: 'demo', role: 'node', config: { path: data } } });
    const destinationId = (await client.ok('{ destinations { id } }')).destinations[0].id;
    const { createPolicy } = await client.ok(CREATE_POLICY, { input: { name: 'demo', nodeId: registerNode.id, method: 'copy', destinationIds: [destinationId] } });
    const backup = await backupNow(client, createPolicy.id);
    expect(backup.status).toBe('COMPLETED');
    const target = join(work, 'demo-restored');
    expect(await restoreTo(client, backup.backupId, target)).toMatchObject({ status: 'COMPLETED' });
    expect(await compareTrees(data, target)).toEqual([]);

    // The conformance runner passes it, packed or as its folder.
    for (const spec of [join('demo-plugin', tarball!), 'demo-plugin']) {
      const checked = await cli(['plugins', 'test', spec, '--node-config', JSON.stringify({ path: data })]);
      expect(checked).toMatchObject({ code: 0, stdout: expect.stringContaining('all 8 checks passed') });
      for (const check of ['backup', 'restore', 'backup (incremental)', 'restore (incremental)', 'a cancelled backup fails', 'refuses a bad config']) expect(checked.stdout).toContain(`PASS  ${check}\n`);
    }
  });

  it('passes the directory and Ethereum plugins and names the failing checks of a broken one', async () => {
    const directory = await cli(['plugins', 'test', join(ROOT, 'plugins', 'directory'), '--node-config', JSON.stringify({ path: data })]);
    expect(directory).toMatchObject({ code: 0, stdout: expect.stringContaining('all 10 checks passed') });
    expect(directory.stdout).toContain('PASS  verify (incremental)\n');

    chain = await startHardhatNode();
    const genesis = join(work, 'genesis.json');
    await writeFile(genesis, JSON.stringify({ config: { chainId: 31337, pragueTime: 0 }, alloc: { [HARDHAT_ACCOUNT.address]: { balance: '0x21e19e0c9bab2400000' } } }));
    const ethereum = await cli(['plugins', 'test', join(ROOT, 'plugins', 'ethereum'), '--node-config', JSON.stringify({ rpcUrl: chain.url, client: 'geth', consensus: 'pos', genesisFile: genesis }), '--target-config', '{"path": "{dir}"}']);
    expect(ethereum.stderr).toBe('');
    expect(ethereum).toMatchObject({ code: 0, stdout: expect.stringMatching(/all \d+ checks passed/) });

    const broken = join(work, 'careless');
    await mkdir(broken);
    await writeFile(join(broken, 'package.json'), JSON.stringify({ name: 'chainvault-plugin-careless', version: '1.0.0', main: 'index.js', chainvault: { plugin: { id: 'careless', apiVersion: '^2.0.0', entry: './index.js' } } }));
    await writeFile(join(broken, 'index.js'), BROKEN);
    const failed = await cli(['plugins', 'test', 'careless', '--node-config', JSON.stringify({ path: data })]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('PASS  backup\n');
    expect(failed.stdout).toMatch(/FAIL {2}refuses a bad config +an empty config and one with an unknown field were both accepted/);
    expect(failed.stdout).toMatch(/FAIL {2}restore +the restore differs from the node's data/);
    expect(failed.stdout).toMatch(/\d+ of \d+ checks failed/);

    const unloadable = await cli(['plugins', 'test', 'nowhere', '--node-config', '{}']);
    expect(unloadable).toMatchObject({ code: 1, stderr: expect.stringContaining('does not exist') });
  });
});
