import type { ClientMessage } from '../wire/types.js';

// Close codes and wire types are the wire contract (src/wire): one definition for the server and its clients.
export { CloseCodes } from '../wire/close-codes.js';
export type { ClientMessage, ServerMessage } from '../wire/types.js';

export function parseClientMessage(data: string): ClientMessage | null {
  try {
    const m = JSON.parse(data) as { type?: unknown };
    return m && m.type === 'ping' ? { type: 'ping' } : null;
  } catch {
    return null;
  }
}
