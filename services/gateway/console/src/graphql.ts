// The console's GraphQL client: queries and mutations as POSTs, subscriptions over
// graphql-transport-ws. Every operation is a trusted document sent by its SHA-256 only
// (extensions.persistedQuery), never as text: the gateway may accept only registered ones.
import { createClient, type Client } from "graphql-ws";

/** A registered operation (src/generated/documents.ts); R and V are its result and variables. */
export interface Operation<R, V> {
  readonly name: string;
  readonly kind: "query" | "mutation" | "subscription";
  readonly hash: string;
  readonly _types?: (variables: V) => R;
}

export class SignedOut extends Error {
  constructor() {
    super("signed out: the token is missing or expired");
  }
}

export class GraphQLFailure extends Error {}

interface Credentials {
  token(): string | null;
  expired(): void; // the gateway refused the token (401): sign in again
}

let credentials: Credentials = { token: () => null, expired: () => undefined };
export type SocketState = "connecting" | "live" | "lost";
const socketListeners = new Set<(state: SocketState) => void>();

/** Follows the WebSocket: live once the gateway acknowledged the token, lost when closed. */
export function onSocketState(listener: (state: SocketState) => void): () => void {
  socketListeners.add(listener);
  return () => socketListeners.delete(listener);
}

function announce(state: SocketState): void {
  for (const listener of socketListeners) listener(state);
}
let socket: Client | null = null;
const ENDPOINT = "/graphql";

export function setCredentials(next: Credentials): void {
  credentials = next;
  closeSocket();
}

export function closeSocket(): void {
  socket?.dispose();
  socket = null;
}

function request<R, V>(op: Operation<R, V>, variables: V) {
  return {
    operationName: op.name,
    variables,
    extensions: { persistedQuery: { version: 1, sha256Hash: op.hash } },
  };
}

function bearer(): string {
  const token = credentials.token();
  if (!token) {
    credentials.expired(); // expired in memory: the sign-in page, not a page stuck loading
    throw new SignedOut();
  }
  return `Bearer ${token}`;
}

export async function execute<R, V>(op: Operation<R, V>, variables: V): Promise<R> {
  const response = await fetch(ENDPOINT, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/graphql-response+json, application/json",
      authorization: bearer(),
    },
    body: JSON.stringify(request(op, variables)),
  });
  if (response.status === 401) {
    credentials.expired();
    throw new SignedOut();
  }
  const body = (await response.json().catch(() => ({}))) as {
    data?: R | null;
    errors?: { message: string }[];
  };
  if (body.errors?.length) throw new GraphQLFailure(body.errors.map((e) => e.message).join("; "));
  if (!response.ok || body.data == null) {
    throw new GraphQLFailure(`the gateway answered ${response.status}`);
  }
  return body.data;
}

function client(): Client {
  if (socket === null) {
    const url = new URL(ENDPOINT, location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    socket = createClient({
      url: url.href,
      lazy: true,
      retryAttempts: 8,
      // The gateway checks the token in connection_init (and closes with 4401 when it expires).
      connectionParams: () => ({ authorization: bearer() }),
      shouldRetry: () => credentials.token() !== null,
      on: {
        connecting: () => announce("connecting"),
        connected: () => announce("live"),
        closed: () => announce("lost"),
      },
    });
  }
  return socket;
}

/** Subscribes; returns the function that ends the subscription. */
export function subscribe<R, V>(
  op: Operation<R, V>,
  variables: V,
  next: (data: R) => void,
  failed: (error: unknown) => void,
): () => void {
  return client().subscribe<R>(
    // graphql-ws requires a query string: empty, as the hash in extensions names the document.
    { query: "", ...request(op, variables) } as { query: string; variables: Record<string, unknown> },
    {
      next: (result) => {
        if (result.errors?.length) failed(new GraphQLFailure(result.errors[0]!.message));
        else if (result.data) next(result.data as R);
      },
      error: failed,
      complete: () => undefined,
    },
  );
}
