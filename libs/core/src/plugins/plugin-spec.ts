/**
 * What `installPlugin` accepts, read strictly: a registry package name or a path on the server.
 * Anything npm would fetch from elsewhere (a URL, git, GitHub, a `file:` spec) is refused before
 * npm runs.
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ChainvaultError } from '../errors/chainvault.errors';

export type PluginSource =
  /** `name`, `@scope/name`, with an optional `@version`, `@range` or `@tag`, fetched from the configured registry. */
  | { kind: 'registry'; spec: string }
  /** An absolute path to a `.tgz` / `.tar.gz` file on the server. */
  | { kind: 'tarball'; path: string }
  /** An absolute path to a folder on the server holding a package.json. */
  | { kind: 'folder'; path: string };

export const ACCEPTED_PLUGIN_SPECS =
  'a plugin is installed from a registry package name (name or @scope/name, optionally followed by @version, @range or @tag) ' +
  'or from a path on the server (absolute, or starting with ./ or ../) to a .tgz or .tar.gz file or to a folder with a package.json; ' +
  'URLs, git and GitHub references and file: specs are not accepted';

// npm's rules for names (old packages may have capitals), without `:` and with no `/` but the scope's.
const NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/i;
// A version, a range (`^1.2.0`, `>=1 <2`, `1.x || 2.x`) or a tag. Not starting with `.`, which npm reads as a path.
const VERSION = /^[a-z0-9^~<>=*][a-z0-9.^~<>=*|+_ -]*$/i;
// npm reads a name ending like this as a tarball in the current directory.
const TARBALL_NAME = /\.(?:tgz|tar\.gz|tar)$/i;
const MAX_NAME_LENGTH = 214;

/** The source `spec` names, or a BAD_USER_INPUT error saying what is accepted. */
export async function classifyPluginSpec(spec: string): Promise<PluginSource> {
  const trimmed = spec.trim();
  if (!trimmed) throw ChainvaultError.badInput(`no plugin given: ${ACCEPTED_PLUGIN_SPECS}`);
  if (trimmed.startsWith('/') || trimmed.startsWith('./') || trimmed.startsWith('../')) return classifyPath(resolve(trimmed));
  if (isRegistrySpec(trimmed)) return { kind: 'registry', spec: trimmed };
  throw ChainvaultError.badInput(`"${trimmed}" is not a plugin spec chainvault accepts: ${ACCEPTED_PLUGIN_SPECS}`);
}

/** A name npm accepts for a package (capitals allowed, as for old packages). */
export function isPackageName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME.test(name) && !TARBALL_NAME.test(name);
}

function isRegistrySpec(spec: string): boolean {
  const at = spec.indexOf('@', 1);
  const name = at === -1 ? spec : spec.slice(0, at);
  const version = at === -1 ? null : spec.slice(at + 1);
  return isPackageName(name) && (version === null || VERSION.test(version));
}

async function classifyPath(path: string): Promise<PluginSource> {
  const info = await stat(path).catch(() => null);
  if (!info) throw ChainvaultError.badInput(`${path} does not exist`);
  if (info.isFile()) {
    if (/\.(?:tgz|tar\.gz)$/i.test(path)) return { kind: 'tarball', path };
    throw ChainvaultError.badInput(`${path} is a file but not a .tgz or .tar.gz package: ${ACCEPTED_PLUGIN_SPECS}`);
  }
  if (info.isDirectory()) {
    const manifest = await stat(join(path, 'package.json')).catch(() => null);
    if (manifest?.isFile()) return { kind: 'folder', path };
    throw ChainvaultError.badInput(`${path} is a folder without a package.json: ${ACCEPTED_PLUGIN_SPECS}`);
  }
  throw ChainvaultError.badInput(`${path} is neither a file nor a folder: ${ACCEPTED_PLUGIN_SPECS}`);
}
