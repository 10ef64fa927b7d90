/**
 * Where restores and exports may write (the restore roots), and the places nothing driven
 * through the API may write to or register as a node: the data directory, repositories, plugin
 * folders and the kernel's folders (DESIGN.md §10).
 */
import { Inject, Injectable } from '@nestjs/common';
import type { ArtifactSource } from '@chainvault/plugin-sdk';
import { isAbsolute, join, resolve } from 'node:path';
import { DestinationKind } from '../catalog/entities';
import { CHAINVAULT_CONFIG, type ChainvaultConfig } from '../config/chainvault-config';
import { DestinationService } from '../destinations/destination.service';
import { ChainvaultError } from '../errors/chainvault.errors';
import { isWithin, realLocation } from '../filesystem/real-location';
import { hostNodeModules } from '../plugins/plugins-directory';

/** Folders of the kernel: no restore writes there and no node lives there. */
const SYSTEM_FOLDERS = ['/proc', '/sys', '/dev'];

const ADD_ROOTS = 'an admin adds roots with CHAINVAULT_RESTORE_ROOTS or the config key restoreRoots';

/** A place restores and exports must neither enter nor contain. */
interface ProtectedPlace {
  /** Real absolute location. */
  path: string;
  /** What it is, for the message: "the repository of destination "offsite" (/srv/repo)". */
  name: string;
  /** Why writing there is refused. */
  why: string;
  /** A folder inside it that is not protected (the data directory's restores folder). */
  except?: string;
  /** Only being inside it is refused: containing it is already refused by another place (`/` holds the data directory). */
  insideOnly?: boolean;
}

/** Field names of folders: `path`, `dir`, `directory`, or ending in `Path`, `Dir`, `Directory`. */
const FOLDER_FIELD = /^(path|dir|directory)$|(Path|Dir|Directory)$/;
/** Field names of files: `file`, or ending in `File` (`genesisFile`). */
const FILE_FIELD = /^file$|File$/;

/**
 * The file-system locations a plugin's config names, by the host's convention (the host does
 * not know a plugin's fields): every top-level string property named like a folder (`path`,
 * `restorePath`, `dataDir`) and, with `files`, every absolute one named like a file
 * (`genesisFile`). Plugins name their location fields so; other strings (URLs, commands, names
 * of files inside the backup) are not locations.
 */
export function configLocations(config: Record<string, unknown>, options: { files?: boolean } = {}): { field: string; path: string }[] {
  return Object.entries(config)
    .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
    .filter(([field, value]) => FOLDER_FIELD.test(field) || (options.files === true && FILE_FIELD.test(field) && isAbsolute(value)))
    .map(([field, path]) => ({ field, path }));
}

/** Where the server's own packages are (built-in plugins load from there), found as the plugin registry finds them. */
@Injectable()
export class RestoreRoots {
  private readonly hostPackages = hostNodeModules();

  constructor(
    @Inject(CHAINVAULT_CONFIG) private readonly config: ChainvaultConfig,
    private readonly destinations: DestinationService,
  ) {}

  /** The restore roots as configured: `<dataDir>/restores`, always, then the admin's. */
  get roots(): string[] {
    const extra = (this.config.restoreRoots ?? []).map((root) => resolve(root));
    return [...new Set([this.restoresFolder, ...extra])];
  }

  private get restoresFolder(): string {
    return join(resolve(this.config.dataDir), 'restores');
  }

  /**
   * The real location of `path`, which a restore or an export is about to write into; throws
   * FORBIDDEN unless it lies in (or is) a restore root and neither lies in nor contains a
   * protected place. `what` names the path for the message ("the export path").
   */
  async check(path: string, what: string): Promise<string> {
    const real = await this.locate(path, what);
    const shown = this.show(path, real);
    const roots = this.roots;
    // The protected places first: their message says why, whatever the roots are.
    for (const place of await this.protectedPlaces()) {
      const relation = this.relation(real, place);
      if (!relation) continue;
      const choose = relation === 'contains' ? `a folder under a restore root (${roots.join(', ')}) that does not contain it` : `a folder outside it under a restore root (${roots.join(', ')})`;
      throw ChainvaultError.forbidden(`${what} ${shown} ${relation} ${place.name}: ${place.why}. Choose ${choose}; ${ADD_ROOTS}.`, { path, roots });
    }
    const realRoots = await Promise.all(roots.map((root) => realLocation(root)));
    if (!realRoots.some((root) => isWithin(real, root))) {
      throw ChainvaultError.forbidden(
        `${what} ${shown} is outside the restore roots (${roots.join(', ')}): restores and exports write only under them. Choose a folder under one; ${ADD_ROOTS}.`,
        { path, roots },
      );
    }
    return real;
  }

  /**
   * The real location of a path a node's config names; throws FORBIDDEN when it lies in, is or
   * contains the data directory (so `/` is refused), or lies in /proc, /sys or /dev. Backups read
   * a node's files and restores to the node write them: neither may reach the server's own.
   */
  async checkNodeLocation(path: string, what: string): Promise<string> {
    const real = await this.locate(path, what);
    const shown = this.show(path, real);
    // No exception for the restores folder: a node there would be restored into and back up restores.
    const relation = this.relation(real, { ...(await this.dataDirectory()), except: undefined });
    if (relation) {
      throw ChainvaultError.forbidden(
        `${what} ${shown} ${relation} the data directory ${resolve(this.config.dataDir)}, which holds the catalog, the installed plugins, the secret key and the default repository: backups of the node would read them and restores to it could replace them. Register the node's own folder, outside the data directory.`,
        { path },
      );
    }
    const system = SYSTEM_FOLDERS.find((folder) => isWithin(resolve(path), folder) || isWithin(real, folder));
    if (system) {
      throw ChainvaultError.forbidden(`${what} ${shown} is inside ${system}, a folder of the kernel's, not of a node. Register the node's own folder.`, { path });
    }
    return real;
  }

  /** Checks every location a restore target's config names (see `configLocations`) with `check`. */
  async checkTarget(config: Record<string, unknown>, what: string): Promise<void> {
    for (const { field, path } of configLocations(config)) await this.check(path, `${what}.${field}`);
  }

  /** Checks every location a node's config names (see `configLocations`) with `checkNodeLocation`. */
  async checkNodeConfig(config: Record<string, unknown>, what: string): Promise<void> {
    for (const { field, path } of configLocations(config, { files: true })) await this.checkNodeLocation(path, `${what}.${field}`);
  }

  /**
   * The backup as handed to a plugin: `extractTree` first checks its target, and extracts into
   * the checked real location. A plugin writing through the host's API cannot leave the roots,
   * whatever its config said; only the job's own scratch folder (its `tempDir`), which the host
   * made and removes, is allowed besides.
   */
  guard(source: ArtifactSource, what: string, scratch?: string): ArtifactSource {
    const checked = async (targetDirectory: string): Promise<string> => {
      if (scratch && isAbsolute(targetDirectory)) {
        const real = await this.locate(targetDirectory, what);
        if (isWithin(real, await realLocation(scratch))) return real;
      }
      return this.check(targetDirectory, what);
    };
    return {
      list: () => source.list(),
      read: (path) => source.read(path),
      extractTree: async (targetDirectory, options) => source.extractTree(await checked(targetDirectory), options),
    };
  }

  private async locate(path: string, what: string): Promise<string> {
    if (typeof path !== 'string' || !isAbsolute(path)) throw ChainvaultError.badInput(`${what} must be absolute, got "${String(path)}"`);
    if (path.includes('\0')) throw ChainvaultError.badInput(`${what} must not contain a NUL character`);
    try {
      return await realLocation(path);
    } catch (error) {
      throw ChainvaultError.badInput(`${what} ${path} cannot be checked: ${(error as Error).message}`);
    }
  }

  /** The path as given, and where it really leads when that is elsewhere. */
  private show(path: string, real: string): string {
    return real === resolve(path) ? path : `${path} (which leads to ${real})`;
  }

  private relation(real: string, place: ProtectedPlace): 'is' | 'is inside' | 'contains' | null {
    if (real === place.path) return 'is';
    if (isWithin(real, place.path)) return place.except && isWithin(real, place.except) ? null : 'is inside';
    if (!place.insideOnly && isWithin(place.path, real)) return 'contains';
    return null;
  }

  private async dataDirectory(): Promise<ProtectedPlace> {
    const path = await realLocation(resolve(this.config.dataDir));
    return {
      path,
      name: `the data directory ${resolve(this.config.dataDir)}`,
      why: `it holds the catalog, the installed plugins, the secret key and the default repository, and a file written there could replace them or plant a plugin (only its restores folder, ${this.restoresFolder}, takes restores and exports)`,
      // Lexically below the real data directory: a restores folder that is a link to elsewhere is judged where it leads.
      except: join(path, 'restores'),
    };
  }

  /** The data directory (the catalog, plugins, secret key and default repository), every local repository, the plugin folders, the kernel's. */
  private async protectedPlaces(): Promise<ProtectedPlace[]> {
    const places: ProtectedPlace[] = [await this.dataDirectory()];
    for (const destination of await this.destinations.list()) {
      if (destination.kind !== DestinationKind.LOCAL || typeof destination.config.path !== 'string') continue;
      const path = resolve(this.config.dataDir, destination.config.path);
      places.push({ path: await realLocation(path), name: `the repository of destination "${destination.name}" (${path})`, why: 'a file written there could damage the backups it holds' });
    }
    for (const folder of this.config.pluginPaths ?? []) {
      const path = resolve(folder);
      places.push({ path: await realLocation(path), name: `the plugin folder ${path}`, why: 'a package written there would run as a plugin at the next start' });
    }
    if (this.hostPackages) {
      places.push({ path: await realLocation(this.hostPackages), name: `the server's packages ${this.hostPackages}`, why: 'built-in plugins load from there, and a package written there would run at the next start' });
    }
    for (const folder of SYSTEM_FOLDERS) {
      places.push({ path: folder, name: folder, why: "it is the kernel's, and files there are not data", insideOnly: true });
    }
    return places;
  }
}
