import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import type { Config } from '../../src/config/config.js';
import { ManualClock } from '../../helpers/manual-clock.js';
import { startEmbedded, type Pipeline } from '../../src/roles/embedded.js';
import { EmoStreamClient, type LiveMessage } from '../../packages/sdk/src/index.js';
import { catalog, silentLogger, testConfig } from '../../helpers/fixtures.js';
import { readMetric } from '../../helpers/metrics.js';

// Regression for issue 14: the windows are chosen by a time the server vouches for, so a client
// clock that is wrong (or lies) neither erases other viewers' reactions nor loses its own.
const T0 = 1_800_000_000_000; // a window boundary
const emojis = catalog.entries.map((e) => e.emoji);

/** The rule as README and schemas/aggregation.json state it, restated so the test checks the code against it. */
const documentedEventTime = (ts: number, receivedAt: number, toleranceMs: number) =>
  receivedAt - toleranceMs <= ts && ts <= receivedAt ? ts : receivedAt;

interface Harness {
  pipeline: Pipeline;
  rules: Config['aggregation'];
  clock: ManualClock;
  updates: LiveMessage[];
  viewer: EmoStreamClient;
  post(items: Array<{ userId: string; emoji: string; ts?: number }>): Promise<void>;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

let open: Harness | undefined;
afterEach(async () => {
  await open?.viewer.close(1000);
  await open?.pipeline.close();
  open = undefined;
});

async function harness(matchId: string): Promise<Harness> {
  const clock = new ManualClock(T0 + 100);
  // Per-address limits are exercised elsewhere; here every request comes from 127.0.0.1.
  const config = testConfig({ punctuateMs: 10, ingest: { clientRatePerSec: 1_000_000, clientBurst: 10_000_000 } });
  const pipeline = await startEmbedded(config, { logger: silentLogger, clock });
  await pipeline.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = pipeline.app.server.address() as { port: number };
  const viewer = new EmoStreamClient({ baseUrl: `http://127.0.0.1:${port}`, userId: 'viewer', WebSocket: WebSocket as never });
  const updates: LiveMessage[] = [];
  const sub = viewer.subscribe(matchId, (m) => updates.push(m));
  await vi.waitFor(() => expect(sub.state).toBe('connected'));
  const h: Harness = {
    pipeline,
    rules: config.aggregation,
    clock,
    updates,
    viewer,
    async post(items) {
      for (let i = 0; i < items.length; i += 500) {
        const reactions = items.slice(i, i + 500).map((it) => ({ matchId, ...it }));
        const res = await pipeline.app.inject({ method: 'POST', url: '/v1/reactions/batch', payload: { reactions } });
        expect(res.statusCode, res.body).toBe(202);
      }
    },
    async metric(name, labels) {
      return readMetric((await pipeline.app.inject('/metrics')).body, name, labels);
    },
  };
  open = h;
  return h;
}

describe('event time the server vouches for', () => {
  it('one viewer with a clock 4.5 s fast does not erase the reactions of 300 others', async () => {
    const h = await harness('skew-fast');
    const now = h.clock.now();
    await h.post([{ userId: 'fast-clock', emoji: '🔥', ts: now + 4500 }]);
    await h.post(Array.from({ length: 300 }, (_, i) => ({ userId: `viewer-${i}`, emoji: '😂', ts: now })));
    await vi.waitFor(async () => expect(await h.metric('emostream_aggregator_reactions_total')).toBe(301));
    h.clock.set(T0 + 2000 + 500);
    await vi.waitFor(() => expect(h.updates.filter((u) => u.type === 'update')).toHaveLength(1));
    expect(h.updates.at(-1)).toMatchObject({ windowStart: T0, counts: { '🔥': 1, '😂': 300 }, total: 301 });
    expect(await h.metric('emostream_aggregator_dropped_total', { reason: 'late' })).toBe(0);
  });

  it('a reaction stamped 30 s in the past is counted in the window it was received in', async () => {
    const h = await harness('skew-past');
    const now = h.clock.now();
    await h.post(Array.from({ length: 10 }, (_, i) => ({ userId: `on-time-${i}`, emoji: '👍', ts: now })));
    await h.post([{ userId: 'slow-clock', emoji: '😢', ts: now - 30_000 }]);
    await vi.waitFor(async () => expect(await h.metric('emostream_aggregator_reactions_total')).toBe(11));
    h.clock.set(T0 + 2000 + 500);
    await vi.waitFor(() => expect(h.updates.filter((u) => u.type === 'update')).toHaveLength(1));
    expect(h.updates.at(-1)).toMatchObject({ windowStart: T0, counts: { '👍': 10, '😢': 1 }, total: 11 });
    expect(await h.metric('emostream_aggregator_dropped_total', { reason: 'late' })).toBe(0);
  });

  it('under clocks skewed anywhere in ±1 h and a steady flood, every 202 is counted in exactly one window', async () => {
    const h = await harness('skew-fuzz');
    const { rules } = h;
    // A seeded generator: a failure replays the same input.
    let seed = 0x5eed;
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const expected = new Map<number, number>();
    let sent = 0;
    // 12 s of server time in 40 ms steps, 25 reactions per step from users with their own skew.
    for (let step = 0; step < 300; step++) {
      const now = h.clock.now();
      const batch = Array.from({ length: 25 }, (_, i) => {
        const kind = rand();
        // Mostly wild clocks (±1 h), some just behind the receive time (the band ts is trusted in), some with no ts.
        const ts = kind < 0.6 ? Math.round(now + (rand() * 2 - 1) * 3_600_000) : kind < 0.9 ? now - Math.floor(rand() * 400) : undefined;
        return { userId: `u-${step}-${i}`, emoji: emojis[Math.floor(rand() * emojis.length)]!, ...(ts === undefined ? {} : { ts }) };
      });
      await h.post(batch);
      for (const r of batch) {
        const start = Math.floor(documentedEventTime(r.ts ?? now, now, rules.tsToleranceMs) / rules.windowMs) * rules.windowMs;
        expected.set(start, (expected.get(start) ?? 0) + 1);
      }
      sent += batch.length;
      h.clock.advance(40);
    }
    await vi.waitFor(async () => expect(await h.metric('emostream_aggregator_reactions_total')).toBe(sent), { timeout: 15_000 });
    h.clock.advance(rules.windowMs + rules.graceMs);
    const lastWindow = Math.max(...expected.keys());
    await vi.waitFor(() => expect(h.updates.at(-1)?.windowStart).toBe(lastWindow), { timeout: 15_000 });
    const seen = new Map<number, number>();
    for (const u of h.updates) {
      expect(seen.has(u.windowStart), `window ${u.windowStart} delivered twice`).toBe(false);
      seen.set(u.windowStart, u.total);
    }
    expect(seen).toEqual(expected);
    expect([...seen.values()].reduce((a, b) => a + b, 0)).toBe(sent);
    expect(await h.metric('emostream_aggregator_dropped_total', { reason: 'late' })).toBe(0);
  });
});
