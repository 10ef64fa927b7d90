// A JSON-RPC 2.0 client over HTTP for one node: single calls and batches, with a timeout, the job's abort
// signal and errors an operator can act on (which node, which call, what it said).
import { PluginError } from '@chainvault/plugin-sdk';

export interface RpcCall {
  method: string;
  params: unknown[];
}

export interface RpcEndpoint {
  /** The node's name in the catalog, for messages. */
  name: string;
  url: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

interface RpcResponse {
  id?: unknown;
  result?: unknown;
  error?: { code?: number; message?: string };
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** The URL without credentials, so messages and logs never show a password or token in it. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username || parsed.password) {
      parsed.username = '***';
      parsed.password = '';
    }
    return parsed.toString();
  } catch {
    return '(an invalid URL)';
  }
}

export class JsonRpcClient {
  private nextId = 1;
  readonly where: string;

  constructor(
    readonly endpoint: RpcEndpoint,
    private readonly signal?: AbortSignal,
  ) {
    this.where = `node ${endpoint.name} (${redactUrl(endpoint.url)})`;
  }

  async call<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    const [result] = await this.batch<T>([{ method, params }]);
    return result;
  }

  /** Sends the calls as one batch and returns their results in the same order. Any error fails the batch. */
  async batch<T = unknown>(calls: readonly RpcCall[]): Promise<T[]> {
    if (calls.length === 0) return [];
    const first = this.nextId;
    this.nextId += calls.length;
    const body = calls.map((c, i) => ({ jsonrpc: '2.0', id: first + i, method: c.method, params: c.params }));
    const answers = await this.post(calls.length === 1 ? body[0] : body, calls[0].method);
    const list = (Array.isArray(answers) ? answers : [answers]) as RpcResponse[];
    const byId = new Map<unknown, RpcResponse>(list.map((r) => [r?.id, r]));
    return calls.map((c, i) => {
      const response = byId.get(first + i);
      if (!response) throw new PluginError('INCONSISTENT', `${this.where} sent no answer to ${c.method} in a batch of ${calls.length} calls`, { retryable: true });
      if (response.error) {
        throw new PluginError('FAILED', `${this.where} answered ${c.method}(${JSON.stringify(c.params)}) with error ${response.error.code ?? ''}: ${response.error.message ?? 'no message'}`, { details: { rpcCode: response.error.code } });
      }
      return response.result as T;
    });
  }

  private async post(body: unknown, method: string): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.endpoint.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const signal = this.signal ? AbortSignal.any([this.signal, timeout]) : timeout;
    let response: Response;
    try {
      response = await fetch(this.endpoint.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.endpoint.headers },
        body: JSON.stringify(body),
        signal,
      });
    } catch (error) {
      throw this.transportError(error, method, timeout);
    }
    if (!response.ok) {
      const detail = (await response.text().catch(() => '')).slice(0, 200);
      const denied = response.status === 401 || response.status === 403;
      throw new PluginError(
        denied ? 'INVALID_CONFIG' : 'UNREACHABLE',
        `${this.where} answered ${method} with HTTP ${response.status}${denied ? ': check the node\'s headers (credentials)' : ''}${detail ? `: ${detail}` : ''}`,
        { retryable: !denied && (response.status >= 500 || response.status === 429) },
      );
    }
    try {
      return await response.json();
    } catch (error) {
      // The body can stop coming too (a node frozen mid-answer): that is the timeout, not bad JSON.
      if (this.signal?.aborted || timeout.aborted) throw this.transportError(error, method, timeout);
      throw new PluginError('INCONSISTENT', `${this.where} answered ${method} with something that is not JSON`, { retryable: true });
    }
  }

  private transportError(error: unknown, method: string, timeout: AbortSignal): PluginError {
    if (this.signal?.aborted) return new PluginError('ABORTED', `${method} to ${this.where} stopped: the job was cancelled`);
    if (timeout.aborted) {
      return new PluginError('TIMEOUT', `${this.where} did not answer ${method} within ${(this.endpoint.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000} s`, { retryable: true });
    }
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    return new PluginError('UNREACHABLE', `${this.where} is unreachable (${reason}) while calling ${method}`, { retryable: true, cause: error });
  }
}
