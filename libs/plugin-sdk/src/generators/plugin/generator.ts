/**
 * `npx nx g @chainvault/plugin-sdk:plugin <name>`: a new plugin in the chainvault workspace,
 * under plugins/<name>, that builds, lints, passes its tests and loads at the server's next
 * start with no edit.
 */
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { PLUGIN_ID, newPluginFiles } from './files';

/** The part of Nx's Tree the generator uses (Nx passes the real one). */
export interface GeneratorTree {
  root: string;
  exists(path: string): boolean;
  write(path: string, content: string): void;
}

export interface PluginGeneratorOptions {
  name: string;
}

export default function pluginGenerator(tree: GeneratorTree, options: PluginGeneratorOptions): () => void {
  const id = String(options.name ?? '').trim();
  if (!PLUGIN_ID.test(id)) throw new Error(`the plugin name must be lowercase letters, digits and dashes, starting with a letter (it becomes the plugin id); got "${id}"`);
  const folder = `plugins/${id}`;
  if (tree.exists(folder)) throw new Error(`${folder} already exists; choose another name`);
  const packageName = `@chainvault/plugin-${id}`;
  for (const [path, content] of Object.entries(newPluginFiles({ id, packageName, layout: 'workspace' }))) tree.write(`${folder}/${path}`, content);
  // What `npm install` does for a workspace package: the host finds plugins in node_modules/@chainvault.
  return () => {
    const link = join(tree.root, 'node_modules', packageName);
    if (existsSync(link)) return;
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(relative(dirname(link), join(tree.root, folder)), link, 'dir');
  };
}
