import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import type { WebSocket } from 'ws';
import { emoError } from '../domain/errors.js';
import { authorizeMatch, TOKEN_EXPIRED_CLOSE_CODE, type Authenticator } from '../http/auth.js';
import type { Clock } from '../ports/clock.js';
import type { Metrics } from '../metrics/metrics.js';
import { ID_PATTERN } from '../domain/types.js';
import type { FanoutBus } from '../ports/bus.js';
import { Rooms, send, type Viewer } from './rooms.js';
import { CloseCodes, parseClientMessage, updateMessage } from './wire.js';

const LiveQuery = Type.Object(
  {
    matchId: Type.String({ minLength: 1, maxLength: 64, pattern: ID_PATTERN }),
    since: Type.Optional(Type.String({ pattern: '^-?[0-9]{1,15}$' })),
    epoch: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })),
    // An RS256 JWT with the usual claims (iss, aud, iat, jti) passes 500 characters.
    token: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
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
  allowedOrigins: string[];
  pingIntervalMs: number;
  auth?: Authenticator | undefined;
  clock: Clock;
}

/**
 * GET /v1/live?matchId=M[&since=SEQ&epoch=E]: the snapshot (or the replay of what was missed),
 * then one update per closed window. Limits are enforced before the upgrade, as HTTP errors.
 */
export async function liveRoute(app: FastifyInstance, o: LiveRouteOptions): Promise<void> {
  const perIp = new Map<string, number>();
  const sockets = new Set<WebSocket>();
  const alive = new WeakSet<WebSocket>();

  const heartbeat = setInterval(() => {
    for (const s of sockets) {
      if (!alive.has(s)) {
        o.metrics.wsRejected.inc({ reason: 'idle' });
        s.terminate();
        continue;
      }
      alive.delete(s);
      s.ping();
    }
  }, o.pingIntervalMs);
  heartbeat.unref();

  app.addHook('onClose', async () => {
    clearInterval(heartbeat);
    for (const s of sockets) s.close(CloseCodes.GOING_AWAY, 'server shutting down');
  });

  const admit = async (req: FastifyRequest) => {
    const origin = req.headers.origin;
    if (o.allowedOrigins.length > 0 && origin !== undefined && !o.allowedOrigins.includes(origin)) {
      o.metrics.wsRejected.inc({ reason: 'origin' });
      throw emoError('ORIGIN_NOT_ALLOWED', `Origin ${origin} is not allowed`);
    }
    if (sockets.size >= o.maxConnections) {
      o.metrics.wsRejected.inc({ reason: 'node-full' });
      throw emoError('NODE_FULL', 'This node holds its maximum of connections; try another', { retryAfterSec: 1 });
    }
    if ((perIp.get(req.ip) ?? 0) >= o.maxConnectionsPerIp) {
      o.metrics.wsRejected.inc({ reason: 'ip-limit' });
      throw emoError('TOO_MANY_CONNECTIONS', undefined, { retryAfterSec: 5 });
    }
  };

  app.route<{ Querystring: LiveQuery }>({
    method: 'GET',
    url: '/v1/live',
    schema: { querystring: LiveQuery },
    // Browsers cannot set a WebSocket's headers: here, and only here, ?token= is read too.
    ...(o.auth ? { onRequest: o.auth.guard(true) } : {}),
    preValidation: admit,
    preHandler: async (req) => authorizeMatch(o.auth?.identity(req), req.query.matchId),
    // A plain GET (no upgrade) is a client that does not speak WebSocket: say so.
    handler: async (_req, reply) => {
      reply.header('upgrade', 'websocket');
      throw emoError('UPGRADE_REQUIRED');
    },
    wsHandler: (socket, req) => {
      const { matchId } = req.query;
      const since = req.query.since === undefined ? undefined : Number(req.query.since);
      const ip = req.ip;
      sockets.add(socket);
      alive.add(socket);
      perIp.set(ip, (perIp.get(ip) ?? 0) + 1);
      o.metrics.wsConnections.inc();
      const viewer: Viewer = { socket, lastSeq: -1, epoch: '', pending: [], lagging: false };
      // A viewer's socket lives as long as its token: at expiry it is closed, and the client
      // reconnects with a fresh one (resuming with since/epoch, so nothing is lost).
      const identity = o.auth?.identity(req);
      const expiry =
        identity?.kind === 'viewer'
          ? setTimeout(() => socket.close(TOKEN_EXPIRED_CLOSE_CODE, 'token expired'), Math.min(2 ** 31 - 1, Math.max(0, identity.expMs + o.auth!.leewayMs - o.clock.now())))
          : undefined;
      expiry?.unref();

      socket.on('pong', () => alive.add(socket));
      socket.on('message', (data, isBinary) => {
        alive.add(socket);
        const msg = isBinary ? null : parseClientMessage(data.toString());
        if (!msg) {
          o.metrics.wsRejected.inc({ reason: 'malformed-frame' });
          socket.close(CloseCodes.MALFORMED_FRAME, 'malformed frame');
          return;
        }
        send(socket, { type: 'pong' });
      });
      socket.on('close', () => {
        clearTimeout(expiry);
        sockets.delete(socket);
        const n = (perIp.get(ip) ?? 1) - 1;
        if (n <= 0) perIp.delete(ip);
        else perIp.set(ip, n);
        o.metrics.wsConnections.dec();
        void o.rooms.leave(matchId, viewer).catch((err) => req.log.warn({ err }, 'leave failed'));
      });
      socket.on('error', (err) => req.log.debug({ err }, 'websocket error'));

      void start().catch((err) => {
        req.log.error({ err, matchId }, 'live subscription failed');
        socket.close(1011, 'subscription failed');
      });

      async function start(): Promise<void> {
        // Join first, so updates published while history is read wait in `pending` and none slips through.
        await o.rooms.join(matchId, viewer);
        const epoch = await o.bus.epoch();
        const viewers = () => o.rooms.totalViewers(matchId);
        if (since !== undefined && req.query.epoch !== undefined) {
          const r = await o.bus.replay(matchId, since, req.query.epoch);
          const latest = r.kind === 'replay' && r.updates.length === 0 ? await o.bus.latest(matchId) : undefined;
          if (r.kind === 'replay' && since >= 0 && r.updates.length === 0 && (latest === undefined || latest === null || latest.epoch !== req.query.epoch || latest.seq < since)) {
            // The client claims a seq this server never published: resuming there would mute it until
            // the server caught up. Say so, and restart it from the latest window.
            send(socket, { type: 'gap', matchId, epoch, since, reason: 'since-ahead' });
            if (latest) deliver(updateMessage('snapshot', latest, viewers()), latest.seq, latest.epoch);
          } else if (r.kind === 'replay') {
            viewer.lastSeq = since;
            viewer.epoch = req.query.epoch;
            for (const u of r.updates) deliver(updateMessage('update', u, viewers()), u.seq, u.epoch);
          } else {
            send(socket, { type: 'gap', matchId, epoch, since, reason: r.reason });
            // A new epoch's history is whole from its first update: the client gets all of it, not
            // only the latest, so what was published since the old history was lost still arrives.
            const fresh = r.reason === 'epoch-changed' ? await o.bus.replay(matchId, -1, epoch) : undefined;
            if (fresh?.kind === 'replay' && fresh.updates.length > 0) {
              for (const u of fresh.updates) deliver(updateMessage('update', u, viewers()), u.seq, u.epoch);
            } else if (r.latest) {
              deliver(updateMessage('snapshot', r.latest, viewers()), r.latest.seq, r.latest.epoch);
            }
          }
        } else {
          const latest = await o.bus.latest(matchId);
          if (latest) deliver(updateMessage('snapshot', latest, viewers()), latest.seq, latest.epoch);
        }
        viewer.epoch = viewer.epoch === '' ? epoch : viewer.epoch;
        const pending = viewer.pending ?? [];
        viewer.pending = null;
        for (const u of pending) {
          if (u.epoch === viewer.epoch && u.seq <= viewer.lastSeq) continue;
          o.rooms.sendUpdate(viewer, u, updateMessage('update', u, viewers()));
        }
      }

      function deliver(wire: string, seq: number, epoch: string): void {
        if (socket.readyState !== socket.OPEN) return;
        socket.send(wire);
        viewer.lastSeq = seq;
        viewer.epoch = epoch;
        o.metrics.wsMessagesSent.inc();
      }
    },
  });
}
