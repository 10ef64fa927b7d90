/** The CLI's connection to a running server: GraphQL over HTTP, with errors a person can read. */

export class CliError extends Error {}

export class ApiClient {
  constructor(readonly url: string) {}

  async request<T = Record<string, any>>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables }),
      });
    } catch {
      throw new CliError(`no chainvault server answers at ${this.url}; start one with "chainvault serve" or set CHAINVAULT_URL`);
    }
    const body = (await response.json().catch(() => null)) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] } | null;
    if (!body) throw new CliError(`${this.url} answered HTTP ${response.status} without a GraphQL response`);
    if (body.errors?.length) throw new CliError(body.errors.map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`).join('\n'));
    return body.data as T;
  }
}

export function serverUrl(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CHAINVAULT_URL) return env.CHAINVAULT_URL.replace(/\/+$/, '');
  const host = env.CHAINVAULT_HOST ?? '127.0.0.1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${env.CHAINVAULT_PORT ?? '4800'}`;
}
