/* eslint-disable @typescript-eslint/no-explicit-any -- the proxy forwards calls by name to the host's objects */
/**
 * Runs an installed plugin's job calls (backup, restore, verify, cleanup) in a process of their
 * own, one per call, so that a plugin that loops, blocks its event loop, exhausts its memory or
 * exits fails only its own job: the server's API, scheduler and other jobs go on. The context
 * crosses over IPC: artifacts (streamed both ways), progress, log, state and workspaces stay in
 * the server; the call is stopped when its job is cancelled (after a grace period), when it
 * makes no progress for too long, or when it passes its memory limit.
 */
import { PluginError, type ChainvaultPlugin, type PluginErrorCode } from '@chainvault/plugin-sdk';
import { fork } from 'node:child_process';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { Rpc, type Message, type SerializedError } from './rpc';
import type { CallStart } from './worker-main';

export interface IsolationLimits {
  /** The plugin process's JavaScript heap, in MiB. */
  memoryMb: number;
  /** How long a call may go without a sign of life (progress, a log line, a storage call). */
  idleMs: number;
  /** How long a cancelled call has to stop before its process is killed. */
  cancelGraceMs: number;
}

const WORKER = join(__dirname, 'worker-main.js');
const CALLS = ['backup', 'restore', 'verify', 'cleanup'] as const;
/** Context members that are the host's services, not data: rebuilt in the plugin's process. */
const SERVICES = new Set(['artifacts', 'earlier', 'state', 'progress', 'log', 'signal', 'commands', 'machines', 'workspaces', 'method', 'tempDir']);

/** The environment a plugin's process gets: the basics, none of the server's own settings or secrets. */
function pluginEnv(): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'USER', 'SSH_AUTH_SOCK'];
  return Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]));
}

function asError(error: SerializedError): Error {
  if (error.code) return new PluginError(error.code as PluginErrorCode, error.message, { retryable: error.retryable ?? false });
  const failure = new Error(error.message);
  if (error.name) failure.name = error.name;
  return failure;
}

/** A push-to-pull stream: the plugin's chunks, arriving over IPC, read by the repository at its pace. */
class ChunkQueue implements AsyncIterable<Uint8Array> {
  private readonly chunks: Uint8Array[] = [];
  private ended = false;
  private wake: (() => void) | null = null;
  private drained: (() => void) | null = null;

  push(chunk: Uint8Array): Promise<void> {
    if (this.ended) return Promise.resolve();
    this.chunks.push(chunk);
    this.wake?.();
    return new Promise((resolve) => (this.drained = resolve));
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  /** The reader gave up (the write failed): nothing waits for it any more. */
  abandon(): void {
    this.ended = true;
    this.chunks.length = 0;
    this.drained?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const chunk = this.chunks.shift();
      if (chunk) {
        yield chunk;
        if (this.chunks.length === 0) this.drained?.();
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }
}

async function isolatedCall(plugin: { id: string; location: string; entry: string }, method: string, fn: (typeof CALLS)[number], ctx: Record<string, any>, limits: IsolationLimits): Promise<unknown> {
  const child = fork(WORKER, [], {
    serialization: 'advanced',
    execArgv: [`--max-old-space-size=${limits.memoryMb}`],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: pluginEnv(),
  });
  // Below the server: a plugin that spins takes what the server leaves, not what it needs.
  try {
    if (child.pid) setPriority(child.pid, 10);
  } catch {
    // Not allowed here: it runs at the server's priority.
  }
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = `${stderr}${d.toString()}`.slice(-4000)));
  child.stdout!.on('data', () => undefined);
  let lastSign = Date.now();
  const sources: any[] = ctx.artifacts && typeof ctx.artifacts.list === 'function' ? [ctx.artifacts] : [];
  const reads = new Map<number, AsyncIterator<Uint8Array>>();
  const writes = new Map<number, { queue: ChunkQueue; done: Promise<unknown> }>();
  let nextStream = 1;
  const rpc = new Rpc(
    {
      send: (message: Message) => {
        if (child.connected) child.send(message);
      },
    },
    {
      sink: async (name: string, ...args: any[]) => {
        if (name === 'addTree') {
          const [dir, options] = args as [string, { as?: string; exclude?: string[] }];
          const excluded = new Set(options.exclude ?? []);
          const out = (path: string) => [...excluded].some((e) => path === e || path.startsWith(`${e}/`));
          return ctx.artifacts.addTree(dir, { ...(options.as !== undefined ? { as: options.as } : {}), ...(excluded.size ? { filter: (path: string) => !out(path) } : {}) });
        }
        return ctx.artifacts[name](...args);
      },
      source: (handle: number, name: string, ...args: any[]) => sources[handle][name](...args),
      'read.open': (handle: number, path: string) => {
        const id = nextStream++;
        reads.set(id, sources[handle].read(path)[Symbol.asyncIterator]());
        return id;
      },
      'read.next': async (id: number) => {
        const next = await reads.get(id)!.next();
        if (next.done) reads.delete(id);
        return next.done ? { done: true } : { done: false, value: next.value };
      },
      'write.open': (as: string, options: unknown) => {
        const id = nextStream++;
        const queue = new ChunkQueue();
        const done = Promise.resolve(ctx.artifacts.writeFile(as, queue, options)).finally(() => queue.abandon());
        done.catch(() => undefined);
        writes.set(id, { queue, done });
        return id;
      },
      'write.chunk': (id: number, chunk: Uint8Array) => writes.get(id)!.queue.push(chunk),
      'write.end': async (id: number) => {
        const write = writes.get(id)!;
        writes.delete(id);
        write.queue.end();
        return write.done;
      },
      'workspaces.network': () => ctx.workspaces.network(),
      'workspaces.node': (id: string) => ctx.workspaces.node(id),
      'earlier.open': async (index: number) => {
        sources.push(await ctx.earlier[index].open());
        return sources.length - 1;
      },
      'state.save': (patch: Record<string, unknown>) => ctx.state.save(patch),
    },
    (op, args) => {
      if (op === 'progress') ctx.progress.update(args[0]);
      if (op === 'log') ctx.log[args[0] as 'info' | 'warn' | 'error'](String(args[1]));
    },
  );
  child.on('message', (message: Message) => {
    lastSign = Date.now();
    void rpc.receive(message);
  });

  const start: CallStart = {
    location: plugin.location,
    entry: plugin.entry,
    method,
    fn,
    data: Object.fromEntries(Object.entries(ctx).filter(([key, value]) => !SERVICES.has(key) && typeof value !== 'function')),
    tempDir: ctx.tempDir,
    artifacts: ctx.artifacts ? (typeof ctx.artifacts.list === 'function' ? 'source' : 'sink') : null,
    earlier: (ctx.earlier ?? []).map((e: { backup: unknown }) => ({ backup: e.backup })),
    state: ctx.state ? ctx.state.get() : null,
  };

  let stopReason: string | null = null;
  const stop = (reason: string) => {
    if (stopReason) return;
    stopReason = reason;
    child.kill('SIGKILL');
  };
  const watchdog = setInterval(() => {
    if (Date.now() - lastSign > limits.idleMs) stop(`made no progress for ${Math.round(limits.idleMs / 1000)} s (no progress, log line or storage call), so its process was stopped`);
  }, Math.min(1000, limits.idleMs));
  let grace: NodeJS.Timeout | undefined;
  const onAbort = () => {
    const reason = ctx.signal?.reason;
    rpc.event('abort', reason instanceof Error ? reason.message : String(reason ?? 'cancelled'));
    grace = setTimeout(() => stop(`did not stop within ${Math.round(limits.cancelGraceMs / 1000)} s of being cancelled, so its process was stopped`), limits.cancelGraceMs);
  };
  if (ctx.signal?.aborted) onAbort();
  else ctx.signal?.addEventListener('abort', onAbort, { once: true });

  const exited = new Promise<never>((_, reject) =>
    child.on('exit', (code, signal) => {
      const outOfMemory = /heap out of memory|Allocation failed/i.test(stderr);
      const why = stopReason ?? (outOfMemory ? `ran out of memory (its limit is ${limits.memoryMb} MiB)` : `its process exited (${signal ? `signal ${signal}` : `code ${code}`})${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' ')}` : ''}`);
      const error = new Error(`plugin "${plugin.id}" ${why}`);
      rpc.failAll({ message: error.message });
      reject(error);
    }),
  );
  try {
    return await Promise.race([rpc.request('start', start).catch((error: SerializedError) => Promise.reject(asError(error))), exited]);
  } finally {
    clearInterval(watchdog);
    if (grace) clearTimeout(grace);
    ctx.signal?.removeEventListener('abort', onAbort);
    exited.catch(() => undefined);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** The plugin as the host uses it, with its job calls run in processes of their own. */
export function isolatePlugin(plugin: ChainvaultPlugin, where: { location: string; entry: string }, limits: (id: string) => IsolationLimits): ChainvaultPlugin {
  const methods = Object.fromEntries(
    Object.entries(plugin.methods).map(([name, method]) => {
      const wrapped: Record<string, unknown> = { ...method };
      for (const fn of CALLS) {
        if (typeof (method as unknown as Record<string, unknown>)[fn] === 'function') {
          wrapped[fn] = (ctx: Record<string, unknown>) => isolatedCall({ id: plugin.id, ...where }, name, fn, ctx, limits(plugin.id));
        }
      }
      return [name, wrapped];
    }),
  );
  return { ...plugin, methods } as unknown as ChainvaultPlugin;
}
