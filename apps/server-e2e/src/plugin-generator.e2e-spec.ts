/**
 * The plugin generator (issue 17): `npx nx g @chainvault/plugin-sdk:plugin <name>` makes a
 * plugin in the workspace that builds, lints, passes its own tests and loads at the server's
 * next start, with no edit. It writes into the checkout, so it runs alone (tools/jest/run-all.sh
 * runs it after the other suites) and removes what it made.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { CREATE_NETWORK, CREATE_POLICY, REGISTER_NODE, backupNow, restoreTo } from './support/scenario';
import { spawnServer, type ServerProcess } from './support/server-process';

jest.setTimeout(600_000);

const ROOT = join(__dirname, '..', '..', '..');

function run(command: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: ROOT, env: { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false', ...env }, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      // Nx colours its output whenever it likes (it did under CI=true through a pipe): the words are what count.
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, output: stripVTControlCharacters(`${stdout}${stderr}`) }),
    );
  });
}

describe('the plugin generator in the workspace', () => {
  const name = `gen${randomBytes(3).toString('hex')}`;
  const folder = join(ROOT, 'plugins', name);
  const link = join(ROOT, 'node_modules', '@chainvault', `plugin-${name}`);
  let work: string;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-generator-'));
  });

  afterAll(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    await rm(folder, { recursive: true, force: true });
    await rm(link, { force: true });
    await rm(work, { recursive: true, force: true });
  });

  it('makes a plugin that builds, lints, passes its tests and loads at the next start with no edit', async () => {
    const generated = await run('npx', ['nx', 'g', '@chainvault/plugin-sdk:plugin', name, '--no-interactive']);
    expect(generated).toMatchObject({ code: 0 });
    for (const file of ['package.json', 'README.md', 'src/index.ts', 'src/index.spec.ts', 'jest.config.js', 'tsconfig.lib.json']) expect(generated.output).toContain(`CREATE plugins/${name}/${file}`);
    expect(JSON.parse(await readFile(join(folder, 'package.json'), 'utf8')).chainvault.plugin).toEqual({ id: name, apiVersion: '^2.0.0', entry: './dist/index.js' });

    const built = await run('npx', ['nx', 'build', `@chainvault/plugin-${name}`, '--outputStyle=stream']);
    expect(built.output).toContain('Successfully ran target build');
    expect(await run('npx', ['eslint', '--max-warnings=0', `plugins/${name}`])).toEqual({ code: 0, output: '' });
    // Its own reporter only: the suite's summary file belongs to the run around this one.
    const tested = await run('npx', ['jest', `plugins/${name}`, '--reporters=default']);
    expect(tested.output).toMatch(/Tests:\s+2 passed, 2 total/);

    // The next start loads it, and it backs up and restores a folder through GraphQL.
    server = await spawnServer({ dataDir: join(work, 'data') });
    const { client } = server;
    const { plugins } = await client.ok(`{ plugins { id status source methods { name scope } } }`);
    expect(plugins.find((p: { id: string }) => p.id === name)).toEqual({ id: name, status: 'LOADED', source: 'builtin', methods: [{ name: 'copy', scope: 'node' }] });
    const source = join(work, 'source');
    await mkdir(source);
    await writeFile(join(source, 'notes.txt'), 'generated and working\n');
    const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name: 'generated', protocol: name } });
    const { registerNode } = await client.ok(REGISTER_NODE, { input: { networkId: createNetwork.id, name: 'folder', plugin: name, role: 'node', config: { path: source } } });
    const destinationId = (await client.ok('{ destinations { id } }')).destinations[0].id;
    const { createPolicy } = await client.ok(CREATE_POLICY, { input: { name: 'generated', nodeId: registerNode.id, method: 'copy', destinationIds: [destinationId] } });
    const backup = await backupNow(client, createPolicy.id);
    expect(backup.status).toBe('COMPLETED');
    const target = join(work, 'restored');
    expect(await restoreTo(client, backup.backupId, target)).toMatchObject({ status: 'COMPLETED' });
    expect(await readFile(join(target, 'notes.txt'), 'utf8')).toBe('generated and working\n');
  });

  it('refuses a name that cannot be a plugin id, and one already taken, writing nothing', async () => {
    const bad = await run('npx', ['nx', 'g', '@chainvault/plugin-sdk:plugin', 'Not_An_Id', '--no-interactive']);
    expect(bad.code).not.toBe(0);
    expect(bad.output).toContain('lowercase letters, digits and dashes');
    const taken = await run('npx', ['nx', 'g', '@chainvault/plugin-sdk:plugin', 'directory', '--no-interactive']);
    expect(taken.code).not.toBe(0);
    expect(taken.output).toContain('plugins/directory already exists');
  });
});
