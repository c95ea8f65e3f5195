import { WebSocket } from 'ws';
import type { WebSocketCtor, WebSocketLike } from '../../packages/sdk/src/types.js';

/**
 * A real `ws` WebSocket with a switch: tests cut the connection and refuse reconnects for a while,
 * as a network drop would, without touching the server.
 */
export function switchableWebSocket() {
  const state = { blocked: false, sockets: new Set<WebSocket>(), urls: [] as string[] };
  class Switchable extends WebSocket {
    constructor(url: string) {
      super(state.blocked ? 'ws://127.0.0.1:1/blocked' : url);
      state.urls.push(url);
      state.sockets.add(this);
      this.once('close', () => state.sockets.delete(this));
    }
  }
  return {
    WebSocket: Switchable as unknown as WebSocketCtor,
    urls: state.urls,
    /** Drops every open connection and refuses new ones until restore(). */
    cut() {
      state.blocked = true;
      for (const s of state.sockets) s.terminate();
    },
    restore() {
      state.blocked = false;
    },
  };
}

export type { WebSocketLike };
