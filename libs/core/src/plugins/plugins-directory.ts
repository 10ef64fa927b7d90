/**
 * The plugins directory in the data directory, as the host lays it out: an npm project whose
 * dependencies are the installed plugins, each one a tarball kept under `packages/` (npm
 * re-reads them on every later install), an `.npmrc` that forbids scripts, and `installed.json`,
 * the host's record of what was installed from where, with the tarball's sha512.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** The node_modules directory that holds chainvault's own packages (the workspace's, in a checkout), where built-in plugins load from. */
export function hostNodeModules(): string | null {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules', '@chainvault'))) return join(dir, 'node_modules');
  }
  return null;
}

/** One entry of installed.json, keyed by package name. */
export interface InstalledPackage {
  /** sha512 of the installed tarball, as npm writes integrity (`sha512-<base64>`). */
  integrity: string;
  /** What it was installed from: the registry spec as given, or the absolute path of the tarball or folder. */
  spec: string;
  version: string;
  /** ISO-8601. */
  installedAt: string;
}

const NPMRC = `# Written by chainvault: no npm run in this directory executes package scripts.\nignore-scripts=true\n`;
const MANIFEST = `${JSON.stringify({ name: 'chainvault-installed-plugins', private: true, dependencies: {} }, null, 2)}\n`;

export class PluginsDirectory {
  constructor(readonly root: string) {}

  get nodeModules(): string {
    return join(this.root, 'node_modules');
  }

  /** Where installed tarballs are kept, for as long as they are installed. */
  get packages(): string {
    return join(this.root, 'packages');
  }

  get manifestFile(): string {
    return join(this.root, 'package.json');
  }

  /** Creates the directory's npm project if needed, and (always) its script-forbidding `.npmrc`. */
  async prepare(): Promise<void> {
    await mkdir(this.packages, { recursive: true });
    if (!existsSync(this.manifestFile)) await writeFile(this.manifestFile, MANIFEST);
    await writeFile(join(this.root, '.npmrc'), NPMRC);
  }

  /** package.json's dependencies: package name → npm spec (`file:packages/<tarball>`). */
  async dependencies(): Promise<Record<string, string>> {
    try {
      const pkg = JSON.parse(await readFile(this.manifestFile, 'utf8')) as { dependencies?: Record<string, string> };
      return pkg.dependencies ?? {};
    } catch {
      return {};
    }
  }

  async installed(): Promise<Record<string, InstalledPackage>> {
    try {
      const parsed = JSON.parse(await readFile(join(this.root, 'installed.json'), 'utf8')) as unknown;
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, InstalledPackage>) : {};
    } catch {
      return {};
    }
  }

  async recordInstalled(name: string, entry: InstalledPackage): Promise<void> {
    const all = { ...(await this.installed()), [name]: entry };
    const file = join(this.root, 'installed.json');
    // Written aside and renamed, so a crash leaves the old record or the new one, never half of one.
    await writeFile(`${file}.tmp`, `${JSON.stringify(all, null, 2)}\n`);
    await rename(`${file}.tmp`, file);
  }

  /**
   * The sha512 every version was first installed with, kept after uninstalls: a later package of
   * the same name and version with other content is refused.
   */
  async seenIntegrity(name: string, version: string): Promise<string | null> {
    return (await this.seen())[`${name}@${version}`] ?? null;
  }

  async rememberIntegrity(name: string, version: string, integrity: string): Promise<void> {
    const all = await this.seen();
    if (all[`${name}@${version}`]) return;
    all[`${name}@${version}`] = integrity;
    const file = join(this.root, 'seen-integrity.json');
    await writeFile(`${file}.tmp`, `${JSON.stringify(all, null, 2)}\n`);
    await rename(`${file}.tmp`, file);
  }

  private async seen(): Promise<Record<string, string>> {
    try {
      const parsed = JSON.parse(await readFile(join(this.root, 'seen-integrity.json'), 'utf8')) as unknown;
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, string>) : {};
    } catch {
      return {};
    }
  }

  /** The ids of the plugins an admin disabled (built-in ones too), kept across restarts. */
  async disabled(): Promise<Set<string>> {
    try {
      const parsed = JSON.parse(await readFile(join(this.root, 'disabled.json'), 'utf8')) as unknown;
      return new Set(Array.isArray(parsed) ? parsed.filter((id): id is string => typeof id === 'string') : []);
    } catch {
      return new Set();
    }
  }

  async setDisabled(ids: Set<string>): Promise<void> {
    await mkdir(this.root, { recursive: true });
    const file = join(this.root, 'disabled.json');
    await writeFile(`${file}.tmp`, `${JSON.stringify([...ids].sort(), null, 2)}\n`);
    await rename(`${file}.tmp`, file);
  }

  /** Drops a package from the directory's package.json, so no later npm install brings it back. */
  async removeDependency(name: string): Promise<void> {
    const pkg = JSON.parse(await readFile(this.manifestFile, 'utf8')) as { dependencies?: Record<string, string> };
    delete pkg.dependencies?.[name];
    await writeFile(`${this.manifestFile}.tmp`, `${JSON.stringify(pkg, null, 2)}\n`);
    await rename(`${this.manifestFile}.tmp`, this.manifestFile);
  }

  async forgetInstalled(name: string): Promise<void> {
    const all = await this.installed();
    delete all[name];
    const file = join(this.root, 'installed.json');
    await writeFile(`${file}.tmp`, `${JSON.stringify(all, null, 2)}\n`);
    await rename(`${file}.tmp`, file);
  }

  /** Saves the files npm rewrites on install; the returned function puts them back as they were. */
  async snapshot(): Promise<() => Promise<void>> {
    const files = [this.manifestFile, join(this.root, 'package-lock.json')];
    const saved = await Promise.all(files.map((file) => readFile(file).catch(() => null)));
    return async () => {
      for (const [i, file] of files.entries()) {
        const content = saved[i];
        if (content === null) await rm(file, { force: true });
        else await writeFile(file, content);
      }
    };
  }
}
