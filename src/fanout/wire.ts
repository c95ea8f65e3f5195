import type { LiveUpdate } from '../domain/types.js';

/** Close codes the fan-out uses; the SDK reconnects on all but the 44xx "don't retry as is" ones. */
export const CloseCodes = Object.freeze({
  GOING_AWAY: 1001,
  MESSAGE_TOO_BIG: 1009,
  BAD_REQUEST: 4400,
  MALFORMED_FRAME: 4402,
  IDLE_TIMEOUT: 4408,
});

/** Server -> client messages: a discriminated union on `type`. */
export type ServerMessage =
  | ({ type: 'snapshot' | 'update'; viewers: number } & LiveUpdate)
  | { type: 'gap'; matchId: string; epoch: string; since: number; reason: 'history-trimmed' | 'epoch-changed' | 'slow-consumer' }
  | { type: 'pong' }
  | { type: 'error'; code: string; message: string };

export type ClientMessage = { type: 'ping' };

export function updateMessage(type: 'snapshot' | 'update', u: LiveUpdate, viewers: number): string {
  const msg: ServerMessage = { type, ...u, viewers };
  return JSON.stringify(msg);
}

export function parseClientMessage(data: string): ClientMessage | null {
  try {
    const m = JSON.parse(data) as { type?: unknown };
    return m && m.type === 'ping' ? { type: 'ping' } : null;
  } catch {
    return null;
  }
}
