import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import fastifyWebsocket from '@fastify/websocket';
import type { Logger } from 'pino';
import type { ReactionCodec } from './codec/reaction-codec.js';
import type { Config } from './config/config.js';
import type { EmojiCatalog } from './domain/catalog.js';
import type { Clock, TimerClock } from './ports/clock.js';
import { repoRoot } from './domain/schemas-dir.js';
import type { FanoutBus } from './ports/bus.js';
import { liveRoute } from './fanout/live-route.js';
import { Rooms } from './fanout/rooms.js';
import { CloseCodes } from './fanout/wire.js';
import fastifyCors from '@fastify/cors';
import { frameworkErrors, installErrorHandling } from './http/error-handler.js';
import { Authenticator } from './auth/auth.js';
import { installContentEncoding } from './http/content-encoding.js';
import { closeQuietSocketsOnShutdown, installConnectionCap, serverOptions } from './http/server-limits.js';
import { healthRoutes } from './http/health-routes.js';
import type { ReadinessCheck } from './stage/stage-progress.js';
import { registerOpenApi } from './http/openapi.js';
import { acceptedTsRange } from './ingest/schemas.js';
import { liveMessageSchemas } from './fanout/wire-schemas.js';
import { ingestRoutes } from './ingest/routes.js';
import type { RateBuckets } from './ports/rate-buckets.js';
import type { LogProducer } from './ports/log.js';
import type { Metrics } from './metrics/metrics.js';
import type { WindowArchive } from './ports/window-archive.js';
import { archiveRoutes } from './archive/query-routes.js';
import { replayRoute } from './archive/replay-route.js';

export interface AppOptions {
  config: Config;
  catalog: EmojiCatalog;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  /** Present where this process takes reactions in (roles all, api). */
  ingest?: { producer: LogProducer; codec: ReactionCodec; limits: { client: RateBuckets; user: RateBuckets } };
  /** Present where this process serves WebSockets (roles all, fanout). */
  fanout?: { bus: FanoutBus; nodeId: string };
  /** Present where this process archives windows (roles all, archiver): the query API and replay. */
  archive?: {
    store: WindowArchive;
    /** Paces replays (default: Date.now and setTimeout); tests pass a ManualClock and move it. */
    clock?: TimerClock;
  };
  checks?: ReadinessCheck[];
  /** Serve the pages (viewer, overlay, dashboard). */
  pages?: boolean;
}

/** Builds the HTTP app for whichever stages this process runs; never listens (main does). */
export async function buildApp(o: AppOptions): Promise<FastifyInstance> {
  const { config } = o;
  const app = Fastify({
    loggerInstance: o.logger as FastifyBaseLogger,
    bodyLimit: config.ingest.bodyLimitBytes,
    // Behind a proxy set TRUST_PROXY so per-IP limits see the client, not the proxy.
    trustProxy: config.trustProxy,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // Per-request access logs would cost more than the request at this rate; metrics count them.
    logController: new LogController({ disableRequestLogging: true }),
    // Timeouts and the parser's own refusals (see server-limits.ts), all answered from the catalogue.
    ...serverOptions(config, o.metrics),
    frameworkErrors,
  });
  installErrorHandling(app, o.metrics);
  installConnectionCap(app, config, o.metrics);
  closeQuietSocketsOnShutdown(app);
  installContentEncoding(app);
  if (config.corsOrigins.length > 0) {
    const allowed = new Set(config.corsOrigins);
    // Other origins get no CORS headers (their preflight a 403 from the not-found handler); the
    // pages' own same-origin requests need none.
    await app.register(fastifyCors, {
      origin: (origin, cb) => cb(null, origin !== undefined && allowed.has(origin)),
      methods: ['GET', 'HEAD', 'POST'],
      allowedHeaders: ['authorization', 'content-type', 'content-encoding'],
      exposedHeaders: ['retry-after', 'www-authenticate'],
      maxAge: 600,
      strictPreflight: false,
    });
  }
  // The API speaks JSON only: anything else is a 415, not a string that fails the schema.
  app.removeContentTypeParser('text/plain');
  // Before any route: the document is collected from routes as they are added.
  await registerOpenApi(app, {
    version: packageVersion(),
    emojis: o.catalog.entries.map((e) => e.emoji),
    clock: o.clock,
    ts: { pastMs: config.ingest.pastMs, futureMs: config.ingest.futureMs, range: (now) => acceptedTsRange(now, config.ingest.pastMs, config.ingest.futureMs) },
    timing: { ...config.aggregation, closeMarginMs: config.ingest.closeMarginMs },
    components: liveMessageSchemas,
    auth: { serviceTokens: config.apiTokens.length > 0, jwt: config.jwt.secret !== '' || config.jwt.jwksFile !== '' || config.jwt.jwksUrl !== '' },
  });
  await app.register(healthRoutes, { metrics: o.metrics, checks: o.checks ?? [] });

  const auth = Authenticator.create({ apiTokens: config.apiTokens, jwt: config.jwt, clock: o.clock });
  if (o.ingest) {
    const limits = o.ingest.limits;
    await app.register(ingestRoutes, {
      catalog: o.catalog,
      clock: o.clock,
      limits,
      producer: o.ingest.producer,
      codec: o.ingest.codec,
      metrics: o.metrics,
      topic: config.log.reactionsTopic,
      pastMs: config.ingest.pastMs,
      futureMs: config.ingest.futureMs,
      closing: { ...config.aggregation, closeMarginMs: config.ingest.closeMarginMs },
      retryAfterSec: config.ingest.retryAfterSec,
      maxBatch: config.ingest.maxBatch,
      bodyLimitBytes: config.ingest.bodyLimitBytes,
      auth,
    });
  }
  // The catalog is public on every role that serves HTTP to clients or pages.
  const catalogBody = { emojis: o.catalog.entries.map((e) => ({ emoji: e.emoji, name: e.name, valence: e.valence })) };
  app.get('/v1/emojis', async (_req, reply) => reply.header('cache-control', 'public, max-age=300').send(catalogBody));

  if (o.fanout || o.archive) {
    await app.register(fastifyWebsocket, {
      options: { maxPayload: config.fanout.maxClientFrameBytes },
      // The plugin's own shutdown closes sockets without a code (1005); the documented one is 1001.
      preClose(this: FastifyInstance, done: () => void) {
        for (const client of this.websocketServer.clients) client.close(CloseCodes.GOING_AWAY, 'server shutting down');
        this.websocketServer.close();
        done();
      },
      // A bad frame or a client hanging up is the client's problem: one line at warn, no stack.
      errorHandler: (err: Error & { code?: string }, socket, req) => {
        req.log.warn({ code: err.code, reason: err.message, remote: req.ip }, 'websocket protocol error');
        socket.terminate();
      },
    });
  }
  if (o.fanout) {
    const rooms = new Rooms(o.fanout.bus, {
      nodeId: o.fanout.nodeId,
      maxBufferedBytes: config.fanout.maxBufferedBytes,
      presenceIntervalMs: 2000,
      metrics: o.metrics,
      logger: o.logger,
      emojis: o.catalog.entries.map((e) => e.emoji),
    });
    app.addHook('onClose', async () => rooms.close());
    await app.register(liveRoute, {
      bus: o.fanout.bus,
      rooms,
      metrics: o.metrics,
      maxConnections: config.fanout.maxConnections,
      maxConnectionsPerIp: config.fanout.maxConnectionsPerIp,
      admitPerSec: config.fanout.admitPerSec,
      admitPerIpPerSec: config.fanout.admitPerIpPerSec,
      windowMs: config.aggregation.windowMs,
      allowedOrigins: config.fanout.allowedOrigins,
      pingIntervalMs: config.fanout.pingIntervalMs,
      auth,
      clock: o.clock,
    });
  }

  if (o.archive) {
    await app.register(archiveRoutes, { store: o.archive.store, windowMs: config.aggregation.windowMs });
    await app.register(replayRoute, { store: o.archive.store, windowMs: config.aggregation.windowMs, maxConnections: config.fanout.maxConnections, auth, ...(o.archive.clock ? { clock: o.archive.clock } : {}) });
  }

  if (o.pages !== false) await registerPages(app);
  return app;
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

async function registerPages(app: FastifyInstance): Promise<void> {
  const root = repoRoot();
  const publicDir = path.join(root, 'src/web/public');
  const bundleDir = path.join(root, 'dist/web');
  await app.register(fastifyStatic, { root: publicDir, prefix: '/', index: ['index.html'], wildcard: false });
  if (existsSync(bundleDir)) {
    await app.register(fastifyStatic, { root: bundleDir, prefix: '/assets/', decorateReply: false, wildcard: true });
  }
  // The dashboard's charting library, served from the installed package: no CDN, no download.
  const uplotDir = path.join(root, 'node_modules/uplot/dist');
  if (existsSync(uplotDir)) {
    await app.register(fastifyStatic, { root: uplotDir, prefix: '/vendor/uplot/', decorateReply: false, wildcard: true });
  }
  for (const page of ['overlay', 'dashboard']) {
    app.get(`/${page}`, (_req, reply) => reply.sendFile(`${page}.html`));
  }
}
