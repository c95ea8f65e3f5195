/** The wire types a client sees; kept free of server imports so the SDK bundles for browsers alone. */
export interface LiveMessage {
  type: 'snapshot' | 'update';
  matchId: string;
  seq: number;
  prevSeq: number;
  epoch: string;
  windowStart: number;
  windowEnd: number;
  counts: Record<string, number>;
  units: Record<string, number>;
  total: number;
  sentiment: number;
  viewers: number;
}

export interface GapMessage {
  type: 'gap';
  matchId: string;
  epoch: string;
  since: number;
  reason: 'history-trimmed' | 'epoch-changed' | 'slow-consumer';
}

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
