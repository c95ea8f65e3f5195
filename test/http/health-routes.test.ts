import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../helpers/manual-clock.js';
import { healthRoutes } from '../../src/http/health-routes.js';
import { StageProgress } from '../../src/stage/stage-progress.js';
import { createMetrics } from '../../src/metrics/metrics.js';

async function appWith(progress: StageProgress, metrics = createMetrics()) {
  const app = Fastify();
  await app.register(healthRoutes, { metrics, checks: [progress] });
  return app;
}

describe('honest health', () => {
  it('/healthz turns 503 when a stage made no progress for STALL_TIMEOUT_MS, and 200 again once it does', async () => {
    const clock = new ManualClock(1_000_000);
    const p = new StageProgress('aggregator', clock, 30_000);
    const app = await appWith(p);
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    clock.advance(30_000);
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    clock.advance(1);
    const res = await app.inject('/healthz');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'stalled', stalled: ['aggregator'] });
    p.progressed();
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    // Nothing to do counts as progress: an idle stage is not wedged.
    clock.advance(60_000);
    p.idle();
    expect((await app.inject('/healthz')).statusCode).toBe(200);
  });

  it('/readyz is 503 while a dependency is down; its return counts a reconnect', async () => {
    const metrics = createMetrics();
    const p = new StageProgress('publisher', new ManualClock(0), 30_000, metrics);
    const app = await appWith(p, metrics);
    p.down('redis');
    expect((await app.inject('/readyz')).json()).toEqual({ status: 'not-ready', failing: ['publisher'] });
    p.up('redis');
    p.up('redis');
    p.recovered('rewind');
    expect((await app.inject('/readyz')).statusCode).toBe(200);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/emostream_reconnects_total\{stage="publisher",dependency="redis"\} 1/);
    expect(text).toMatch(/emostream_recoveries_total\{stage="publisher",kind="rewind"\} 1/);
  });
});
