/**
 * A plugin's process: loads one plugin (its folder and entry are the arguments) as it starts,
 * then runs its method calls (backup, restore, verify or cleanup) one at a time, each with a context whose artifacts, progress, log, state and workspaces live in
 * the server, reached over IPC. Machines and commands run here, bound to this call's signal.
 * Whatever the plugin does (loops, allocates, exits) happens here, not in the server.
 */
import { createCommandRunner, createMachineProvider, type JsonObject, type PluginLogger } from '@chainvault/plugin-sdk';
import { lstatSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, sep } from 'node:path';
import { Rpc, type Message } from './rpc';

export interface CallStart {
  method: string;
  fn: 'backup' | 'restore' | 'verify' | 'cleanup' | 'inventory';
  /** The context's plain fields (nodes, options, target, backup records …). */
  data: Record<string, unknown>;
  tempDir: string;
  /** The call's artifacts in the server: a sink (backup) or a source (restore, verify). */
  artifacts: 'sink' | 'source' | null;
  /** How many earlier backups a restore may open. */
  earlier: { backup: JsonObject }[];
  state: JsonObject | null;
}

/** The running call's signal: each call gets its own. */
let controller = new AbortController();
const send = (message: Message) => process.send!(message);

/** The paths under `root` a filter leaves out, walked here where the filter is (it cannot cross to the server). */
function excluded(root: string, filter: (path: string, isDirectory: boolean) => boolean): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      const isDirectory = lstatSync(full).isDirectory();
      const rel = relative(root, full).split(sep).join('/');
      if (!filter(rel, isDirectory)) out.push(rel);
      else if (isDirectory) walk(full);
    }
  };
  walk(root);
  return out;
}

function sink() {
  return {
    addTree: (dir: string, options: { as?: string; filter?: (path: string, isDirectory: boolean) => boolean } = {}) =>
      rpc.request('sink', 'addTree', dir, { as: options.as, exclude: options.filter ? excluded(dir, options.filter) : undefined }),
    addFile: (path: string, as: string) => rpc.request('sink', 'addFile', path, as),
    writeFile: async (as: string, content: AsyncIterable<Uint8Array> | Uint8Array | string, options?: unknown) => {
      if (typeof content === 'string' || content instanceof Uint8Array) return rpc.request('sink', 'writeFile', as, content, options);
      const stream = await rpc.request<number>('write.open', as, options);
      for await (const chunk of content) await rpc.request('write.chunk', stream, chunk);
      return rpc.request('write.end', stream);
    },
  };
}

function source(handle: number) {
  return {
    list: () => rpc.request('source', handle, 'list'),
    extractTree: (dir: string, options?: unknown) => rpc.request('source', handle, 'extractTree', dir, options),
    read: (path: string): AsyncIterable<Uint8Array> => ({
      async *[Symbol.asyncIterator]() {
        const stream = await rpc.request<number>('read.open', handle, path);
        for (;;) {
          const next = await rpc.request<{ done: boolean; value?: Uint8Array }>('read.next', stream);
          if (next.done) return;
          yield next.value!;
        }
      },
    }),
  };
}

type LoadedModule = { methods: Record<string, Record<string, (ctx: unknown) => Promise<unknown>>> };

/** Loaded once, as the process starts, so a call finds the plugin ready; a throw is the answer to every call. */
const loaded: { plugin: LoadedModule } | { error: unknown } = (() => {
  const [location, entry] = process.argv.slice(2);
  try {
    const exported = createRequire(join(location, 'package.json'))(join(location, entry)) as { default?: unknown };
    return { plugin: (exported?.default ?? exported) as LoadedModule };
  } catch (error) {
    return { error };
  }
})();

/** A function in the plugin's description: the host calls it by its path. */
export interface FunctionMark {
  $fn: string;
}

/** The plugin as data: functions replaced by marks naming their path (`methods.copy.restorePhases`). */
function describe(value: unknown, path: string, seen = new Map<unknown, unknown>()): unknown {
  if (typeof value === 'function') return { $fn: path } satisfies FunctionMark;
  if (value === null || typeof value !== 'object') return value;
  // An object met twice (a schema shared by two methods) is described once; a cycle ends there.
  if (seen.has(value)) return seen.get(value);
  seen.set(value, null);
  const described = Array.isArray(value)
    ? value.map((item, i) => describe(item, `${path}.${i}`, seen))
    : Object.fromEntries(Object.entries(value).map(([key, item]) => [key, describe(item, path ? `${path}.${key}` : key, seen)]));
  seen.set(value, described);
  return described;
}

/** The plugin's function at `path` with its object, so it is called as a method. */
function functionAt(path: string): { self: unknown; fn: (...args: unknown[]) => unknown } {
  if ('error' in loaded) throw loaded.error;
  const keys = path.split('.');
  let self: unknown = loaded.plugin;
  for (const key of keys.slice(0, -1)) self = (self as Record<string, unknown>)?.[key];
  const fn = (self as Record<string, unknown>)?.[keys[keys.length - 1]];
  if (typeof fn !== 'function') throw new Error(`the plugin has no function ${path}`);
  return { self, fn: fn as (...args: unknown[]) => unknown };
}

async function run(start: CallStart): Promise<unknown> {
  if ('error' in loaded) throw loaded.error;
  const { plugin } = loaded;
  controller = new AbortController();
  const call = plugin.methods?.[start.method]?.[start.fn];
  if (typeof call !== 'function') throw new Error(`the plugin has no ${start.fn} for method "${start.method}"`);
  const log: PluginLogger = {
    info: (m) => rpc.event('log', 'info', String(m)),
    warn: (m) => rpc.event('log', 'warn', String(m)),
    error: (m) => rpc.event('log', 'error', String(m)),
  };
  const machines = createMachineProvider({ signal: controller.signal, log, tempDir: join(start.tempDir, '.machines') });
  let state = start.state ?? {};
  const context = {
    ...start.data,
    method: start.method,
    progress: { update: (p: unknown) => rpc.event('progress', p) },
    log,
    signal: controller.signal,
    tempDir: start.tempDir,
    commands: createCommandRunner(controller.signal),
    machines: { get: machines.get.bind(machines) },
    workspaces: { network: () => rpc.request('workspaces.network'), node: (id: string) => rpc.request('workspaces.node', id) },
    ...(start.artifacts === 'sink' ? { artifacts: sink() } : start.artifacts === 'source' ? { artifacts: source(0) } : {}),
    ...(start.earlier.length ? { earlier: start.earlier.map((e, i) => ({ backup: e.backup, open: async () => source(await rpc.request<number>('earlier.open', i)) })) } : {}),
    ...(start.state !== null
      ? {
          state: {
            get: () => state,
            save: async (patch: JsonObject) => {
              await rpc.request('state.save', patch);
              state = { ...state, ...patch };
            },
          },
        }
      : {}),
  };
  try {
    return await call(context);
  } finally {
    await machines.close().catch(() => undefined);
  }
}

const rpc: Rpc = new Rpc(
  { send },
  {
    start: async (start: CallStart) => {
      try {
        return (await run(start)) ?? null;
      } finally {
        // Sent before the answer: the server decides from it whether this process takes another call.
        rpc.event('heap', process.memoryUsage().heapUsed);
      }
    },
    /** A quick call made while a request is answered (checkNodeConfig, restorePhases, dataLocations …): plain data in and out. */
    quick: async (path: string, args: unknown[]) => {
      const { self, fn } = functionAt(path);
      return (await fn.apply(self, args)) ?? null;
    },
  },
  (op, args) => {
    if (op === 'abort') controller.abort(new Error(String(args[0] ?? 'cancelled')));
  },
);
process.on('message', (message: Message) => void rpc.receive(message));
// The first word to the server: the plugin as data, or why it did not load.
rpc.event('ready', 'error' in loaded ? { error: String((loaded.error as Error)?.message ?? loaded.error) } : { plugin: describe(loaded.plugin, '') });
// The server going away ends this process too.
process.on('disconnect', () => process.exit(0));
