/**
 * Finds plugin packages on disk and loads them. Every failure becomes a FAILED record with a
 * message naming the package; nothing a plugin does at load can stop the server.
 */
import { createRequire } from 'node:module';
import { readFile, readdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import {
  PLUGIN_API_VERSION,
  SUPPORTED_PLUGIN_API_RANGE,
  declaresPlugin,
  describeDefinitionProblems,
  readPluginManifest,
  type ChainvaultPlugin,
  type JsonSchema,
} from '@chainvault/plugin-sdk';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import * as semver from 'semver';
import { PluginStatus, type LoadedPlugin, type PluginRecord } from './plugin-record';
import { PluginLoadThrew, importIsolated, type PluginProcesses } from './isolation/isolated-plugin';

const EMPTY_OBJECT_SCHEMA: JsonSchema = { type: 'object', additionalProperties: false, properties: {} };

/** Directories of the packages under a node_modules-style directory (scoped ones included). */
export async function listPackageDirs(root: string): Promise<string[]> {
  const names = await readdir(root).catch(() => [] as string[]);
  const dirs: string[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue;
    if (name.startsWith('@')) {
      for (const inner of (await readdir(join(root, name)).catch(() => [] as string[])).sort()) dirs.push(join(root, name, inner));
    } else {
      dirs.push(join(root, name));
    }
  }
  return dirs;
}

export async function readPackageJson(dir: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

export function describeSchemaErrors(errors: ErrorObject[] | null | undefined, subject: string): string {
  return (errors ?? [])
    .map((e) => {
      const at = e.instancePath ? `${subject}${e.instancePath.replace(/\//g, '.')}` : subject;
      if (e.keyword === 'additionalProperties') return `${at}: unknown field "${(e.params as { additionalProperty: string }).additionalProperty}"`;
      if (e.keyword === 'required') return `${at}: missing required field "${(e.params as { missingProperty: string }).missingProperty}"`;
      if (e.keyword === 'enum') return `${at}: must be one of ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`;
      return `${at}: ${e.message}`;
    })
    .join('; ');
}

export class PluginLoader {
  private readonly ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true });

  /** Loads the plugin package at `dir`, or returns null if the package declares no plugin. */
  async load(
    dir: string,
    source: PluginRecord['source'],
    integrity: string | null = null,
    /** Plugins whose code is not to be run: recorded as DISABLED from their manifest alone. */
    disabled: ReadonlySet<string> = new Set(),
    /** For a plugin to load in processes of its own (never in this one): those processes. */
    isolate: (id: string, location: string, entry: string) => PluginProcesses | null = () => null,
  ): Promise<{ record: PluginRecord; loaded: LoadedPlugin | null } | null> {
    const location = await realpath(dir).catch(() => dir);
    const pkg = await readPackageJson(location);
    if (!pkg || !declaresPlugin(pkg)) return null;
    const packageName = typeof pkg.name === 'string' ? pkg.name : location;
    const record: PluginRecord = {
      id: packageName,
      packageName,
      version: typeof pkg.version === 'string' ? pkg.version : '0.0.0',
      apiVersion: '',
      location,
      source,
      integrity,
      status: PluginStatus.FAILED,
      error: null,
      lastFault: null,
      protocols: [],
      roles: [],
      methods: [],
      nodeConfigSchema: null,
    };
    const fail = (message: string) => {
      record.error = message;
      return { record, loaded: null };
    };

    let manifest;
    try {
      manifest = readPluginManifest(pkg);
    } catch (error) {
      return fail(`invalid manifest: ${(error as Error).message}`);
    }
    record.id = manifest.id;
    record.apiVersion = manifest.apiVersion;
    if (disabled.has(manifest.id)) {
      record.status = PluginStatus.DISABLED;
      return { record, loaded: null };
    }
    if (!semver.validRange(manifest.apiVersion)) return fail(`"chainvault.plugin.apiVersion" is not a semver range: "${manifest.apiVersion}"`);
    if (!semver.intersects(manifest.apiVersion, SUPPORTED_PLUGIN_API_RANGE)) {
      return fail(`${packageName} needs plugin API ${manifest.apiVersion}, but this chainvault loads plugins built for ${SUPPORTED_PLUGIN_API_RANGE} (it implements ${PLUGIN_API_VERSION})`);
    }

    let plugin: ChainvaultPlugin;
    const processes = isolate(manifest.id, location, manifest.entry);
    if (processes) {
      try {
        plugin = await importIsolated(processes);
      } catch (error) {
        if (error instanceof PluginLoadThrew) return fail(`${packageName} threw while loading ${manifest.entry}: ${error.message}`);
        return fail(`${packageName} ${(error as Error).message} (loading ${manifest.entry} in its own process)`);
      }
    } else {
      try {
        const exported = createRequire(join(location, 'package.json'))(join(location, manifest.entry)) as { default?: unknown };
        plugin = (exported?.default ?? exported) as ChainvaultPlugin;
      } catch (error) {
        return fail(`${packageName} threw while loading ${manifest.entry}: ${(error as Error)?.message ?? String(error)}`);
      }
    }
    const refuse = (message: string) => {
      processes?.close();
      return fail(message);
    };
    const problems = describeDefinitionProblems(plugin);
    if (problems.length > 0) return refuse(`${packageName} does not export a valid plugin: ${problems.join('; ')}`);
    if (plugin.id !== manifest.id) return refuse(`${packageName} declares id "${manifest.id}" in package.json but "${plugin.id}" in code`);
    if (typeof plugin.apiVersion === 'string' && semver.valid(plugin.apiVersion) && !semver.satisfies(plugin.apiVersion, SUPPORTED_PLUGIN_API_RANGE)) {
      return refuse(`${packageName} was built with plugin SDK ${plugin.apiVersion}; this chainvault loads plugins built for ${SUPPORTED_PLUGIN_API_RANGE}`);
    }

    record.protocols = [...plugin.protocols];
    record.roles = [...(plugin.roles ?? [])];
    record.nodeConfigSchema = plugin.nodeConfigSchema;
    record.methods = Object.entries(plugin.methods).map(([name, method]) => ({
      name,
      scope: method.scope,
      description: method.description,
      excludes: method.excludes ?? [],
      disruptive: method.disruptive === true,
      exclusive: method.exclusive === true,
      phasedRestore: typeof method.restorePhases === 'function',
      history: typeof method.history === 'function',
      optionsSchema: method.optionsSchema ?? EMPTY_OBJECT_SCHEMA,
      restoreOptionsSchema: method.restoreOptionsSchema ?? EMPTY_OBJECT_SCHEMA,
      restoreTargetSchema: method.restoreTargetSchema ?? null,
    }));
    try {
      const loaded: LoadedPlugin = {
        record,
        plugin,
        entry: manifest.entry,
        processes,
        validateNodeConfig: this.compile(plugin.nodeConfigSchema, 'nodeConfigSchema'),
        validateOptions: new Map(),
        validateTarget: new Map(),
        validateRestoreOptions: new Map(),
      };
      for (const [name, method] of Object.entries(plugin.methods)) {
        loaded.validateOptions.set(name, this.compile(method.optionsSchema ?? EMPTY_OBJECT_SCHEMA, `${name}.optionsSchema`));
        loaded.validateTarget.set(name, this.compile(method.restoreTargetSchema ?? plugin.nodeConfigSchema, `${name}.restoreTargetSchema`));
        loaded.validateRestoreOptions.set(name, this.compile(method.restoreOptionsSchema ?? EMPTY_OBJECT_SCHEMA, `${name}.restoreOptionsSchema`));
      }
      record.status = PluginStatus.LOADED;
      return { record, loaded };
    } catch (error) {
      return refuse(`${packageName}: ${(error as Error).message}`);
    }
  }

  private compile(schema: JsonSchema, what: string): ValidateFunction {
    try {
      return this.ajv.compile(schema as object);
    } catch (error) {
      throw new Error(`${what} is not a valid JSON schema: ${(error as Error).message}`);
    }
  }
}
