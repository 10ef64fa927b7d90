/**
 * The static declaration in a plugin package's package.json, which lets a host list a plugin
 * without running its code:
 *
 * ```json
 * "chainvault": { "plugin": { "id": "ethereum", "apiVersion": "^1.0.0", "entry": "./dist/index.js" } }
 * ```
 */

export interface PluginManifest {
  /** npm package name. */
  packageName: string;
  /** npm package version. */
  version: string;
  id: string;
  /** A semver range of the plugin API versions the plugin works with. */
  apiVersion: string;
  /** The module (relative to the package root) whose default export is the plugin. */
  entry: string;
}

/** Reads the manifest from a parsed package.json. Throws an Error naming the bad field. */
export function readPluginManifest(packageJson: unknown): PluginManifest {
  if (typeof packageJson !== 'object' || packageJson === null) throw new Error('package.json is not a JSON object');
  const pkg = packageJson as Record<string, unknown>;
  const name = typeof pkg.name === 'string' ? pkg.name : undefined;
  const where = name ?? 'package.json';
  if (!name) throw new Error('package.json has no "name"');
  if (typeof pkg.version !== 'string') throw new Error(`${where}: package.json has no "version"`);
  const block = (pkg.chainvault as Record<string, unknown> | undefined)?.plugin as Record<string, unknown> | undefined;
  if (typeof block !== 'object' || block === null) throw new Error(`${where}: package.json has no "chainvault.plugin" manifest`);
  for (const field of ['id', 'apiVersion', 'entry'] as const) {
    if (typeof block[field] !== 'string' || (block[field] as string).length === 0) {
      throw new Error(`${where}: "chainvault.plugin.${field}" must be a non-empty string`);
    }
  }
  const entry = block.entry as string;
  if (entry.startsWith('/') || entry.split(/[\\/]/).includes('..')) {
    throw new Error(`${where}: "chainvault.plugin.entry" must stay inside the package, got "${entry}"`);
  }
  return { packageName: name, version: pkg.version, id: block.id as string, apiVersion: block.apiVersion as string, entry };
}

/** True if the package.json declares a chainvault plugin (whether or not the manifest is valid). */
export function declaresPlugin(packageJson: unknown): boolean {
  const pkg = packageJson as { chainvault?: { plugin?: unknown } } | null;
  return typeof pkg === 'object' && pkg !== null && pkg.chainvault?.plugin !== undefined;
}
