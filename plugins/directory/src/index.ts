/**
 * The directory plugin: backs up a plain directory tree (files, symlinks, empty directories,
 * modes, mtimes) and restores it into an empty target directory. It is the smallest real
 * plugin and the template a third party copies.
 */
import { constants } from 'node:fs';
import { access, lstat, readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { PluginError, definePlugin, type JsonSchema } from '@chainvault/plugin-sdk';

export interface DirectoryConfig {
  /** Absolute path of the directory to back up (node) or restore into (target). */
  path: string;
}

const directoryConfigSchema: JsonSchema = {
  type: 'object',
  properties: {
    path: { type: 'string', minLength: 1, description: 'Absolute path of the directory.' },
  },
  required: ['path'],
  additionalProperties: false,
};

/** Resolves symlinks in the longest existing prefix, so `a/../b` and links compare as the real paths. */
async function realLocation(path: string): Promise<string> {
  const absolute = resolve(path);
  try {
    return await realpath(absolute);
  } catch {
    const parent = resolve(absolute, '..');
    return parent === absolute ? absolute : resolve(await realLocation(parent), relative(parent, absolute));
  }
}

function isWithin(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  // `..` as a whole segment leaves `outer`; a name like `..restore` does not.
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

async function requireAbsolute(config: DirectoryConfig, what: string, code: 'INVALID_CONFIG' | 'INVALID_TARGET'): Promise<void> {
  if (!isAbsolute(config.path)) throw new PluginError(code, `${what} path must be absolute, got "${config.path}"`);
}

/** A node's directory must be there and readable when it is registered, not found missing at its first backup. */
async function requireReadableDirectory(path: string): Promise<void> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new PluginError('INVALID_CONFIG', `the node's directory ${path} does not exist; create it, or give the directory that holds the data`);
    throw new PluginError('INVALID_CONFIG', `the node's directory ${path} cannot be read by the server: ${error.code ?? error.message}`);
  });
  if (!info.isDirectory()) throw new PluginError('INVALID_CONFIG', `the node's path ${path} is a file, not a directory`);
  try {
    await access(path, constants.R_OK | constants.X_OK);
    await readdir(path);
  } catch (error) {
    throw new PluginError('INVALID_CONFIG', `the node's directory ${path} cannot be read by the server (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give the server's user read access`);
  }
}

export default definePlugin<DirectoryConfig>({
  id: 'directory',
  protocols: ['directory'],
  description: 'A plain directory tree: files, symlinks, empty directories, modes and mtimes.',
  nodeConfigSchema: directoryConfigSchema,

  async checkNodeConfig(config) {
    await requireAbsolute(config, 'the node', 'INVALID_CONFIG');
    await requireReadableDirectory(config.path);
  },

  methods: {
    snapshot: {
      scope: 'node',
      description: 'Copies the whole tree; files unchanged since the last backup are not read again.',
      optionsSchema: { type: 'object', additionalProperties: false, properties: {} },
      restoreTargetSchema: directoryConfigSchema,

      async checkRestoreTarget({ sources, target }) {
        await requireAbsolute(target.config, 'the restore target', 'INVALID_TARGET');
        const into = await realLocation(target.config.path);
        for (const source of sources) {
          const from = await realLocation(source.config.path);
          if (isWithin(into, from)) {
            throw new PluginError('INVALID_TARGET', `the restore target ${target.config.path} is inside the backed-up directory ${source.config.path}; choose a directory outside it`);
          }
          if (isWithin(from, into)) {
            throw new PluginError('INVALID_TARGET', `the restore target ${target.config.path} contains the backed-up directory ${source.config.path}; choose a directory outside it`);
          }
        }
        const existing = await readdir(into).catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return [];
          if (error.code === 'ENOTDIR') throw new PluginError('INVALID_TARGET', `the restore target ${target.config.path} is a file, not a directory`);
          throw error;
        });
        if (existing.length > 0) {
          throw new PluginError('INVALID_TARGET', `the restore target ${target.config.path} is not empty; restore into a new or empty directory so nothing is overwritten`);
        }
      },

      async backup(ctx) {
        ctx.signal.throwIfAborted();
        const { path } = ctx.node!.config;
        const info = await lstat(path).catch(() => undefined);
        if (!info?.isDirectory()) {
          throw new PluginError('UNREACHABLE', `${path} is not a directory this server can read`, { retryable: true });
        }
        ctx.log.info(`backing up ${path}`);
        const summary = await ctx.artifacts.addTree(path);
        ctx.log.info(`${summary.files} files (${summary.bytes} bytes), ${summary.directories} directories, ${summary.symlinks} symlinks`);
        return { metadata: { path, files: summary.files, directories: summary.directories, symlinks: summary.symlinks, bytes: summary.bytes } };
      },

      async restore(ctx) {
        ctx.signal.throwIfAborted();
        const { path } = ctx.target.config;
        ctx.log.info(`restoring backup ${ctx.backup.id} into ${path}`);
        const summary = await ctx.artifacts.extractTree(path);
        ctx.progress.update({ unit: 'files', done: summary.files, total: summary.files });
        return { details: { path, files: summary.files, bytes: summary.bytes } };
      },

      async verify(ctx) {
        const entries = await ctx.artifacts.list();
        const problems: string[] = [];
        const recorded = ctx.backup.metadata as { files?: number };
        const files = entries.filter((e) => e.type === 'file').length;
        if (typeof recorded.files === 'number' && recorded.files !== files) {
          problems.push(`the backup recorded ${recorded.files} files but holds ${files}`);
        }
        return { problems, checked: { entries: entries.length, files } };
      },
    },
  },
});
