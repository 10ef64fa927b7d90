/**
 * The files of a new plugin package: a working node-scope method over a folder, its conformance
 * spec, and what builds, tests and loads it. Shared by the workspace generator
 * (`nx g @chainvault/plugin-sdk:plugin`) and the CLI's standalone `chainvault plugins new`.
 */
import { PLUGIN_API_VERSION } from '../../api-version';

export interface NewPluginOptions {
  /** The plugin id: lowercase letters, digits and dashes, starting with a letter. */
  id: string;
  /** The npm package name. */
  packageName: string;
  /** In the chainvault workspace (shares its jest preset, tsconfig and SDK) or a package of its own. */
  layout: 'workspace' | 'standalone';
  /** Standalone only: how package.json names the SDK (a version range, or `file:` a tarball). */
  sdkSpec?: string;
}

export const PLUGIN_ID = /^[a-z][a-z0-9-]{0,62}$/;

const apiRange = `^${PLUGIN_API_VERSION.split('.')[0]}.0.0`;

function title(id: string): string {
  return id.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => `${dash ? ' ' : ''}${letter.toUpperCase()}`);
}

const INDEX = (id: string) => `/**
 * The ${id} plugin: backs up the folder a node's config names and restores it into an empty
 * folder. Replace the method's body with what your protocol needs; keep the contract: back up
 * what restore needs, restore only into an empty target, fail with a PluginError that says what
 * to do.
 */
import { access, readdir } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { PluginError, definePlugin, type JsonSchema } from '@chainvault/plugin-sdk';

export interface FolderConfig {
  /** Absolute path of the folder. */
  path: string;
}

const folderSchema: JsonSchema = {
  type: 'object',
  properties: { path: { type: 'string', minLength: 1, description: 'Absolute path of the folder.' } },
  required: ['path'],
  additionalProperties: false,
};

export default definePlugin<FolderConfig>({
  id: '${id}',
  protocols: ['${id}'],
  description: '${title(id)}: a folder, backed up whole and restored into an empty folder.',
  nodeConfigSchema: folderSchema,

  async checkNodeConfig(config) {
    if (!isAbsolute(config.path)) throw new PluginError('INVALID_CONFIG', \`path must be absolute, got "\${config.path}"\`);
    await access(config.path).catch(() => {
      throw new PluginError('INVALID_CONFIG', \`the folder \${config.path} does not exist or cannot be read\`);
    });
  },

  methods: {
    copy: {
      scope: 'node',
      description: 'Copies the whole folder; files unchanged since the last backup are not read again.',
      restoreTargetSchema: folderSchema,

      async checkRestoreTarget({ target }) {
        if (!isAbsolute(target.config.path)) throw new PluginError('INVALID_TARGET', \`the restore target must be absolute, got "\${target.config.path}"\`);
        const entries = await readdir(target.config.path).catch(() => [] as string[]);
        if (entries.length > 0) throw new PluginError('INVALID_TARGET', \`the restore target \${target.config.path} is not empty\`);
      },

      async backup(ctx) {
        ctx.signal.throwIfAborted();
        const { path } = ctx.node!.config;
        ctx.log.info(\`backing up \${path}\`);
        const summary = await ctx.artifacts.addTree(path);
        return { metadata: { path, files: summary.files, bytes: summary.bytes } };
      },

      async restore(ctx) {
        ctx.signal.throwIfAborted();
        const summary = await ctx.artifacts.extractTree(ctx.target.config.path);
        return { details: { files: summary.files } };
      },
    },
  },
});
`;

const SPEC = (id: string) => `import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChainvaultPlugin } from '@chainvault/plugin-sdk';
import { runConformance } from '@chainvault/plugin-sdk/testing';
import plugin from './index';

/** Every file under \`root\` with its content, by relative path. */
async function contents(root: string, prefix = ''): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const entry of await readdir(join(root, prefix), { withFileTypes: true })) {
    const path = join(prefix, entry.name);
    if (entry.isDirectory()) Object.assign(found, await contents(root, path));
    else found[path] = await readFile(join(root, path), 'utf8');
  }
  return found;
}

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), '${id}-plugin-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('the ${id} plugin', () => {
  it('passes the conformance kit: each restore holds what the folder held at its backup', async () => {
    const source = join(work, 'source');
    await mkdir(join(source, 'nested'), { recursive: true });
    await writeFile(join(source, 'a.txt'), 'first\\n');
    await writeFile(join(source, 'nested', 'b.txt'), 'second\\n');
    let expected = await contents(source);
    let targets = 0;
    const report = await runConformance({
      plugin: plugin as unknown as ChainvaultPlugin,
      method: 'copy',
      nodes: [{ id: 'node-1', name: 'data', role: 'node', config: { path: source } }],
      makeTarget: () => ({ config: { path: join(work, \`target-\${++targets}\`) } }),
      assertRestored: async (target) => {
        expect(await contents(String(target.config.path))).toEqual(expected);
      },
      change: async () => {
        await writeFile(join(source, 'a.txt'), 'changed\\n');
        expected = await contents(source);
      },
    });
    expect(report.backups).toHaveLength(2);
    expect(targets).toBe(2);
  });

  it('refuses a node whose folder is relative or missing', async () => {
    await expect(Promise.resolve().then(() => plugin.checkNodeConfig!({ path: 'relative' }))).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
    await expect(Promise.resolve().then(() => plugin.checkNodeConfig!({ path: join(work, 'missing') }))).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
  });
});
`;

const README = (id: string, packageName: string, layout: NewPluginOptions['layout']) => `# ${packageName}

A chainvault protocol plugin (id \`${id}\`, plugin API ${apiRange}). It backs up the folder a
node's config names (\`{ "path": "/absolute/folder" }\`) with the method \`copy\` and restores
it into an empty folder. Change \`src/index.ts\` to back up what your protocol needs.

${
  layout === 'workspace'
    ? `Build and test it in the chainvault workspace:

\`\`\`sh
npx nx build ${packageName}
npx jest plugins/${id}
\`\`\`

The server loads it at its next start (\`npm start\`), as it loads every plugin of the workspace.`
    : `Build, test and pack it:

\`\`\`sh
npm install
npm run build
npm test
npm pack
\`\`\`

Install the tarball into a running server with \`chainvault plugins install ./${packageName.replace(/^@/, '').replace('/', '-')}-0.1.0.tgz\`.`
}

See the plugin guide (docs/plugins.md in the chainvault repository) for the contract.
`;

/** The files of a new plugin, by path relative to its folder. */
export function newPluginFiles(options: NewPluginOptions): Record<string, string> {
  const { id, packageName, layout } = options;
  const manifest: Record<string, unknown> = {
    name: packageName,
    version: '0.1.0',
    description: `chainvault plugin: ${title(id)}.`,
    main: 'dist/index.js',
    types: 'dist/index.d.ts',
    files: ['dist', 'README.md'],
    license: 'Apache-2.0',
    chainvault: { plugin: { id, apiVersion: apiRange, entry: './dist/index.js' } },
    peerDependencies: { '@chainvault/plugin-sdk': apiRange },
  };
  const files: Record<string, string> = {
    'src/index.ts': INDEX(id),
    'src/index.spec.ts': SPEC(id),
    'README.md': README(id, packageName, layout),
  };
  if (layout === 'workspace') {
    Object.assign(manifest, { private: false, scripts: { build: 'tsc -b tsconfig.lib.json' }, nx: { tags: ['scope:plugin'] } });
    files['tsconfig.lib.json'] = `${JSON.stringify(
      {
        extends: '../../tsconfig.base.json',
        compilerOptions: { rootDir: 'src', outDir: 'dist', tsBuildInfoFile: 'dist/.tsbuildinfo' },
        include: ['src/**/*.ts'],
        exclude: ['src/**/*.spec.ts'],
        references: [{ path: '../../libs/plugin-sdk/tsconfig.lib.json' }],
      },
      null,
      2,
    )}\n`;
    files['jest.config.js'] = `module.exports = { ...require('../../jest.preset.js'), displayName: '${id}' };\n`;
  } else {
    Object.assign(manifest, {
      scripts: { build: 'tsc -p tsconfig.json', test: 'jest', prepack: 'npm run build' },
      devDependencies: { '@chainvault/plugin-sdk': options.sdkSpec ?? apiRange, '@types/jest': '^30.0.0', '@types/node': '^20.19.0', jest: '^30.0.0', 'ts-jest': '^29.4.0', typescript: '~5.9.0' },
    });
    files['tsconfig.json'] = `${JSON.stringify(
      { compilerOptions: { target: 'ES2022', module: 'node16', moduleResolution: 'node16', strict: true, declaration: true, esModuleInterop: true, skipLibCheck: true, rootDir: 'src', outDir: 'dist', types: ['node', 'jest'] }, include: ['src/**/*.ts'], exclude: ['src/**/*.spec.ts'] },
      null,
      2,
    )}\n`;
    files['jest.config.js'] = `module.exports = { testEnvironment: 'node', transform: { '^.+\\\\.ts$': ['ts-jest', { tsconfig: { module: 'commonjs', esModuleInterop: true, types: ['node', 'jest'] } }] }, testMatch: ['<rootDir>/src/**/*.spec.ts'] };\n`;
    files['.gitignore'] = 'node_modules/\ndist/\n*.tgz\n';
  }
  files['package.json'] = `${JSON.stringify(manifest, null, 2)}\n`;
  return files;
}
