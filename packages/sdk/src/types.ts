// The SDK's own types. What travels the wire (windows, live and replay messages, the error body)
// is defined once in src/wire/, which the server and this package both build from; re-exported here
// so the package's users import every type from the package itself.
export type { ApiErrorBody, ClientMessage, GapMessage, GapReason, LiveMessage, LiveWindow, ReplayClientMessage, ReplayServerMessage, ReplayStateMessage, ServerMessage, WindowAggregate } from '../../../src/wire/types.js';

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface ReactionInput {
  matchId: string;
  userId: string;
  emoji: string;
  ts: number;
}


/** The subset of the WHATWG WebSocket the SDK uses: the browser's, or `ws` in Node 20. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketCtor = new (url: string) => WebSocketLike;

/**
 * Where the client gets its token: a fixed string, or a function called before each batch and
 * each (re)connection, so a viewer's short-lived token is renewed without rebuilding the client.
 */
export type TokenProvider = () => string | undefined | Promise<string | undefined>;
export type TokenSource = string | TokenProvider;

export function resolveToken(t: TokenSource | undefined): string | undefined | Promise<string | undefined> {
  return typeof t === 'function' ? t() : t;
}

/** Calls `open` with the token now when it is at hand, or once a provider's promise settles; `fail` when the provider throws or rejects. */
export function withToken(t: TokenSource | undefined, open: (token: string | undefined) => void, fail: (err: unknown) => void): void {
  let token: string | undefined | Promise<string | undefined>;
  try {
    token = resolveToken(t);
  } catch (err) {
    fail(err);
    return;
  }
  if (token instanceof Promise) token.then(open, fail);
  else open(token);
}
