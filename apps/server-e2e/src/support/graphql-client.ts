/** A minimal GraphQL-over-HTTP client for tests, speaking to a real server with fetch. */

export interface GraphqlError {
  message: string;
  extensions?: { code?: string; [key: string]: unknown };
}

export interface GraphqlResponse<T> {
  data?: T;
  errors?: GraphqlError[];
}

export class GraphqlClient {
  /** `token` goes as `Authorization: Bearer …`; null sends none. */
  constructor(
    readonly url: string,
    readonly token: string | null = null,
  ) {}

  /** The same server, with another token. */
  as(token: string | null): GraphqlClient {
    return new GraphqlClient(this.url, token);
  }

  /** Headers that carry this client's token. */
  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  async request<T = Record<string, any>>(query: string, variables: Record<string, unknown> = {}): Promise<GraphqlResponse<T>> {
    const response = await fetch(`${this.url}/graphql`, {
      method: 'POST',
      headers: this.headers({ 'content-type': 'application/json' }),
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as GraphqlResponse<T>;
  }

  /** Runs the operation and returns its data, failing with the server's messages if it errored. */
  async ok<T = Record<string, any>>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const result = await this.request<T>(query, variables);
    if (result.errors?.length) throw new Error(`GraphQL error: ${result.errors.map((e) => `${e.extensions?.code}: ${e.message}`).join('; ')}`);
    return result.data as T;
  }

  /** Runs an operation that must fail, and returns its first error. */
  async fails(query: string, variables: Record<string, unknown> = {}): Promise<GraphqlError> {
    const result = await this.request(query, variables);
    if (!result.errors?.length) throw new Error(`expected an error, got ${JSON.stringify(result.data)}`);
    return result.errors[0];
  }

  /** Polls a job until it ends, and returns it. */
  async waitForJob(id: string, timeoutMs = 120_000): Promise<Record<string, any>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { job } = await this.ok(`query ($id: ID!) { job(id: $id) { id kind status error result backupId restoreId attempts progress { unit done total message } log { level message } } }`, { id });
      if (!['QUEUED', 'RUNNING', 'CANCELLING'].includes(job.status)) return job;
      if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
