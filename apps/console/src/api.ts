/**
 * Talks to the server this page came from: GraphQL over HTTP with the token of this tab, and
 * subscriptions over graphql-ws on the same path. The token stays in sessionStorage (this tab
 * only) and goes to this server only.
 */
import { createClient, type Client } from 'graphql-ws';
import { Ping, type Operation } from './graphql/generated';

const TOKEN_KEY = 'chainvault-token';

/** An answer the server refused, with its code (UNAUTHENTICATED, BAD_USER_INPUT, …) and message. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export function currentToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

const signedOut = new Set<(reason: string) => void>();

/** Called when the server refuses the token (revoked, expired, unknown). */
export function onSignedOut(listener: (reason: string) => void): () => void {
  signedOut.add(listener);
  return () => signedOut.delete(listener);
}

let socket: Client | null = null;

export function signOut(reason = ''): void {
  sessionStorage.removeItem(TOKEN_KEY);
  socket?.dispose();
  socket = null;
  for (const listener of signedOut) listener(reason);
}

interface GraphqlAnswer<R> {
  data?: R | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

async function post<R>(query: string, variables: unknown, token: string | null): Promise<R> {
  let response: Response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables: variables ?? {} }),
    });
  } catch {
    throw new ApiError('the server cannot be reached: is it running?', 'NETWORK');
  }
  const answer = (await response.json().catch(() => ({}))) as GraphqlAnswer<R>;
  const first = answer.errors?.[0];
  if (first) throw new ApiError(first.message, first.extensions?.code ?? `HTTP_${response.status}`);
  if (!response.ok || !answer.data) throw new ApiError(`the server answered ${response.status}`, `HTTP_${response.status}`);
  return answer.data;
}

/** Checks a token with the server, then keeps it for this tab. */
export async function signIn(token: string): Promise<void> {
  const trimmed = token.trim();
  if (!trimmed) throw new ApiError('paste an API token (the first start wrote an admin token to admin.token in the data directory)', 'EMPTY');
  await post(Ping, {}, trimmed);
  sessionStorage.setItem(TOKEN_KEY, trimmed);
}

/** Runs a query or mutation with this tab's token; a refused token signs the tab out. */
export async function call<R, V>(operation: Operation<R, V>, ...variables: V extends Record<string, never> ? [] : [V]): Promise<R> {
  try {
    return await post<R>(operation, variables[0], currentToken());
  } catch (error) {
    if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') signOut(error.message);
    throw error;
  }
}

function client(): Client {
  if (socket) return socket;
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
  socket = createClient({ url, lazy: true, retryAttempts: 3, connectionParams: () => ({ authorization: `Bearer ${currentToken() ?? ''}` }) });
  return socket;
}

/** Follows a subscription; returns the function that stops it. */
export function subscribe<R, V>(operation: Operation<R, V>, variables: V, sink: { next: (data: R) => void; error?: (error: ApiError) => void; complete?: () => void }): () => void {
  return client().subscribe<R>(
    { query: operation, variables: variables as Record<string, unknown> },
    {
      next: (value) => {
        const first = value.errors?.[0];
        if (first) sink.error?.(new ApiError(first.message, String(first.extensions?.code ?? 'ERROR')));
        else if (value.data) sink.next(value.data);
      },
      error: (error) => sink.error?.(new ApiError(error instanceof Error ? error.message : 'the live connection closed', 'SUBSCRIPTION')),
      complete: () => sink.complete?.(),
    },
  );
}
