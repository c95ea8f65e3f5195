import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import { WebSocket } from 'ws';
import { EmoStreamClient } from '../../packages/sdk/src/index.js';
import type { WebSocketCtor } from '../../packages/sdk/src/types.js';
import { systemClock } from '../../src/ports/clock.js';
import { edgeApp } from './edge-app.js';

const SECRET = 'a-test-secret-of-at-least-32-characters!';
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** A viewer token for `sub` that ends `ttlSec` from now. */
const viewerToken = (sub: string, ttlSec: number) =>
  new SignJWT({ sub, matches: ['m1'] }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(Math.floor(Date.now() / 1000) + ttlSec).sign(new TextEncoder().encode(SECRET));

describe('SDK token provider', () => {
  it('asks the provider before each batch and each reconnection: a live socket closed at its token\'s expiry comes back with a fresh token', async () => {
    const e = await edgeApp({ clock: systemClock, config: { jwt: { secret: SECRET, leewaySec: 0 } } });
    app = e.app;
    const issued: string[] = [];
    const provider = vi.fn(async () => {
      // The first token ends within 1-2 s (exp has whole seconds); the next ones last an hour.
      const t = await viewerToken('viewer-1', issued.length === 0 ? 2 : 3600);
      issued.push(t);
      return t;
    });
    const client = new EmoStreamClient({ baseUrl: e.url, userId: 'viewer-1', token: provider, flushMs: 5, reconnectBaseMs: 10, reconnectMaxMs: 20, WebSocket: WebSocket as unknown as WebSocketCtor });
    const states: Array<{ state: string; code?: number }> = [];
    client.subscribe('m1', () => {}, { state: (state, info) => states.push({ state, ...(info?.code === undefined ? {} : { code: info.code }) }) });
    await vi.waitFor(() => expect(states.filter((s) => s.state === 'connected')).toHaveLength(1));
    await vi.waitFor(() => expect(states).toContainEqual({ state: 'disconnected', code: 4401 }), { timeout: 4_000 });
    await vi.waitFor(() => expect(states.filter((s) => s.state === 'connected')).toHaveLength(2));
    const calls = provider.mock.calls.length;
    expect(calls).toBe(2);
    let sent = 0;
    client.sender.on('sent', (n) => (sent += n));
    client.react('m1', '🔥');
    await client.flush(5_000);
    expect(sent).toBe(1);
    expect(provider.mock.calls.length).toBe(calls + 1);
    await client.close();
  });
});
