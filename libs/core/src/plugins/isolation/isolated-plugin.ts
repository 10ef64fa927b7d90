/* eslint-disable @typescript-eslint/no-explicit-any -- the proxy forwards calls by name to the host's objects */
/**
 * Runs an installed plugin's job calls (backup, restore, verify, cleanup) in processes of its
 * own (a spare kept loaded between calls, one more per call running beside it), so that a
 * plugin that loops, blocks its event loop, exhausts its memory or exits fails only its own job: the server's API, scheduler and other jobs go on. The context
 * crosses over IPC: artifacts (streamed both ways), progress, log, state and workspaces stay in
 * the server; the call is stopped when its job is cancelled (after a grace period), when it
 * makes no progress for too long, or when it passes its memory limit.
 */
import { PluginError, type ChainvaultPlugin, type PluginErrorCode } from '@chainvault/plugin-sdk';
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { Rpc, type Message, type SerializedError } from './rpc';
import type { CallStart, FunctionMark } from './worker-main';

/** What a plugin's process says first: the plugin as data, or why it did not load. */
type Ready = { plugin: unknown } | { error: string };

export interface IsolationLimits {
  /** The plugin process's JavaScript heap, in MiB. */
  memoryMb: number;
  /** How long a call may go without a sign of life (progress, a log line, a storage call). */
  idleMs: number;
  /** How long a cancelled call has to stop before its process is killed. */
  cancelGraceMs: number;
  /** How long loading the plugin, or a quick call made while a request is answered, may take. */
  answerMs: number;
}

/** The built worker: beside this file, or (when the sources run, as in the tests) in the library's dist. */
const WORKER = existsSync(join(__dirname, 'worker-main.js')) ? join(__dirname, 'worker-main.js') : join(__dirname, '..', '..', '..', 'dist', 'plugins', 'isolation', 'worker-main.js');

/** The plugin's own code threw while it was loaded (as opposed to its process hanging or dying). */
export class PluginLoadThrew extends Error {}
const CALLS = ['backup', 'restore', 'verify', 'cleanup', 'inventory'] as const;
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

/** One plugin process: forked with the plugin loaded, then running one call at a time. */
class PluginProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly memoryMb: number;
  /** The plugin loaded in this process, described, or why it did not load. */
  readonly ready: Promise<Ready>;
  stderr = '';
  /** The plugin's JavaScript heap when its last call ended (the process reports it). */
  heapUsed = 0;
  calls = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(where: { location: string; entry: string }, memoryMb: number) {
    this.memoryMb = memoryMb;
    this.child = fork(WORKER, [where.location, where.entry], {
      serialization: 'advanced',
      execArgv: [`--max-old-space-size=${memoryMb}`],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: pluginEnv(),
    });
    // Below the server: a plugin that spins takes what the server leaves, not what it needs.
    try {
      if (this.child.pid) setPriority(this.child.pid, 10);
    } catch {
      // Not allowed here: it runs at the server's priority.
    }
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr = `${this.stderr}${d.toString()}`.slice(-4000)));
    this.child.stdout!.on('data', () => undefined);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    this.ready = new Promise<Ready>((resolve, reject) => {
      const onMessage = (message: Message) => {
        if (message.t !== 'event' || message.op !== 'ready') return;
        this.child.off('message', onMessage);
        resolve(message.args[0] as Ready);
      };
      this.child.on('message', onMessage);
      void this.exited.then(({ code, signal }) => reject(new Error(`its process exited while loading the plugin (${signal ? `signal ${signal}` : `code ${code}`})${this.stderr.trim() ? `: ${this.stderr.trim().split('\n').slice(-3).join(' ')}` : ''}`)));
    });
    this.ready.catch(() => undefined);
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.connected;
  }

  /** Waiting for a call: it does not keep the server's process alive, and ends itself after `idleMs`. */
  park(idleMs: number, onExpire: () => void): void {
    this.child.unref();
    (this.child.channel as { unref?: () => void } | undefined)?.unref?.();
    (this.child.stderr as unknown as { unref?: () => void }).unref?.();
    (this.child.stdout as unknown as { unref?: () => void }).unref?.();
    this.idleTimer = setTimeout(onExpire, idleMs);
    this.idleTimer.unref();
  }

  /** Taken for a call. */
  take(): void {
    clearTimeout(this.idleTimer);
    this.child.ref();
    (this.child.channel as { ref?: () => void } | undefined)?.ref?.();
    (this.child.stderr as unknown as { ref?: () => void }).ref?.();
    (this.child.stdout as unknown as { ref?: () => void }).ref?.();
    this.stderr = '';
    this.calls++;
  }

  kill(): void {
    clearTimeout(this.idleTimer);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** How long a spare process waits for a call before it ends. */
const SPARE_IDLE_MS = 10 * 60_000;
/** A process is used for at most this many calls, then replaced: what a plugin leaves behind does not pile up. */
const CALLS_PER_PROCESS = 50;

/**
 * The processes of one plugin: one spare, started ahead and kept between calls (so a call does
 * not wait for Node to start and the plugin to load), and one more for each call running beside
 * it. A process whose call ended badly, or whose heap grew past half its limit, is not reused.
 */
export class PluginProcesses {
  private spare: PluginProcess | null = null;
  private closed = false;

  constructor(
    readonly id: string,
    private readonly where: { location: string; entry: string },
    readonly limits: () => IsolationLimits,
    readonly events: IsolationEvents,
  ) {}

  /**
   * Loads the plugin in a process (kept as the spare) and returns it as data: its functions are
   * marks to call by path. Refused when it throws, exits or takes longer than its answer time.
   */
  async describe(): Promise<unknown> {
    this.warm();
    const proc = this.spare!;
    const { answerMs } = this.limits();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`did not finish loading within ${Math.round(answerMs / 1000)} s, so its process was stopped`)), answerMs);
    });
    try {
      const ready = await Promise.race([proc.ready, late]);
      if ('error' in ready) throw new PluginLoadThrew(ready.error);
      return ready.plugin;
    } catch (error) {
      this.close();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A quick call (plain data in and out) in one of the plugin's processes, stopped after the answer time. */
  async quick(path: string, args: unknown[]): Promise<unknown> {
    const limits = this.limits();
    const proc = this.take();
    const rpc = new Rpc({ send: (message: Message) => proc.child.connected && proc.child.send(message) }, {});
    const onMessage = (message: Message) => void rpc.receive(message);
    proc.child.on('message', onMessage);
    let timer: NodeJS.Timeout | undefined;
    let fault: string | null = null;
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        fault = `plugin "${this.id}" did not answer ${path} within ${Math.round(limits.answerMs / 1000)} s, so its process was stopped`;
        proc.kill();
        reject(new Error(fault));
      }, limits.answerMs);
      void proc.exited.then(({ code, signal }) => {
        fault ??= `plugin "${this.id}" ${/heap out of memory|Allocation failed/i.test(proc.stderr) ? `ran out of memory (its limit is ${proc.memoryMb} MiB)` : `its process exited (${signal ? `signal ${signal}` : `code ${code}`})`} during ${path}`;
        reject(new Error(fault));
      });
    });
    failed.catch(() => undefined);
    try {
      return await Promise.race([rpc.request('quick', path, args).catch((error: SerializedError) => Promise.reject(asError(error))), failed]);
    } finally {
      clearTimeout(timer);
      proc.child.off('message', onMessage);
      // Answered (a value or the plugin's own error): the call ended as calls should.
      if (fault) this.events.fault(this.id, fault);
      else this.events.callEnded(this.id);
      this.giveBack(proc, fault === null);
    }
  }

  /** Starts the spare now, so the first call finds the plugin loaded. */
  warm(): void {
    if (this.closed || (this.spare?.alive ?? false)) return;
    this.keep(new PluginProcess(this.where, this.limits().memoryMb));
  }

  take(): PluginProcess {
    const limits = this.limits();
    let proc = this.spare;
    this.spare = null;
    if (!proc || !proc.alive || proc.memoryMb !== limits.memoryMb) {
      proc?.kill();
      proc = new PluginProcess(this.where, limits.memoryMb);
    }
    proc.take();
    return proc;
  }

  /** After a call: kept as the spare when it is healthy and none is kept, otherwise ended. */
  giveBack(proc: PluginProcess, healthy: boolean): void {
    const reusable = healthy && !this.closed && proc.alive && proc.calls < CALLS_PER_PROCESS && proc.heapUsed < (proc.memoryMb * 1024 * 1024) / 2;
    if (reusable && !this.spare) this.keep(proc);
    else proc.kill();
  }

  /** Enabled again after close(). */
  open(): void {
    this.closed = false;
    this.warm();
  }

  /** The plugin was unloaded, replaced or disabled: its spare ends; calls running finish on their own process. */
  close(): void {
    this.closed = true;
    this.spare?.kill();
    this.spare = null;
  }

  private keep(proc: PluginProcess): void {
    this.spare = proc;
    proc.park(SPARE_IDLE_MS, () => {
      if (this.spare === proc) this.spare = null;
      proc.kill();
    });
    void proc.exited.then(() => {
      if (this.spare === proc) this.spare = null;
    });
  }
}

/** What the host hears of its plugin processes: a call that ended with its process killed or gone is a fault. */
export interface IsolationEvents {
  fault(id: string, message: string): void;
  callEnded(id: string): void;
}

async function isolatedCall(processes: PluginProcesses, method: string, fn: (typeof CALLS)[number], ctx: Record<string, any>): Promise<unknown> {
  const plugin = { id: processes.id };
  const limits = processes.limits();
  const { events } = processes;
  const proc = processes.take();
  const { child } = proc;
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
      if (op === 'heap') proc.heapUsed = Number(args[0]);
    },
  );
  const onMessage = (message: Message) => {
    lastSign = Date.now();
    void rpc.receive(message);
  };
  child.on('message', onMessage);

  const start: CallStart = {
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

  let settled = false;
  const exited = proc.exited.then(({ code, signal }) => {
    // A process kept as the spare ends later, after its call: nothing of that call waits any more.
    if (settled) return undefined as never;
    const outOfMemory = /heap out of memory|Allocation failed/i.test(proc.stderr);
    const why = stopReason ?? (outOfMemory ? `ran out of memory (its limit is ${limits.memoryMb} MiB)` : `its process exited (${signal ? `signal ${signal}` : `code ${code}`})${proc.stderr.trim() ? `: ${proc.stderr.trim().split('\n').slice(-3).join(' ')}` : ''}`);
    const error = new Error(`plugin "${plugin.id}" ${why}`);
    rpc.failAll({ message: error.message });
    events.fault(plugin.id, error.message);
    throw error;
  });
  let healthy = false;
  try {
    const outcome = await Promise.race([rpc.request('start', start).catch((error: SerializedError) => Promise.reject(asError(error))), exited]);
    healthy = true;
    return outcome;
  } catch (error) {
    // The plugin's own error, its process still there: the call ended as a call should.
    healthy = proc.alive && stopReason === null;
    throw error;
  } finally {
    settled = true;
    clearInterval(watchdog);
    if (grace) clearTimeout(grace);
    ctx.signal?.removeEventListener('abort', onAbort);
    exited.catch(() => undefined);
    child.off('message', onMessage);
    if (healthy) events.callEnded(plugin.id);
    processes.giveBack(proc, healthy && !ctx.signal?.aborted);
  }
}

/** The plugin as the host uses it: its description with each function a call into its processes. */
function rebuild(value: unknown, processes: PluginProcesses): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (typeof (value as FunctionMark).$fn === 'string' && Object.keys(value).length === 1) {
    const path = (value as FunctionMark).$fn;
    return (...args: unknown[]) => processes.quick(path, args);
  }
  if (Array.isArray(value)) return value.map((item) => rebuild(item, processes));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, rebuild(item, processes)]));
}

/**
 * Loads a plugin in a process of its own: the server never runs its code. Its job calls
 * (backup, restore, verify, cleanup, inventory) run as isolated calls with their context carried
 * across, its quick calls (checkNodeConfig, restorePhases, dataLocations, history, migrateNodeConfig …)
 * as plain calls answered within the answer time.
 */
export async function importIsolated(processes: PluginProcesses): Promise<ChainvaultPlugin> {
  const plugin = rebuild(await processes.describe(), processes) as ChainvaultPlugin;
  return isolatePlugin(plugin, processes);
}

/** The plugin with its job calls run in its processes. */
export function isolatePlugin(plugin: ChainvaultPlugin, processes: PluginProcesses): ChainvaultPlugin {
  const methods = Object.fromEntries(
    Object.entries(plugin.methods ?? {}).map(([name, method]) => {
      const wrapped: Record<string, unknown> = { ...method };
      for (const fn of CALLS) {
        if (typeof (method as unknown as Record<string, unknown>)[fn] === 'function') {
          wrapped[fn] = (ctx: Record<string, unknown>) => isolatedCall(processes, name, fn, ctx);
        }
      }
      return [name, wrapped];
    }),
  );
  return { ...plugin, methods } as unknown as ChainvaultPlugin;
}
