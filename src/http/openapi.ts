import type { FastifyInstance, FastifySchema } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { ErrorCodes, type ErrorName } from '../domain/errors.js';
import { ErrorBody } from './error-schema.js';
import type { Clock } from '../ports/clock.js';
import type { AckTiming } from '../domain/windows.js';
import { CLOSE_CODE_MEANINGS } from '../wire/close-codes.js';

interface RouteDoc {
  tags: string[];
  summary: string;
  description?: string;
  /** The catalogue entries this route can answer with, grouped by status in the document. */
  errors?: ErrorName[];
  /** Responses other than errors that the route's own schema does not declare. */
  responses?: Record<string, unknown>;
  /** Authenticated when the deployment enforces it; 'live' also takes ?token=. */
  auth?: 'header' | 'live';
}

interface SchemaNode {
  properties?: Record<string, SchemaNode | unknown> & { reactions?: { items?: SchemaNode } };
}
interface OpenApiDoc {
  paths?: Record<string, { post?: { requestBody?: { content?: Record<string, { schema?: SchemaNode }> } } }>;
}

const INGEST_ERRORS: ErrorName[] = [
  'VALIDATION', 'MALFORMED_JSON', 'UNKNOWN_EMOJI', 'TIMESTAMP_RANGE', 'BAD_REQUEST', 'BODY_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE', 'UNSUPPORTED_ENCODING', 'REQUEST_TIMEOUT', 'RATE_LIMITED', 'TOO_MANY_CONNECTIONS', 'INTERNAL', 'BACKPRESSURE', 'LOG_UNAVAILABLE',
];
/** Only where authentication is on (API_TOKENS or a JWT key): an open deployment never answers them. */
const AUTH_ERRORS: ErrorName[] = ['UNAUTHORIZED', 'TOKEN_INVALID', 'TOKEN_EXPIRED'];
const VIEWER_ERRORS: ErrorName[] = ['USER_MISMATCH', 'MATCH_FORBIDDEN'];
/** Headers the error responses carry, by status. */
const ERROR_HEADERS: Record<number, Record<string, unknown>> = {
  401: { 'WWW-Authenticate': { type: 'string', description: 'The Bearer challenge (RFC 6750)' } },
  405: { Allow: { type: 'string', description: 'The methods the path takes' } },
  429: { 'Retry-After': { type: 'integer', minimum: 0, description: 'Seconds to wait before retrying' } },
  503: { 'Retry-After': { type: 'integer', minimum: 0, description: 'Seconds to wait before retrying (when retrying helps)' } },
};
const closeCodes = Object.entries(CLOSE_CODE_MEANINGS).map(([code, meaning]) => `${code} ${meaning}`).join('; ');
const jsonOf = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const Readiness = { type: 'object', properties: { status: { type: 'string' }, failing: { type: 'array', items: { type: 'string' } } } };

/**
 * What the document says about each route beyond its schemas: the routes themselves keep only what
 * validates and serialises, so this table is the one place to read the API from a caller's side.
 * Numbers come from the deployment's own settings (`t`), never written here.
 */
const routeDocs = (t: AckTiming): Record<string, RouteDoc> => ({
  'POST /v1/reactions': {
    tags: ['ingest'],
    summary: 'Send one reaction',
    auth: 'header',
    description:
      '202 once the log holds the reaction. `ts` (ms since the epoch) is accepted within ±TS_PAST_MS/TS_FUTURE_MS of the receive time ' +
      `(to the hour: the bounds in this document hold until the hour turns) and trusted only up to ${t.tsToleranceMs} ms (TS_TOLERANCE_MS) behind it, ` +
      'else the receive time places the reaction. Its window closes at its end + ' +
      `${t.graceMs} ms (GRACE_MS); the 202 is given only while the log holds the reaction at least ${t.closeMarginMs} ms (ACK_CLOSE_MARGIN_MS) before then, ` +
      'later the answer is a 503 to retry into an open window. Retry 429/503 after Retry-After. The body may be sent with `Content-Encoding: gzip`.',
    errors: INGEST_ERRORS,
  },
  'POST /v1/reactions/batch': {
    tags: ['ingest'],
    summary: 'Send a batch of reactions',
    auth: 'header',
    description: 'All or nothing: one bad item rejects the batch and the error body carries its `index`.',
    errors: INGEST_ERRORS,
  },
  'GET /v1/emojis': {
    tags: ['catalog'],
    summary: 'The emoji catalog',
    responses: {
      200: {
        description: 'Every emoji with its valence in [-1, 1]',
        ...jsonOf({
          type: 'object',
          properties: { emojis: { type: 'array', items: { type: 'object', properties: { emoji: { type: 'string' }, name: { type: 'string' }, valence: { type: 'number', minimum: -1, maximum: 1 } } } } },
        }),
      },
    },
  },
  'GET /v1/live': {
    tags: ['live'],
    summary: 'Live window updates of a match (WebSocket)',
    auth: 'live',
    description:
      'Upgrade to a WebSocket. The server sends `LiveServerMessage` frames: a `snapshot`, then an `update` per closed window; ' +
      'with `since` and `epoch` it replays what was missed, or sends a `gap` and the latest snapshot. The client may send ' +
      `\`LiveClientMessage\` (ping). Close codes: ${closeCodes}. Admission limits and a bad query answer before the upgrade, as HTTP errors; ` +
      'a plain GET without `Upgrade: websocket` is a 426. Browsers may pass the token as `?token=` (only here). ' +
      '`format=compact` selects the compact profile: a `LiveHelloMessage` text frame, then `LiveCompactUpdate` binary frames ' +
      '(gap and pong stay JSON). New connections past WS_ADMIT_PER_SEC (node) or WS_ADMIT_PER_IP_PER_SEC (address) ' +
      'are closed at once with 4429, the reason being the seconds to wait before reconnecting.',
    // A ?token= far over its limit makes the request line itself too long for Node's parser: 431.
    errors: ['VALIDATION', 'ORIGIN_NOT_ALLOWED', 'TOO_MANY_CONNECTIONS', 'NODE_FULL', 'UPGRADE_REQUIRED', 'HEADERS_TOO_LARGE'],
    responses: {
      101: {
        description: 'Switching Protocols; then LiveServerMessage frames',
        ...jsonOf({ $ref: '#/components/schemas/LiveServerMessage' }),
      },
    },
  },
  'GET /v1/matches/:matchId/timeline': {
    tags: ['archive'],
    summary: 'A match timeline from the archive',
    description:
      'Counts per emoji, total and sentiment per `step` ms (at least one window), downsampled in the database, for windows starting in [`from`, `to`). ' +
      'Cursor-paged: pass `nextCursor` back as `cursor` with the same parameters. ETag + If-None-Match: 304 while the match is unchanged.',
    errors: ['VALIDATION', 'MATCH_NOT_ARCHIVED', 'ARCHIVE_UNAVAILABLE'],
    responses: { 304: { description: 'Not modified (If-None-Match matched the ETag)' } },
  },
  'GET /v1/matches/:matchId/moments': {
    tags: ['archive'],
    summary: 'The top moments of a match',
    description:
      'Windows whose total stands out from the match’s own trailing baseline: a robust z-score, (total − median) / max(1.4826·MAD, √median, 1) over the 5 minutes before, ' +
      'one per burst, ranked by score, each with its dominant emoji and `offsetMs` into the match. Cursor-paged (`limit`), ETag as the timeline.',
    errors: ['VALIDATION', 'MATCH_NOT_ARCHIVED', 'ARCHIVE_UNAVAILABLE'],
    responses: { 304: { description: 'Not modified (If-None-Match matched the ETag)' } },
  },
  'GET /v1/matches/:matchId/summary': {
    tags: ['archive'],
    summary: 'Totals, peak and duration of a match',
    errors: ['VALIDATION', 'MATCH_NOT_ARCHIVED', 'ARCHIVE_UNAVAILABLE'],
    responses: { 304: { description: 'Not modified (If-None-Match matched the ETag)' } },
  },
  'GET /v1/replay': {
    tags: ['archive'],
    summary: 'Replay of an archived match in step with the video (WebSocket)',
    description:
      'Upgrade to a WebSocket. The archived windows of `matchId`, paced in real time (× `speed`) from the playhead `offset` (ms since the match start) or `at` (ms since the epoch), ' +
      'as the live protocol’s `snapshot` and `update` messages (epoch `replay`), each when the playhead reaches the window’s end, plus `replay` messages ' +
      '(`matchStart`, `matchEnd`, `position`, `offsetMs`, `state`: playing | paused | ended). Client frames: `{"type":"seek","offset":MS}` or `{"type":"seek","at":EPOCH_MS}`, ' +
      '`{"type":"pause"}`, `{"type":"play"}`, `{"type":"ping"}`. Close codes as on /v1/live.',
    errors: ['VALIDATION', 'UNAUTHORIZED', 'MATCH_NOT_ARCHIVED', 'ARCHIVE_UNAVAILABLE', 'NODE_FULL', 'UPGRADE_REQUIRED', 'HEADERS_TOO_LARGE'],
    responses: { 101: { description: 'Switching Protocols; then LiveServerMessage-shaped updates and replay state messages. A plain GET without `Upgrade: websocket` is a 426.' } },
  },
  'GET /v1/live/events': {
    tags: ['live'],
    summary: 'Live window updates of a match (Server-Sent Events)',
    auth: 'live',
    description:
      'The /v1/live feed as `text/event-stream`, for networks and proxies that block WebSocket upgrades; served by every fan-out node. ' +
      'Updates and snapshots are default events whose `id:` is the resume position `<epoch>.<seq>` and whose data is a ' +
      '`LiveUpdateMessage` (JSON) or, with `format=compact`, a base64 `LiveCompactUpdate` after a `hello` event (`LiveHelloMessage`). ' +
      '`gap`, `error` are named events with JSON data. `Last-Event-ID` (what EventSource sends on reconnect) resumes exactly like ' +
      '`since`/`epoch` and wins over them; one that is not `<epoch>.<seq>` is a 400. A comment line keeps an idle stream open. ' +
      'Past the connection-rate cap: 429 with Retry-After. Browsers may pass the token as `?token=`.',
    errors: ['VALIDATION', 'ORIGIN_NOT_ALLOWED', 'TOO_MANY_CONNECTIONS', 'NODE_FULL'],
    responses: {
      200: {
        description: 'An endless event stream',
        headers: { 'Cache-Control': { schema: { type: 'string' }, description: 'no-cache, no-transform' } },
        content: {
          'text/event-stream': {
            // One SSE event (the fields of its lines): how Server-Sent Events are described in OpenAPI 3.1.
            schema: {
              type: 'object',
              description: 'SSE events: id:<epoch>.<seq> + data:<LiveUpdateMessage | base64 LiveCompactUpdate>; event:hello|gap + data:<JSON>',
              properties: { id: { type: 'string' }, event: { type: 'string', enum: ['message', 'hello', 'gap', 'error'] }, data: { type: 'string' }, retry: { type: 'integer' } },
            },
          },
        },
      },
    },
  },
  'GET /healthz': { tags: ['operations'], summary: 'Liveness', responses: { 200: { description: 'The process is alive', ...jsonOf({ type: 'object', properties: { status: { type: 'string' } } }) } } },
  'GET /readyz': {
    tags: ['operations'],
    summary: 'Readiness',
    responses: { 200: { description: 'Every stage is ready', ...jsonOf(Readiness) }, 503: { description: 'Stages named in `failing` are not ready', ...jsonOf(Readiness) } },
  },
  'GET /metrics': { tags: ['operations'], summary: 'Prometheus metrics', responses: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } } },
  'GET /dashboard': { tags: ['pages'], summary: 'Dashboard page (?matchId=M)', responses: { 200: { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } } },
  'GET /overlay': { tags: ['pages'], summary: 'Broadcaster overlay page (?matchId=M)', responses: { 200: { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } } },
});

/** The error responses of a route, one per status, each listing the codes it carries. */
function errorResponses(names: ErrorName[]): Record<string, unknown> {
  const byStatus = new Map<number, string[]>();
  for (const n of names) {
    const d = ErrorCodes[n];
    byStatus.set(d.statusCode, [...(byStatus.get(d.statusCode) ?? []), d.code]);
  }
  const out: Record<string, unknown> = {};
  for (const [status, codes] of byStatus) {
    const headers = ERROR_HEADERS[status];
    out[String(status)] = { description: codes.join(', '), ...(headers ? { headers } : {}), ...jsonOf({ $ref: '#/components/schemas/EmoError' }) };
  }
  return out;
}

/**
 * Components by name, without their $id (in OpenAPI 3.1 an $id would rebase the refs inside), the
 * live union as refs to its members rather than copies of them.
 */
function componentSchemas(schemas: readonly object[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const schema of [ErrorBody, ...schemas]) {
    const { $id, anyOf, ...rest } = schema as { $id: string; anyOf?: { $id?: string }[] } & Record<string, unknown>;
    const named = anyOf?.every((m) => m.$id !== undefined) === true;
    out[$id] = anyOf === undefined ? rest : { ...rest, anyOf: named ? anyOf.map((m) => ({ $ref: `#/components/schemas/${m.$id}` })) : anyOf };
  }
  return out;
}

const codeTable = Object.values(ErrorCodes)
  .map((d) => `| \`${d.code}\` | ${d.statusCode} | ${d.retryable ? 'yes' : 'no'} | ${d.message} |`)
  .join('\n');

/**
 * OpenAPI 3.1 from the routes' schemas at /openapi.json, and the docs page at /docs with its assets
 * served from the installed package (no CDN). Register before any route: routes are collected as
 * they are added.
 */
export interface OpenApiOptions {
  version: string;
  /** The catalog's emojis: the only values `emoji` takes. */
  emojis: readonly string[];
  clock: Clock;
  /** The accepted ts range around the receive time (TS_PAST_MS, TS_FUTURE_MS), and the range as of `now` (ingest's rule). */
  ts: { pastMs: number; futureMs: number; range: (now: number) => { min: number; max: number } };
  /** The window rules and ack margin the ingest description states (ingest acknowledges by them). */
  timing: AckTiming;
  /** Schemas with an $id the routes refer to by name (the live wire's messages), as components; a union of named ones is written as refs. */
  components: readonly object[];
  /** What the deployment enforces: security is documented only where it is. */
  auth: { serviceTokens: boolean; jwt: boolean };
}

export async function registerOpenApi(app: FastifyInstance, o: OpenApiOptions): Promise<void> {
  const authOn = o.auth.serviceTokens || o.auth.jwt;
  const docs = routeDocs(o.timing);
  const bearerDescription = [
    o.auth.jwt ? 'a viewer JWT (its `sub` is the user; an optional `matches` claim limits the matches)' : '',
    o.auth.serviceTokens ? 'one of API_TOKENS (server-to-server: the body names the user)' : '',
  ].filter(Boolean).join(', or ');
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'EmoStream API',
        version: o.version,
        description:
          `Real-time emoji reactions: ingest, ${o.timing.windowMs / 1000} s windows, fan-out. ` + 'Every error is an `EmoError` body with a stable code:\n\n' +
          `| code | status | retry helps | meaning |\n| --- | --- | --- | --- |\n${codeTable}\n\n` +
          'Any unknown route answers 404 `EMO_ERR_NOT_FOUND`; a known path with another method 405 `EMO_ERR_METHOD_NOT_ALLOWED` with ' +
          '`Allow`. ' +
          (authOn
            ? `The ingest routes and /v1/live need \`Authorization: Bearer <token>\` (or \`?token=\` on the WebSocket only): ${bearerDescription}. A 401 carries \`WWW-Authenticate\`.`
            : 'This deployment has no authentication configured (no API_TOKENS, no JWT key): every route is open.'),
      },
      tags: [
        { name: 'ingest', description: 'Reactions in' },
        { name: 'live', description: 'Window updates out (WebSocket, or Server-Sent Events)' },
        { name: 'archive', description: 'Every window of every match, kept: timeline, moments, summary, replay' },
        { name: 'catalog' },
        { name: 'operations', description: 'Health and metrics' },
        { name: 'pages' },
      ],
      components: {
        schemas: componentSchemas(o.components) as never,
        ...(authOn
          ? {
              securitySchemes: {
                bearer: { type: 'http', scheme: 'bearer', ...(o.auth.jwt ? { bearerFormat: 'JWT' } : {}), description: bearerDescription },
                queryToken: { type: 'apiKey', in: 'query', name: 'token', description: 'The same token, for browsers\' WebSockets and EventSources (GET /v1/live and /v1/live/events only)' },
              },
            }
          : {}),
      },
    },
    convertConstToEnum: false,
    transform: ({ schema, url, route }) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const doc = methods.map((m) => docs[`${m} ${url}`]).find((d) => d !== undefined);
      if (!doc) return { schema, url };
      const own = (schema?.response ?? {}) as Record<string, unknown>;
      const documented: FastifySchema & Record<string, unknown> = {
        ...schema,
        // @fastify/websocket hides its routes from the document; this one is documented on purpose.
        hide: false,
        tags: doc.tags,
        summary: doc.summary,
        ...(doc.description ? { description: doc.description } : {}),
        ...(authOn && doc.auth ? { security: doc.auth === 'live' ? [{ bearer: [] }, { queryToken: [] }] : [{ bearer: [] }] } : {}),
        response: { ...(doc.responses ?? {}), ...own, ...errorResponses([...(doc.errors ?? []), ...(authOn && doc.auth ? AUTH_ERRORS : []), ...(o.auth.jwt && doc.auth ? VIEWER_ERRORS : [])]) },
      };
      return { schema: documented, url };
    },
  });
  const emojiSchema = { type: 'string', enum: [...o.emojis], description: 'One of the catalog (GET /v1/emojis)' };
  // The document as of now: the ts bounds move with the clock, so they are filled in per request.
  const current = (base: unknown) => {
    const { min: minimum, max: maximum } = o.ts.range(o.clock.now());
    const doc = structuredClone(base) as OpenApiDoc;
    for (const path of ['/v1/reactions', '/v1/reactions/batch']) {
      const schema = doc.paths?.[path]?.post?.requestBody?.content?.['application/json']?.schema;
      const reaction = path.endsWith('batch') ? schema?.properties?.reactions?.items : schema;
      if (!reaction?.properties) continue;
      reaction.properties.emoji = emojiSchema;
      reaction.properties.ts = {
        type: 'integer',
        minimum,
        maximum,
        description: `ms since the epoch, default the receive time; accepted from ${o.ts.pastMs} ms before the start of the receive time's hour to ${o.ts.futureMs} ms after its end: these bounds hold until the hour turns`,
      };
    }
    return doc;
  };
  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list', deepLinking: true },
    transformSpecification: (spec) => current(spec),
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => current(app.swagger()));
}
