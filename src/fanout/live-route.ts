import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { WebSocket } from 'ws';
import type { HelloMessage } from '../wire/compact.js';
import { emoError } from '../domain/errors.js';
import { LIVE_STREAM_EVENT } from '../ports/live-stream.js';
import { authorizeMatch, TOKEN_EXPIRED_CLOSE_CODE, type Authenticator } from '../auth/auth.js';
import type { Clock } from '../ports/clock.js';
import type { Metrics } from '../metrics/metrics.js';
import { ID_PATTERN } from '../domain/types.js';
import type { FanoutBus } from '../ports/bus.js';
import { Admission, RATE_LIMITED_CLOSE_CODE } from './admission.js';
import { directStream, writeShared } from './frame.js';
import type { Rooms } from './rooms.js';
import { parseSseId, SinkViewer, startSession, type EncodedUpdate, type LiveFormat, type Viewer } from './session.js';
import { CloseCodes, parseClientMessage, type ServerMessage } from './wire.js';

const WS_OPEN = WebSocket.OPEN;

const LiveQuery = Type.Object(
  {
    matchId: Type.String({ minLength: 1, maxLength: 64, pattern: ID_PATTERN }),
    since: Type.Optional(Type.String({ pattern: '^-?[0-9]{1,15}$' })),
    epoch: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })),
    // An RS256 JWT with the usual claims (iss, aud, iat, jti) passes 500 characters.
    token: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('compact')], { description: 'json (default): the JSON messages; compact: binary updates after a JSON hello' })),
  },
  { additionalProperties: false },
);
type LiveQuery = Static<typeof LiveQuery>;

export interface LiveRouteOptions {
  bus: FanoutBus;
  rooms: Rooms;
  metrics: Metrics;
  maxConnections: number;
  maxConnectionsPerIp: number;
  admitPerSec: number;
  admitPerIpPerSec: number;
  allowedOrigins: string[];
  pingIntervalMs: number;
  windowMs: number;
  auth?: Authenticator | undefined;
  clock: Clock;
}

/** A live connection as the routes hold it: closed on shutdown and at token expiry. */
interface Held {
  alive: boolean;
  probe(): void;
  close(code: number, reason: string): void;
  terminate(): void;
}

/**
 * The WebSocket adapter of a live session, and the viewer it carries (one object per connection on
 * the per-update path). Updates go straight to the TCP stream when ws allows it for the whole
 * connection (directStream: no compression), read once at the handshake's end.
 */
class WsSink extends SinkViewer {
  readonly #raw: Socket | undefined;

  constructor(
    readonly socket: WebSocket,
    readonly format: LiveFormat,
  ) {
    super();
    this.#raw = directStream(socket);
  }
  isOpen(): boolean {
    return this.socket.readyState === WS_OPEN;
  }
  /** ws's bufferedAmount: the stream's queue plus the Sender's, which is always empty on a direct stream. */
  buffered(): number {
    const raw = this.#raw;
    return raw !== undefined ? raw.writableLength : this.socket.bufferedAmount;
  }
  control(msg: ServerMessage | HelloMessage): void {
    if (this.isOpen()) this.socket.send(JSON.stringify(msg));
  }
  update(e: EncodedUpdate, withEpoch: boolean): void {
    const raw = this.#raw;
    if (raw !== undefined && raw.writable) raw.write(e.wsFrame(this.format, withEpoch).frame);
    else writeShared(this.socket, e.wsFrame(this.format, withEpoch));
  }
}

/** The Server-Sent Events adapter (and its viewer): updates are default events (id: = epoch.seq), the rest named ones. */
class SseSink extends SinkViewer {
  constructor(
    readonly res: ServerResponse,
    readonly format: LiveFormat,
  ) {
    super();
  }
  isOpen(): boolean {
    return !this.res.destroyed && !this.res.writableEnded;
  }
  /** The response's queue and its socket's (Node's writableLength counts the socket's on some versions, not on others). */
  buffered(): number {
    return Math.max(this.res.writableLength, this.res.socket?.writableLength ?? 0);
  }
  control(msg: ServerMessage | HelloMessage): void {
    if (this.isOpen()) this.res.write(`event:${msg.type}\ndata:${JSON.stringify(msg)}\n\n`);
  }
  /**
   * Like writeShared for a WebSocket: the event, already in the chunked coding, is written straight
   * to the TCP stream (one write of shared bytes), when nothing of the response waits in Node's
   * buffers and the response is chunked; otherwise through res.write, which frames it itself. Asked
   * on every write, not once: Node 24 holds a res.write in the response's own buffer where Node 20
   * passed it through, and a raw write then overtook it (the hello behind the first update).
   */
  update(e: EncodedUpdate, withEpoch: boolean): void {
    if (!this.isOpen()) return;
    const res = this.res as ServerResponse & { chunkedEncoding?: boolean };
    const sock = res.socket;
    if (sock && !sock.destroyed && res.headersSent && res.chunkedEncoding === true && res.writableLength === 0) sock.write(e.sseChunk(this.format, withEpoch));
    else res.write(e.sseEvent(this.format, withEpoch));
  }
}

/**
 * GET /v1/live?matchId=M[&since=SEQ&epoch=E][&format=compact] (WebSocket) and
 * GET /v1/live/events?... (Server-Sent Events, for networks that block upgrades): thin adapters
 * over one live session (session.ts: snapshot or resume, gap, pending updates) and the rooms
 * (presence, shared frames, the slow-consumer policy). Limits are enforced before the upgrade or
 * the event stream starts, as HTTP errors; the connection-rate cap closes a WebSocket with 4429.
 */
export async function liveRoute(app: FastifyInstance, o: LiveRouteOptions): Promise<void> {
  const held = new Set<Held>();
  const admission = new Admission(o);
  const session = { bus: o.bus, rooms: o.rooms, metrics: o.metrics, windowMs: o.windowMs };

  const heartbeat = setInterval(() => {
    for (const h of held) {
      if (!h.alive) {
        o.metrics.wsRejected.inc({ reason: 'idle' });
        h.terminate();
        continue;
      }
      h.alive = false;
      h.probe();
    }
  }, o.pingIntervalMs);
  heartbeat.unref();

  // preClose, before the server stops listening: the server's close waits for every connection, and
  // an event stream only ends when we end it.
  app.addHook('preClose', async () => {
    clearInterval(heartbeat);
    for (const h of held) h.close(CloseCodes.GOING_AWAY, 'server shutting down');
  });

  const admit = async (req: FastifyRequest) => admission.check(req);
  const guard = o.auth ? { onRequest: o.auth.guard(true) } : {};

  /** Token expiry, for a viewer's JWT: the connection lives as long as its token. */
  const expiryTimer = (req: FastifyRequest, close: () => void) => {
    const identity = o.auth?.identity(req);
    if (identity?.kind !== 'viewer') return undefined;
    const t = setTimeout(close, Math.min(2 ** 31 - 1, Math.max(0, identity.expMs + o.auth!.leewayMs - o.clock.now())));
    t.unref();
    return t;
  };

  const run = (req: FastifyRequest<{ Querystring: LiveQuery }>, viewer: Viewer, resume: { since: number; epoch: string } | undefined, fail: () => void) => {
    void startSession(session, req.query.matchId, viewer, resume).catch((err) => {
      req.log.error({ err, matchId: req.query.matchId }, 'live subscription failed');
      fail();
    });
  };

  app.route<{ Querystring: LiveQuery }>({
    method: 'GET',
    url: '/v1/live',
    schema: { querystring: LiveQuery },
    // Browsers cannot set a WebSocket's headers: here, and only here, ?token= is read too.
    ...guard,
    preValidation: admit,
    preHandler: async (req) => authorizeMatch(o.auth?.identity(req), req.query.matchId),
    // A plain GET (no upgrade) is a client that does not speak WebSocket: say so.
    handler: async (_req, reply) => {
      reply.header('upgrade', 'websocket');
      throw emoError('UPGRADE_REQUIRED');
    },
    wsHandler: (socket, req) => {
      // Over the connection-rate cap: a close code a browser can read (it cannot read a refused
      // upgrade's status or headers); the reason is the seconds to wait, which the SDK honours.
      const wait = admission.rate(req.ip);
      if (wait !== undefined) {
        socket.close(RATE_LIMITED_CLOSE_CODE, String(wait));
        return;
      }
      const { matchId } = req.query;
      const ip = req.ip;
      const h: Held = { alive: true, probe: () => socket.ping(), close: (c, r) => socket.close(c, r), terminate: () => socket.terminate() };
      held.add(h);
      admission.add(ip);
      const viewer = new WsSink(socket, req.query.format ?? 'json');
      // A viewer's socket lives as long as its token: at expiry it is closed, and the client
      // reconnects with a fresh one (resuming with since/epoch, so nothing is lost).
      const expiry = expiryTimer(req, () => socket.close(TOKEN_EXPIRED_CLOSE_CODE, 'token expired'));

      socket.on('pong', () => (h.alive = true));
      socket.on('message', (data, isBinary) => {
        h.alive = true;
        const msg = isBinary ? null : parseClientMessage(data.toString());
        if (!msg) {
          o.metrics.wsRejected.inc({ reason: 'malformed-frame' });
          socket.close(CloseCodes.MALFORMED_FRAME, 'malformed frame');
          return;
        }
        viewer.sink.control({ type: 'pong' });
      });
      socket.on('close', () => {
        clearTimeout(expiry);
        held.delete(h);
        admission.remove(ip);
        void o.rooms.leave(matchId, viewer).catch((err) => req.log.warn({ err }, 'leave failed'));
      });
      socket.on('error', (err) => req.log.debug({ err }, 'websocket error'));

      const resume = req.query.since !== undefined && req.query.epoch !== undefined ? { since: Number(req.query.since), epoch: req.query.epoch } : undefined;
      run(req, viewer, resume, () => socket.close(CloseCodes.INTERNAL_ERROR, 'subscription failed'));
    },
  });

  app.route<{ Querystring: LiveQuery; Headers: { 'last-event-id'?: string } }>({
    method: 'GET',
    url: '/v1/live/events',
    schema: { querystring: LiveQuery },
    // EventSource cannot set headers either: ?token= as on /v1/live.
    ...guard,
    preValidation: admit,
    preHandler: async (req) => authorizeMatch(o.auth?.identity(req), req.query.matchId),
    handler: async (req, reply) => {
      // Last-Event-ID (what an EventSource sends back on reconnect) resumes exactly like since/epoch.
      const lastId = req.headers['last-event-id'];
      const fromId = parseSseId(lastId);
      if (lastId !== undefined && lastId !== '' && !fromId) throw emoError('VALIDATION', 'Last-Event-ID is not a position this server sent (epoch.seq)');
      const resume = fromId ?? (req.query.since !== undefined && req.query.epoch !== undefined ? { since: Number(req.query.since), epoch: req.query.epoch } : undefined);
      const wait = admission.rate(req.ip);
      if (wait !== undefined) throw emoError('TOO_MANY_CONNECTIONS', 'New connections over this node\'s rate; retry after the Retry-After seconds', { retryAfterSec: wait });

      const { matchId } = req.query;
      const ip = req.ip;
      const res = reply.raw;
      reply.hijack();
      res.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      });
      // The status and headers now, not with the first event (a quiet match may have none for a while).
      res.flushHeaders();
      // The heartbeat below checks this stream from now on, as ws does for an upgraded socket: the
      // HTTP idle timer (HTTP_CONNECTION_TIMEOUT_MS) would otherwise be re-armed by every write.
      res.socket?.setTimeout(0);
      // Idle keep-alive comment: proxies keep the stream, and a dead peer shows up as a write error.
      const h: Held = {
        alive: true,
        probe: () => {
          if (!res.writableEnded) res.write(':\n\n');
          h.alive = !res.destroyed;
        },
        close: () => res.end(),
        terminate: () => res.destroy(),
      };
      held.add(h);
      admission.add(ip);
      // A live connection now, counted by the admission caps, no longer by the HTTP socket cap.
      app.server.emit(LIVE_STREAM_EVENT, req.raw);
      const viewer = new SseSink(res, req.query.format ?? 'json');
      const expiry = expiryTimer(req, () => res.end());
      res.on('close', () => {
        clearTimeout(expiry);
        held.delete(h);
        admission.remove(ip);
        void o.rooms.leave(matchId, viewer).catch((err) => req.log.warn({ err }, 'leave failed'));
      });
      res.on('error', (err) => req.log.debug({ err }, 'event stream error'));
      run(req, viewer, resume, () => res.end());
    },
  });
}
