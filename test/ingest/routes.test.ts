import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { emoError } from '../../src/domain/errors.js';
import { ingestApp, NOW } from '../helpers/ingest-app.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const ok = { matchId: 'm1', userId: 'u1', emoji: '🔥', ts: NOW };
const post = (a: FastifyInstance, url: string, payload: unknown, headers: Record<string, string> = {}) =>
  a.inject({ method: 'POST', url, payload: typeof payload === 'string' ? payload : JSON.stringify(payload), headers: { 'content-type': 'application/json', ...headers } });

describe('POST /v1/reactions', () => {
  it('accepts a valid reaction with 202 and stores it Avro-encoded in the log', async () => {
    const t = await ingestApp();
    app = t.app;
    const res = await post(app, '/v1/reactions', ok);
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 1 });
    const stored = [0, 1, 2, 3].flatMap((p) => t.log.read(t.config.log.reactionsTopic, p, 0, 10));
    expect(stored).toHaveLength(1);
    expect(stored[0]!.key).toBe('m1');
    expect((await t.serdes.reactions.decode(stored[0]!.value)).map((r) => ({ ...r }))).toEqual([{ ...ok, receivedAt: NOW }]);
  });

  it('uses server time when ts is absent', async () => {
    const t = await ingestApp();
    app = t.app;
    expect((await post(app, '/v1/reactions', { matchId: 'm1', userId: 'u1', emoji: '😂' })).statusCode).toBe(202);
    expect((await t.stored())[0]!.ts).toBe(NOW);
  });

  it('400 EMO_ERR_MALFORMED_JSON for a body that is not JSON', async () => {
    app = (await ingestApp()).app;
    const res = await post(app, '/v1/reactions', '{"matchId": ');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ statusCode: 400, code: 'EMO_ERR_MALFORMED_JSON', error: 'Bad Request' });
  });

  it('400 EMO_ERR_VALIDATION naming a missing field', async () => {
    app = (await ingestApp()).app;
    const res = await post(app, '/v1/reactions', { matchId: 'm1', emoji: '🔥' });
    expect(res.json()).toEqual({ statusCode: 400, code: 'EMO_ERR_VALIDATION', error: 'Bad Request', message: 'body.userId is required' });
  });

  it('400 EMO_ERR_VALIDATION for a wrong type (no coercion of "123" to a number)', async () => {
    app = (await ingestApp()).app;
    const res = await post(app, '/v1/reactions', { ...ok, ts: String(NOW) });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ statusCode: 400, code: 'EMO_ERR_VALIDATION', error: 'Bad Request', message: 'body.ts must be integer' });
  });

  it('400 EMO_ERR_VALIDATION for an unknown field', async () => {
    app = (await ingestApp()).app;
    const res = await post(app, '/v1/reactions', { ...ok, extra: 1 });
    expect(res.json()).toEqual({ statusCode: 400, code: 'EMO_ERR_VALIDATION', error: 'Bad Request', message: 'body.extra is not a known field' });
  });

  it('400 EMO_ERR_UNKNOWN_EMOJI for an emoji outside the catalog', async () => {
    app = (await ingestApp()).app;
    const res = await post(app, '/v1/reactions', { ...ok, emoji: '🦄' });
    expect(res.json()).toEqual({
      statusCode: 400,
      code: 'EMO_ERR_UNKNOWN_EMOJI',
      error: 'Bad Request',
      message: 'emoji "🦄" is not in the catalog (GET /v1/emojis)',
    });
  });

  it('400 EMO_ERR_TIMESTAMP_RANGE only for an implausible ts (beyond ±24 h: a unit mistake), edges accepted', async () => {
    app = (await ingestApp()).app;
    const day = 86_400_000;
    // A client clock an hour off is accepted: ts is data, the window comes from the receive time.
    expect((await post(app, '/v1/reactions', { ...ok, ts: NOW - 3_600_000 })).statusCode).toBe(202);
    expect((await post(app, '/v1/reactions', { ...ok, ts: NOW + 3_600_000 })).statusCode).toBe(202);
    expect((await post(app, '/v1/reactions', { ...ok, ts: NOW - day })).statusCode).toBe(202);
    expect((await post(app, '/v1/reactions', { ...ok, ts: NOW + day })).statusCode).toBe(202);
    const res = await post(app, '/v1/reactions', { ...ok, ts: Math.floor(NOW / 1000) }); // seconds, not ms
    expect(res.json()).toEqual({
      statusCode: 400,
      code: 'EMO_ERR_TIMESTAMP_RANGE',
      error: 'Bad Request',
      message: `ts ${Math.floor(NOW / 1000)} is outside [${NOW - day}, ${NOW + day}] (now=${NOW}; ±${day}/${day} ms around this hour)`,
    });
    expect((await post(app, '/v1/reactions', { ...ok, ts: NOW + day + 1 })).json().code).toBe('EMO_ERR_TIMESTAMP_RANGE');
    expect((await post(app, '/v1/reactions', { ...ok, ts: NOW - day - 1 })).json().code).toBe('EMO_ERR_TIMESTAMP_RANGE');
  });

  it('413 EMO_ERR_BODY_TOO_LARGE past the size limit', async () => {
    app = (await ingestApp()).app;
    const res = await post(app, '/v1/reactions', { ...ok, userId: 'x'.repeat(5000) });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ statusCode: 413, code: 'EMO_ERR_BODY_TOO_LARGE', error: 'Payload Too Large', message: 'Body exceeds the size limit' });
  });

  it('415 EMO_ERR_UNSUPPORTED_MEDIA_TYPE for a non-JSON content type', async () => {
    app = (await ingestApp()).app;
    const res = await post(app, '/v1/reactions', 'hello', { 'content-type': 'text/plain' });
    expect(res.statusCode).toBe(415);
    expect(res.json().code).toBe('EMO_ERR_UNSUPPORTED_MEDIA_TYPE');
  });

  it('429 EMO_ERR_RATE_LIMITED with Retry-After past the per-user burst; other users unaffected; refills with time', async () => {
    const t = await ingestApp({ config: { ingest: { userRatePerSec: 2, userBurst: 3, maxBatch: 3 } } });
    app = t.app;
    for (let i = 0; i < 3; i++) expect((await post(app, '/v1/reactions', ok)).statusCode).toBe(202);
    const res = await post(app, '/v1/reactions', ok);
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json()).toEqual({ statusCode: 429, code: 'EMO_ERR_RATE_LIMITED', error: 'Too Many Requests', message: 'Too many reactions from this user' });
    expect((await post(app, '/v1/reactions', { ...ok, userId: 'u2' })).statusCode).toBe(202);
    t.clock.advance(500); // one token back at 2/s
    expect((await post(app, '/v1/reactions', ok)).statusCode).toBe(202);
    expect((await post(app, '/v1/reactions', ok)).statusCode).toBe(429);
  });

  it('503 EMO_ERR_BACKPRESSURE with Retry-After when the log is full, and nothing partial is stored', async () => {
    const t = await ingestApp({ capacity: 2 });
    app = t.app;
    expect((await post(app, '/v1/reactions', ok)).statusCode).toBe(202);
    // Two matches: two records in either format (packed holds one per match), one more than fits.
    const batch = await post(app, '/v1/reactions/batch', { reactions: [ok, { ...ok, matchId: 'm2' }] });
    expect(batch.statusCode).toBe(503);
    expect(batch.headers['retry-after']).toBe('1');
    expect(batch.json()).toEqual({ statusCode: 503, code: 'EMO_ERR_BACKPRESSURE', error: 'Service Unavailable', message: 'The reaction log is full; retry later' });
    expect((await t.stored()).length).toBe(1);
  });

  it('503 EMO_ERR_LOG_UNAVAILABLE (never 500, never 202) when the log fails unexpectedly', async () => {
    app = (
      await ingestApp({
        wrap: (p) => ({ ...p, ready: () => false, close: p.close, send: async () => Promise.reject(new Error('broker gone')) }),
      })
    ).app;
    const res = await post(app, '/v1/reactions', ok);
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json().code).toBe('EMO_ERR_LOG_UNAVAILABLE');
  });

  it('passes through a retryable log error as is', async () => {
    app = (await ingestApp({ wrap: (p) => ({ ...p, send: async () => Promise.reject(emoError('BACKPRESSURE', undefined, { retryAfterSec: 7 })) }) })).app;
    const res = await post(app, '/v1/reactions', ok);
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('7');
  });
});

describe('POST /v1/reactions/batch', () => {
  it('accepts up to 500 and answers with the count', async () => {
    const t = await ingestApp({ capacity: 10_000, config: { ingest: { userBurst: 10_000 } } });
    app = t.app;
    const reactions = Array.from({ length: 500 }, (_, i) => ({ ...ok, matchId: `m${i % 7}`, emoji: i % 2 ? '🔥' : '😂' }));
    const res = await post(app, '/v1/reactions/batch', { reactions });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 500 });
    expect((await t.stored()).length).toBe(500);
  });

  it('rejects 501 items with EMO_ERR_VALIDATION', async () => {
    app = (await ingestApp()).app;
    const res = await post(app, '/v1/reactions/batch', { reactions: Array.from({ length: 501 }, () => ok) });
    expect(res.json()).toEqual({ statusCode: 400, code: 'EMO_ERR_VALIDATION', error: 'Bad Request', message: 'body.reactions must NOT have more than 500 items' });
  });

  it('a bad item rejects the whole batch with its index (schema)', async () => {
    const t = await ingestApp();
    app = t.app;
    const res = await post(app, '/v1/reactions/batch', { reactions: [ok, ok, { ...ok, matchId: '' }] });
    expect(res.json()).toEqual({
      statusCode: 400,
      code: 'EMO_ERR_VALIDATION',
      error: 'Bad Request',
      message: 'body.reactions[2].matchId must NOT have fewer than 1 characters',
      index: 2,
    });
    expect((await t.stored()).length).toBe(0);
  });

  it('a bad item rejects the whole batch with its index (catalog, time)', async () => {
    const t = await ingestApp();
    app = t.app;
    const bad = await post(app, '/v1/reactions/batch', { reactions: [ok, { ...ok, emoji: '🦄' }] });
    expect(bad.json()).toEqual({
      statusCode: 400,
      code: 'EMO_ERR_UNKNOWN_EMOJI',
      error: 'Bad Request',
      message: 'reactions[1]: emoji "🦄" is not in the catalog (GET /v1/emojis)',
      index: 1,
    });
    const late = await post(app, '/v1/reactions/batch', { reactions: [{ ...ok, ts: 1 }] });
    expect(late.json()).toMatchObject({ code: 'EMO_ERR_TIMESTAMP_RANGE', index: 0 });
    expect((await t.stored()).length).toBe(0);
  });

  it('a batch counts against each of its users, all or nothing', async () => {
    const t = await ingestApp({ config: { ingest: { userRatePerSec: 1, userBurst: 3, maxBatch: 3 } } });
    app = t.app;
    expect((await post(app, '/v1/reactions/batch', { reactions: [ok, ok] })).statusCode).toBe(202);
    const res = await post(app, '/v1/reactions/batch', { reactions: [ok, { ...ok, userId: 'u2' }, ok] });
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBe('1');
    expect((await t.stored()).length).toBe(2);
    // u2 spent nothing on the refused batch
    expect((await post(app, '/v1/reactions/batch', { reactions: [{ ...ok, userId: 'u2' }, { ...ok, userId: 'u2' }, { ...ok, userId: 'u2' }] })).statusCode).toBe(202);
  });
});

describe('catalog, health and errors', () => {
  it('GET /v1/emojis returns the catalog with valences', async () => {
    app = (await ingestApp()).app;
    const body = (await app.inject('/v1/emojis')).json() as { emojis: Array<{ emoji: string; name: string; valence: number }> };
    expect(body.emojis[0]).toEqual({ emoji: '🔥', name: 'fire', valence: 0.8 });
    for (const e of body.emojis) expect(Math.abs(e.valence)).toBeLessThanOrEqual(1);
  });

  it('healthz, readyz and metrics', async () => {
    app = (await ingestApp()).app;
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    expect((await app.inject('/readyz')).statusCode).toBe(200);
    await post(app, '/v1/reactions', ok);
    await post(app, '/v1/reactions', { ...ok, emoji: 'nope' });
    const metrics = (await app.inject('/metrics')).body;
    expect(metrics).toMatch(/^emostream_reactions_accepted_total 1$/m);
    expect(metrics).toMatch(/^emostream_requests_rejected_total\{code="EMO_ERR_UNKNOWN_EMOJI"\} 1$/m);
  });

  it('404 EMO_ERR_NOT_FOUND for unknown routes', async () => {
    app = (await ingestApp()).app;
    expect((await app.inject('/v1/nope')).json()).toEqual({ statusCode: 404, code: 'EMO_ERR_NOT_FOUND', error: 'Not Found', message: 'Route GET /v1/nope not found' });
  });
});

describe('API tokens (API_TOKENS)', () => {
  it('401 EMO_ERR_UNAUTHORIZED without a token, EMO_ERR_TOKEN_INVALID with a wrong one, both with WWW-Authenticate; 202 with a good one', async () => {
    app = (await ingestApp({ config: { apiTokens: ['s3cret-a', 's3cret-b'] } })).app;
    const none = await post(app, '/v1/reactions', ok);
    expect(none.statusCode).toBe(401);
    expect(none.json()).toEqual({ statusCode: 401, code: 'EMO_ERR_UNAUTHORIZED', error: 'Unauthorized', message: 'A Bearer token is required (Authorization: Bearer <token>)' });
    expect(none.headers['www-authenticate']).toBe('Bearer realm="emostream"');
    const wrong = await post(app, '/v1/reactions', ok, { authorization: 'Bearer wrong' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().code).toBe('EMO_ERR_TOKEN_INVALID');
    expect(wrong.headers['www-authenticate']).toBe('Bearer realm="emostream", error="invalid_token"');
    // The scheme is case-insensitive (RFC 9110); another scheme is no token at all.
    expect((await post(app, '/v1/reactions', ok, { authorization: 'bearer s3cret-a' })).statusCode).toBe(202);
    expect((await post(app, '/v1/reactions', ok, { authorization: 'BEARER   s3cret-a' })).statusCode).toBe(202);
    expect((await post(app, '/v1/reactions', ok, { authorization: 'Basic czNjcmV0LWE=' })).json().code).toBe('EMO_ERR_UNAUTHORIZED');
    // ?token= is for WebSockets only: on a POST it would end up in access logs.
    const q = await app.inject({ method: 'POST', url: '/v1/reactions?token=s3cret-a', payload: ok });
    expect(q.statusCode).toBe(401);
    expect(q.json().code).toBe('EMO_ERR_UNAUTHORIZED');
    expect((await post(app, '/v1/reactions/batch', { reactions: [ok] }, { authorization: 'Bearer s3cret-a' })).statusCode).toBe(202);
    expect((await post(app, '/v1/reactions', ok, { authorization: 'Bearer s3cret-b' })).statusCode).toBe(202);
    // The catalog and health stay public.
    expect((await app.inject('/v1/emojis')).statusCode).toBe(200);
    expect((await app.inject('/healthz')).statusCode).toBe(200);
  });
});

describe('fair limits', () => {
  it('a client rotating userIds is limited by its address', async () => {
    const t = await ingestApp({ capacity: 10_000, config: { ingest: { clientRatePerSec: 10, clientBurst: 600, userBurst: 600 } } });
    app = t.app;
    let accepted = 0;
    let limited = 0;
    for (let i = 0; i < 100; i++) {
      const res = await post(app, '/v1/reactions/batch', { reactions: Array.from({ length: 10 }, (_, j) => ({ ...ok, userId: `rotating-${i}-${j}` })) });
      if (res.statusCode === 202) accepted += 10;
      else if (res.statusCode === 429) limited++;
    }
    expect(accepted).toBe(600);
    expect(limited).toBe(40);
    // Another address is unaffected.
    const other = await app.inject({ method: 'POST', url: '/v1/reactions', payload: ok, remoteAddress: '10.1.2.3' });
    expect(other.statusCode).toBe(202);
  });

  it('with API tokens on, the token is the identity: two tokens behind one address have a bucket each', async () => {
    const t = await ingestApp({ config: { apiTokens: ['tok-a', 'tok-b'], ingest: { clientRatePerSec: 1, clientBurst: 500, userBurst: 500, maxBatch: 500 } } });
    app = t.app;
    const full = { reactions: Array.from({ length: 500 }, (_, i) => ({ ...ok, userId: `u${i}` })) };
    expect((await post(app, '/v1/reactions/batch', full, { authorization: 'Bearer tok-a' })).statusCode).toBe(202);
    expect((await post(app, '/v1/reactions', ok, { authorization: 'Bearer tok-a' })).statusCode).toBe(429);
    expect((await post(app, '/v1/reactions/batch', full, { authorization: 'Bearer tok-b' })).statusCode).toBe(202);
  });

  it('tokens spent on a request the log refused are refunded, so the retry is not met by a 429', async () => {
    let failNext = true;
    const t = await ingestApp({
      config: { ingest: { userRatePerSec: 1, userBurst: 3, maxBatch: 3, clientRatePerSec: 1, clientBurst: 500 } },
      wrap: (p) => ({ ...p, send: async (records) => {
        if (failNext) {
          failNext = false;
          throw emoError('BACKPRESSURE', undefined, { retryAfterSec: 1 });
        }
        return p.send(records);
      } }),
    });
    app = t.app;
    const three = { reactions: [ok, ok, ok] };
    expect((await post(app, '/v1/reactions/batch', three)).statusCode).toBe(503);
    expect((await post(app, '/v1/reactions/batch', three)).statusCode).toBe(202);
    expect((await t.stored()).length).toBe(3);
  });
});
