import type { ClientMessage } from '../wire/types.js';

/** Close codes the fan-out uses; the SDK reconnects on all but the 44xx "don't retry as is" ones. */
export const CloseCodes = Object.freeze({
  GOING_AWAY: 1001,
  MESSAGE_TOO_BIG: 1009,
  BAD_REQUEST: 4400,
  MALFORMED_FRAME: 4402,
  IDLE_TIMEOUT: 4408,
});

// The wire types belong to the client SDK package: one definition for the server and its clients.
export type { ClientMessage, ServerMessage } from '../wire/types.js';

export function parseClientMessage(data: string): ClientMessage | null {
  try {
    const m = JSON.parse(data) as { type?: unknown };
    return m && m.type === 'ping' ? { type: 'ping' } : null;
  } catch {
    return null;
  }
}
