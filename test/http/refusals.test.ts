import { gzipSync } from 'node:zlib';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { edgeApp, parseRaw, rawClient } from '../edge/edge-app.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const ok = { matchId: 'm', userId: 'u1', emoji: '🔥' };
const CODE = /^EMO_ERR_[A-Z_]+$/;

/** A logger whose lines the test reads. */
function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

describe('every refusal is in the catalogue', () => {
  it('a known path with another method: 405 EMO_ERR_METHOD_NOT_ALLOWED with Allow', async () => {
    app = (await edgeApp({ listen: false })).app;
    for (const method of ['PUT', 'PATCH', 'DELETE', 'OPTIONS', 'GET'] as const) {
      const res = await app.inject({ method, url: '/v1/reactions' });
      expect(res.statusCode, method).toBe(405);
      expect(res.headers.allow).toBe('POST');
      expect(res.json()).toMatchObject({ statusCode: 405, code: 'EMO_ERR_METHOD_NOT_ALLOWED' });
    }
    const health = await app.inject({ method: 'DELETE', url: '/healthz?x=1' });
    expect(health.statusCode).toBe(405);
    expect(health.headers.allow).toBe('GET, HEAD');
    // Static pages and the wildcard asset routes too.
    expect((await app.inject({ method: 'POST', url: '/overlay' })).headers.allow).toBe('GET, HEAD');
    // An unknown path stays a 404.
    const unknown = await app.inject({ method: 'PUT', url: '/v1/nope' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'EMO_ERR_NOT_FOUND' });
  });

  it('TRACE, QUERY and an unknown method on real sockets: never a 500, always a catalogue body', async () => {
    const e = await edgeApp();
    app = e.app;
    const ask = async (request: string) => {
      const c = rawClient(e.port);
      await c.connected;
      c.socket.write(request);
      return parseRaw((await c.closed).received);
    };
    const trace = await ask('TRACE /v1/reactions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(trace.status).toBe(405);
    expect(trace.headers.allow).toBe('POST');
    // QUERY with a body and no Content-Type (schemathesis's 500 on every path).
    const query = await ask('QUERY /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}');
    expect(query.status).toBe(405);
    expect(query.headers.allow).toBe('GET, HEAD');
    expect(query.body?.code).toMatch(CODE);
    // On a route that takes a body, QUERY without Content-Type is still a catalogued 4xx.
    const queryBody = await ask('QUERY /v1/reactions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}');
    expect(queryBody.status).toBe(405);
    const queryUnknown = await ask('QUERY /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}');
    expect(queryUnknown.status).toBe(404);
    expect(queryUnknown.body?.code).toBe('EMO_ERR_NOT_FOUND');
    const unknown = await ask('FROB /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(unknown.status).toBe(400);
    expect(unknown.body?.code).toBe('EMO_ERR_BAD_REQUEST');
  });

  it('a URL that cannot be decoded (/%zz): 400 EMO_ERR_BAD_REQUEST', async () => {
    app = (await edgeApp({ listen: false })).app;
    const res = await app.inject({ method: 'GET', url: '/%zz' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ statusCode: 400, code: 'EMO_ERR_BAD_REQUEST', error: 'Bad Request' });
  });

  it('GET /v1/live without an upgrade: 426 EMO_ERR_UPGRADE_REQUIRED with Upgrade: websocket', async () => {
    app = (await edgeApp({ listen: false })).app;
    const res = await app.inject({ method: 'GET', url: '/v1/live?matchId=m' });
    expect(res.statusCode).toBe(426);
    expect(res.headers.upgrade).toBe('websocket');
    expect(res.json()).toMatchObject({ statusCode: 426, code: 'EMO_ERR_UPGRADE_REQUIRED' });
  });

  it('Content-Encoding: gzip batches are taken; the limit applies to the decompressed size; other encodings are a 415', async () => {
    const e = await edgeApp({ listen: false, config: { ingest: { bodyLimitBytes: 64 * 1024 } } });
    app = e.app;
    const batch = { reactions: Array.from({ length: 100 }, (_, i) => ({ ...ok, userId: `u${i}` })) };
    const post = (payload: Buffer | string, encoding: string) =>
      app!.inject({ method: 'POST', url: '/v1/reactions/batch', headers: { 'content-type': 'application/json', 'content-encoding': encoding }, payload });
    const gz = await post(gzipSync(JSON.stringify(batch)), 'gzip');
    expect(gz.statusCode).toBe(202);
    expect(gz.json()).toEqual({ accepted: 100 });
    expect((await post(gzipSync(JSON.stringify({ reactions: [ok] })), 'GZip')).statusCode).toBe(202);
    // 1 MB of spaces compresses to ~1 KB: refused once its output passes the 64 KB limit.
    const bomb = await post(gzipSync(`{"reactions":[${' '.repeat(1024 * 1024)}]}`), 'gzip');
    expect(bomb.statusCode).toBe(413);
    expect(bomb.json().code).toBe('EMO_ERR_BODY_TOO_LARGE');
    const br = await post(JSON.stringify(batch), 'br');
    expect(br.statusCode).toBe(415);
    expect(br.json().code).toBe('EMO_ERR_UNSUPPORTED_ENCODING');
    const corrupt = await post(Buffer.from('not gzip at all'), 'gzip');
    expect(corrupt.statusCode).toBe(400);
    expect(corrupt.json().code).toBe('EMO_ERR_BAD_REQUEST');
  });

  it('a client that aborts mid-body and a bad WebSocket frame are logged at warn in one line, without a stack', async () => {
    const { logger, lines } = capturedLogger();
    const e = await edgeApp({ logger });
    app = e.app;
    const headRead = new Promise((r) => app!.server.once('request', r));
    const c = rawClient(e.port);
    await c.connected;
    c.socket.write('POST /v1/reactions/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"reac');
    // Aborted once the server has the request's head (not after a fixed delay): its body is being read.
    await headRead;
    await new Promise((r) => setImmediate(r));
    c.socket.destroy();
    await vi.waitFor(() => expect(lines.some((l) => l.msg === 'client aborted the request')).toBe(true));
    const ws = new WebSocket(`ws://127.0.0.1:${e.port}/v1/live?matchId=m`);
    await new Promise((r) => ws.once('open', r));
    // A frame with reserved bits set (RSV2) is a protocol error.
    (ws as unknown as { _socket: import('node:net').Socket })._socket.write(Buffer.from([0xa1, 0x80, 0, 0, 0, 0]));
    await vi.waitFor(() => expect(lines.some((l) => l.msg === 'websocket protocol error')).toBe(true));
    for (const l of lines.filter((x) => x.msg === 'client aborted the request' || x.msg === 'websocket protocol error')) {
      expect(l.level).toBe(40);
      expect(JSON.stringify(l)).not.toContain('stack');
    }
    expect(lines.filter((l) => (l.level as number) >= 50)).toEqual([]);
    ws.terminate();
  });
});
