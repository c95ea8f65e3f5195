import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyInstance, FastifyServerOptions } from 'fastify';
import { emoError, type EmoError } from '../domain/errors.js';
import type { Metrics } from '../metrics/metrics.js';
import { errorBody } from './error-handler.js';
import type { Config } from '../config/config.js';
import { LIVE_STREAM_EVENT } from '../ports/live-stream.js';

/** A whole HTTP response for a raw socket (before or outside Fastify's request cycle). */
export function rawResponse(e: EmoError): string {
  const body = JSON.stringify(errorBody(e));
  const retry = e.retryAfterSec === undefined ? '' : `Retry-After: ${e.retryAfterSec}\r\n`;
  return (
    `HTTP/1.1 ${e.statusCode} ${STATUS_CODES[e.statusCode] ?? 'Error'}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
    `${retry}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/**
 * Errors Node's parser raises before Fastify sees a request (timeouts, bad framing, oversized
 * headers): answered from the catalogue, logged in one line at warn (a flood of them is a client's
 * problem and must not bury the server's own errors).
 */
function clientErrorHandler(metrics: Metrics) {
  return function (this: { log: FastifyBaseLogger }, err: Error & { code?: string }, socket: Socket): void {
    const remote = socket.remoteAddress;
    if (err.code === 'ECONNRESET' || socket.destroyed) {
      this.log.warn({ code: err.code ?? 'ECONNRESET', remote }, 'client aborted');
      return;
    }
    const e =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? emoError('REQUEST_TIMEOUT')
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? emoError('HEADERS_TOO_LARGE')
          : emoError('BAD_REQUEST', `Malformed HTTP request (${err.code ?? 'parse error'})`);
    metrics.requestsRejected.inc({ code: e.code });
    this.log.warn({ code: err.code, status: e.statusCode, remote, reason: err.message }, 'client protocol error');
    if (socket.writable) socket.end(rawResponse(e));
    socket.destroySoon();
  };
}

/** The settings these limits read. */
export type ServerLimitSettings = Pick<Config, 'http' | 'trustProxy'>;

/** Fastify's server options for the limits above: Node's timers, checked often enough to matter. */
export function serverOptions(config: ServerLimitSettings, metrics: Metrics): Partial<FastifyServerOptions> {
  const h = config.http;
  const options = {
    connectionTimeout: h.connectionTimeoutMs,
    keepAliveTimeout: h.keepAliveTimeoutMs,
    requestTimeout: h.requestTimeoutMs,
    // Passed to http.createServer: the interval can only be set there.
    http: { headersTimeout: h.headersTimeoutMs, connectionsCheckingInterval: h.timeoutCheckMs },
    clientErrorHandler: clientErrorHandler(metrics),
  };
  return options as Partial<FastifyServerOptions>;
}

/**
 * At most `maxConnectionsPerIp` open HTTP sockets per client address: the sockets beyond are
 * answered 429 and closed at once, so one address cannot hold the node's file descriptors. A socket
 * upgraded to a WebSocket leaves the count (WS_MAX_CONNECTIONS_PER_IP bounds those, and a NAT's
 * viewers may need many). Behind TRUST_PROXY all sockets come from the proxy, so the cap counts the
 * requests in flight per forwarded address.
 */
export function installConnectionCap(app: FastifyInstance, config: ServerLimitSettings, metrics: Metrics): void {
  const cap = config.http.maxConnectionsPerIp;
  if (cap <= 0) return;
  const open = new Map<string, number>();
  const release = (ip: string) => {
    const n = (open.get(ip) ?? 1) - 1;
    if (n <= 0) open.delete(ip);
    else open.set(ip, n);
  };
  const refusal = () => emoError('TOO_MANY_CONNECTIONS', `More than ${cap} connections from this address`, { retryAfterSec: 5 });
  if (!config.trustProxy) {
    const counted = new WeakMap<Socket, string>();
    const leave = (socket: Socket) => {
      const ip = counted.get(socket);
      if (ip === undefined) return;
      counted.delete(socket);
      release(ip);
    };
    app.server.on('connection', (socket: Socket) => {
      const ip = socket.remoteAddress ?? '';
      const n = open.get(ip) ?? 0;
      if (n >= cap) {
        metrics.requestsRejected.inc({ code: 'EMO_ERR_TOO_MANY_CONNECTIONS' });
        socket.end(rawResponse(refusal()));
        socket.destroySoon();
        return;
      }
      open.set(ip, n + 1);
      counted.set(socket, ip);
      socket.once('close', () => leave(socket));
    });
    app.server.on('upgrade', (_req: unknown, socket: Socket) => leave(socket));
    app.server.on(LIVE_STREAM_EVENT, (req: { socket: Socket }) => leave(req.socket));
    return;
  }
  const inFlight = new WeakMap<object, () => void>();
  app.server.on(LIVE_STREAM_EVENT, (req: object) => {
    inFlight.get(req)?.();
    inFlight.delete(req);
  });
  app.addHook('onRequest', async (req, reply) => {
    // WebSockets have their own per-address cap (WS_MAX_CONNECTIONS_PER_IP) and outlive the request.
    if (req.headers.upgrade !== undefined) return;
    const ip = req.ip;
    const n = open.get(ip) ?? 0;
    if (n >= cap) throw refusal();
    open.set(ip, n + 1);
    let released = false;
    const once = () => {
      if (!released) release(ip);
      released = true;
    };
    inFlight.set(req.raw, once);
    reply.raw.once('close', once);
  });
}

/**
 * On close, Node's server waits for every socket, but only closes the idle ones once, at the
 * moment of close: a socket that connected and has not sent a whole request yet (a client's spare
 * connection, a slow sender) is not idle to it, and the periodic check that would time it out
 * stops with the server. Such sockets held a node's shutdown for a minute. While closing, this
 * destroys every socket with no response in progress, until the server has closed; requests whose
 * headers arrived finish as usual (bounded by the request timeout).
 */
export function closeQuietSocketsOnShutdown(app: FastifyInstance, everyMs = 200): void {
  const sockets = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // Upgraded sockets belong to their WebSocket (closed with a close frame by its own hook).
  app.server.on('upgrade', (_req: unknown, socket: Socket) => sockets.delete(socket));
  const reap = () => {
    for (const s of sockets) {
      if ((s as Socket & { _httpMessage?: unknown })._httpMessage == null) s.destroy();
    }
  };
  let timer: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    timer = setInterval(reap, everyMs);
    timer.unref();
    setImmediate(reap);
  });
  app.addHook('onClose', async () => clearInterval(timer));
}
