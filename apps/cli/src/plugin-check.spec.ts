import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkPlugin } from './plugin-check';

const DIRECTORY_PLUGIN = resolve(__dirname, '..', '..', '..', 'plugins', 'directory', 'dist', 'index.js');

/**
 * A plugin package at `dir` that needs `dependency` to load: the directory plugin, behind a
 * require of the dependency. Its folder has no node_modules, so `plugins test` copies it.
 */
async function pluginNeeding(dir: string, dependency: string): Promise<void> {
  await mkdir(join(dir, 'dist'), { recursive: true });
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'chainvault-plugin-needs', version: '1.0.0', main: 'dist/index.js', dependencies: { [dependency]: '^1.0.0' }, chainvault: { plugin: { id: 'directory', apiVersion: '^2.0.0', entry: './dist/index.js' } } }),
  );
  await writeFile(join(dir, 'dist', 'index.js'), `require(${JSON.stringify(dependency)}).mark();\nmodule.exports = require(${JSON.stringify(DIRECTORY_PLUGIN)});\n`);
}

describe('plugins test: a plugin with dependencies', () => {
  let work: string;
  let data: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'chainvault-plugin-check-'));
    data = join(work, 'data');
    await mkdir(data);
    await writeFile(join(data, 'a.txt'), 'a node file\n');
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  it('loads it with its dependencies from where the package lies (a project or workspace node_modules above it)', async () => {
    const project = join(work, 'project');
    const dependency = join(project, 'node_modules', 'fake-dependency');
    await mkdir(dependency, { recursive: true });
    await writeFile(join(dependency, 'package.json'), JSON.stringify({ name: 'fake-dependency', version: '1.2.0', main: 'index.js' }));
    await writeFile(join(dependency, 'index.js'), 'exports.mark = () => { globalThis.fakeDependencyLoaded = true; };\n');
    await pluginNeeding(join(project, 'plugin'), 'fake-dependency');

    const results = await checkPlugin({ spec: join(project, 'plugin'), nodeConfig: { path: data } });
    expect(results[0]).toEqual({ check: 'loads, with a valid definition', ok: true });
    expect((globalThis as { fakeDependencyLoaded?: boolean }).fakeDependencyLoaded).toBe(true);
    expect(results.find((r) => r.check === 'backup')).toEqual({ check: 'backup', ok: true });
  });

  it('names a dependency found nowhere, and what to do', async () => {
    const alone = join(work, 'alone');
    await pluginNeeding(alone, 'not-installed-anywhere');
    await expect(checkPlugin({ spec: alone, nodeConfig: { path: data } })).rejects.toThrow(
      `the plugin depends on not-installed-anywhere, which cannot be found from ${alone}: install its dependencies there (npm install) and run this again`,
    );
  });
});
