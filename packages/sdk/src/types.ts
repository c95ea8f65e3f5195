// Type-only imports: erased at build time, so the browser bundle pulls in no server code, and the
// SDK's view of the wire cannot drift from what the fan-out sends.
import type { ServerMessage } from '../../../src/fanout/wire.js';

export type LiveMessage = Extract<ServerMessage, { type: 'snapshot' | 'update' }>;
export type GapMessage = Extract<ServerMessage, { type: 'gap' }>;

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface ReactionInput {
  matchId: string;
  userId: string;
  emoji: string;
  ts: number;
}

export interface ApiErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
  index?: number;
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
