import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { ackDeadline } from '../../src/domain/windows.js';
import { ingestApp, NOW } from '../helpers/ingest-app.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const closing = { windowMs: 2000, graceMs: 500, tsToleranceMs: 250, closeMarginMs: 100 };
const post = (a: FastifyInstance, body: unknown) => a.inject({ method: 'POST', url: '/v1/reactions', payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

describe('a 202 only while the reaction\'s window still takes it', () => {
  it('the deadline is the window\'s end + grace - margin, the window picked by the trusted event time', () => {
    // NOW is a window start (a multiple of 2000).
    expect(ackDeadline(closing, NOW + 10, NOW + 10)).toBe(NOW + 2400);
    // ts 250 ms behind the receive time is trusted: the reaction belongs to the earlier window.
    expect(ackDeadline(closing, NOW + 1999, NOW + 2249)).toBe(NOW + 2400);
    // ts further behind (or ahead) is not: the receive time picks the window.
    expect(ackDeadline(closing, NOW + 1000, NOW + 2249)).toBe(NOW + 4400);
    expect(ackDeadline(closing, NOW + 9000, NOW + 2249)).toBe(NOW + 4400);
  });

  it('503 EMO_ERR_LOG_UNAVAILABLE when the log acknowledges after the window closed; 202 when in time', async () => {
    // The log takes the record but acknowledges only when told: a broker slower than the grace.
    let release: (() => void) | undefined;
    const t = await ingestApp({
      wrap: (p) => ({
        ...p,
        send: (records) => p.send(records).then(() => new Promise<void>((r) => (release = r))),
      }),
    });
    app = t.app;
    // Received 249 ms into a window, tapped 250 ms earlier in the previous one: 151 ms of its
    // window's grace (less the margin) are left for the log.
    t.clock.set(NOW + 2249);
    const late = await post(app, { matchId: 'm1', userId: 'u1', emoji: '🔥', ts: NOW + 1999 });
    expect(late.statusCode).toBe(503);
    expect(late.json()).toMatchObject({ code: 'EMO_ERR_LOG_UNAVAILABLE', message: expect.stringContaining('before their window closes') });
    expect(late.headers['retry-after']).toBe('1');

    // The same log acknowledging at once: 202.
    release = undefined;
    const pending = post(app, { matchId: 'm1', userId: 'u1', emoji: '🔥', ts: NOW + 1999 });
    while (!release) await new Promise((r) => setImmediate(r));
    (release as () => void)();
    expect((await pending).statusCode).toBe(202);
  });

  it('configuration: the tolerance and the margin must fit inside the grace', () => {
    expect(() => loadConfig({ GRACE_MS: '300', TS_TOLERANCE_MS: '250', ACK_CLOSE_MARGIN_MS: '100' })).toThrow(/ACK_CLOSE_MARGIN_MS/);
    expect(loadConfig({ GRACE_MS: '400', TS_TOLERANCE_MS: '250', ACK_CLOSE_MARGIN_MS: '100' }).ingest.closeMarginMs).toBe(100);
  });
});
