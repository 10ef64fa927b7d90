/* eslint-disable @typescript-eslint/no-explicit-any -- the proxy forwards calls by name to the host's objects */
/**
 * Requests and answers between the server and a plugin's process, in both directions, over
 * Node's IPC channel (structured clone: Dates, Uint8Arrays and plain data cross as they are).
 */
export type Message =
  | { t: 'req'; id: number; op: string; args: unknown[] }
  | { t: 'res'; id: number; ok: true; value: unknown }
  | { t: 'res'; id: number; ok: false; error: SerializedError }
  | { t: 'event'; op: string; args: unknown[] };

export interface SerializedError {
  message: string;
  name?: string;
  /** A PluginError's code and whether it may pass: kept so the host retries as it would in-process. */
  code?: string;
  retryable?: boolean;
}

export function serializeError(error: unknown): SerializedError {
  const e = error as { message?: unknown; name?: unknown; code?: unknown; retryable?: unknown };
  return {
    message: typeof e?.message === 'string' ? e.message : String(error),
    ...(typeof e?.name === 'string' ? { name: e.name } : {}),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    ...(typeof e?.retryable === 'boolean' ? { retryable: e.retryable } : {}),
  };
}

interface Channel {
  send(message: Message): void;
}

/** One side of the conversation: sends requests and events, answers the other side's requests with `handlers`. */
export class Rpc {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: SerializedError) => void }>();

  constructor(
    private readonly channel: Channel,
    private readonly handlers: Record<string, (...args: any[]) => unknown>,
    private readonly onEvent: (op: string, args: unknown[]) => void = () => undefined,
  ) {}

  request<T>(op: string, ...args: unknown[]): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.channel.send({ t: 'req', id, op, args });
    });
  }

  event(op: string, ...args: unknown[]): void {
    this.channel.send({ t: 'event', op, args });
  }

  /** Fails every open request: the other side is gone. */
  failAll(error: SerializedError): void {
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }

  async receive(message: Message): Promise<void> {
    if (message.t === 'res') {
      const waiting = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (!waiting) return;
      if (message.ok) waiting.resolve(message.value);
      else waiting.reject(message.error);
      return;
    }
    if (message.t === 'event') {
      this.onEvent(message.op, message.args);
      return;
    }
    const handler = this.handlers[message.op];
    try {
      if (!handler) throw new Error(`unknown request "${message.op}"`);
      const value = await handler(...message.args);
      this.channel.send({ t: 'res', id: message.id, ok: true, value });
    } catch (error) {
      this.channel.send({ t: 'res', id: message.id, ok: false, error: serializeError(error) });
    }
  }
}
