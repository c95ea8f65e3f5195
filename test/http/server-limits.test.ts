import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { loadConfig } from '../../src/config/config.js';
import { edgeApp, parseRaw, rawClient } from '../edge/edge-app.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const reaction = JSON.stringify({ matchId: 'm', userId: 'u1', emoji: '🔥' });

/**
 * The server's side of its sockets, open now: a socket is in once the server's own handlers for
 * its 'connection' ran (the cap counted it), out once its 'close' ones ran (the cap freed it).
 * Waiting on these replaces fixed delays.
 */
function serverSockets(server: Server): { open: () => number; has: (clientPort: number) => boolean } {
  const open = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    open.add(s);
    s.once('close', () => open.delete(s));
  });
  return {
    open: () => open.size,
    // The server's end of a client's socket: the port the client connected from.
    has: (clientPort: number) => [...open].some((s) => s.remotePort === clientPort),
  };
}

describe('HTTP server limits (real sockets)', () => {
  it('defaults: every timeout is finite and at most 30 s, the parser checks them every second, 256 sockets per address', async () => {
    const c = loadConfig({});
    expect(c.http).toEqual({ requestTimeoutMs: 15_000, headersTimeoutMs: 10_000, connectionTimeoutMs: 120_000, keepAliveTimeoutMs: 65_000, timeoutCheckMs: 1_000, maxConnectionsPerIp: 0 });
    const e = await edgeApp({ listen: false });
    app = e.app;
    const s = app.server;
    expect(s.requestTimeout).toBe(15_000);
    expect(s.headersTimeout).toBe(10_000);
    expect(s.keepAliveTimeout).toBe(65_000);
    expect(s.timeout).toBe(120_000);
    // A stalled request is found at most one check after its timeout: 15 + 1 s, under 30 s.
    expect(s.requestTimeout + c.http.timeoutCheckMs).toBeLessThan(30_000);
  });

  it('refuses headers allowed longer than the whole request', () => {
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' })).toThrow(/must not exceed HTTP_REQUEST_TIMEOUT_MS/);
  });

  it('closes a POST whose body stalls after 10 of 1,000 bytes, with 408 EMO_ERR_REQUEST_TIMEOUT', async () => {
    const e = await edgeApp({ config: { http: { requestTimeoutMs: 800, headersTimeoutMs: 400, timeoutCheckMs: 50 } } });
    app = e.app;
    const c = rawClient(e.port);
    await c.connected;
    c.socket.write(`POST /v1/reactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n${reaction.slice(0, 10)}`);
    const { afterMs, received } = await c.closed;
    expect(afterMs).toBeGreaterThanOrEqual(700);
    expect(afterMs).toBeLessThan(3_000);
    const r = parseRaw(received);
    expect(r.status).toBe(408);
    expect(r.body).toMatchObject({ statusCode: 408, code: 'EMO_ERR_REQUEST_TIMEOUT' });
  });

  it('closes a request whose headers never end, with 408', async () => {
    const e = await edgeApp({ config: { http: { requestTimeoutMs: 2_000, headersTimeoutMs: 400, timeoutCheckMs: 50 } } });
    app = e.app;
    const c = rawClient(e.port);
    await c.connected;
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n');
    const timer = setInterval(() => c.socket.write(`X-More: ${Date.now()}\r\n`), 100);
    const { afterMs, received } = await c.closed;
    clearInterval(timer);
    expect(afterMs).toBeLessThan(1_500);
    expect(parseRaw(received).body).toMatchObject({ statusCode: 408, code: 'EMO_ERR_REQUEST_TIMEOUT' });
  });

  it('caps open sockets per address: the one beyond gets 429 EMO_ERR_TOO_MANY_CONNECTIONS; another address is unaffected', async () => {
    const e = await edgeApp({ config: { http: { maxConnectionsPerIp: 3 } } });
    app = e.app;
    const sockets = serverSockets(app.server);
    const held = [rawClient(e.port), rawClient(e.port), rawClient(e.port)];
    await Promise.all(held.map((h) => h.connected));
    // The server counts a socket when it accepts it: wait until it has seen all three.
    await vi.waitFor(() => expect(sockets.open()).toBe(3));
    const fourth = rawClient(e.port);
    const r = parseRaw((await fourth.closed).received);
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBe('5');
    expect(r.body).toMatchObject({ code: 'EMO_ERR_TOO_MANY_CONNECTIONS' });
    const other = rawClient(e.port, '127.0.0.2');
    await other.connected;
    other.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(parseRaw((await other.closed).received).status).toBe(200);
    // A socket closed frees its place.
    held[0]!.socket.destroy();
    await held[0]!.closed;
    await vi.waitFor(() => expect(sockets.open()).toBe(2)); // the server saw it close
    const again = rawClient(e.port);
    await again.connected;
    again.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(parseRaw((await again.closed).received).status).toBe(200);
    for (const h of held) h.socket.destroy();
  });

  it('a socket upgraded to a WebSocket leaves the HTTP count (WS_MAX_CONNECTIONS_PER_IP bounds those)', async () => {
    const e = await edgeApp({ config: { http: { maxConnectionsPerIp: 3 } } });
    app = e.app;
    const wave = async () => {
      const ws = Array.from({ length: 3 }, () => new WebSocket(`ws://127.0.0.1:${e.port}/v1/live?matchId=m`));
      await Promise.all(ws.map((s) => new Promise((r, j) => (s.once('open', r), s.once('error', j)))));
      return ws;
    };
    // Handshakes in flight count; three waves of three fill the cap three times over once upgraded.
    const sockets = [...(await wave()), ...(await wave()), ...(await wave())];
    expect((await fetch(`${e.url}/healthz`)).status).toBe(200);
    for (const s of sockets) s.terminate();
  });

  it('behind TRUST_PROXY the cap counts requests in flight per forwarded address', async () => {
    const e = await edgeApp({ config: { trustProxy: true, http: { maxConnectionsPerIp: 2 } } });
    app = e.app;
    const sockets = serverSockets(app.server);
    let heads = 0;
    app.server.on('request', () => heads++);
    const stall = (ip: string) => {
      const c = rawClient(e.port);
      c.socket.write(`POST /v1/reactions HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: ${ip}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{`);
      return c;
    };
    const held = [stall('198.51.100.7'), stall('198.51.100.7')];
    // Both requests' heads read (their onRequest counts them in flight), then one turn for the hooks.
    await vi.waitFor(() => expect(heads).toBe(2));
    await new Promise((r) => setImmediate(r));
    const heldPorts = held.map((h) => h.socket.localPort!);
    expect(heldPorts.every((p) => sockets.has(p))).toBe(true);
    const res = await fetch(`${e.url}/v1/reactions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.7' }, body: reaction });
    expect(res.status).toBe(429);
    expect(((await res.json()) as { code: string }).code).toBe('EMO_ERR_TOO_MANY_CONNECTIONS');
    const other = await fetch(`${e.url}/v1/reactions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.8' }, body: reaction });
    expect(other.status).toBe(202);
    for (const h of held) h.socket.destroy();
    await Promise.all(held.map((h) => h.closed));
    // The server saw both close (their requests left the count), then one turn for the responses' close.
    await vi.waitFor(() => expect(heldPorts.some((p) => sockets.has(p))).toBe(false));
    await new Promise((r) => setImmediate(r));
    const after = await fetch(`${e.url}/v1/reactions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.7' }, body: reaction });
    expect(after.status).toBe(202);
  });
});
