import { describe, expect, it } from 'vitest';
import { CrowdSimulator } from '../../src/crowd/simulator.js';
import { ManualClock } from '../../helpers/manual-clock.js';

const emojis = ['🔥', '😂', '😍', '👏', '🎉', '😱', '🤦'];

/** A fake API: 202s, with a 429 and a 503 (Retry-After 0) first, recording every reaction. */
function fakeApi() {
  const got: Array<{ userId: string; emoji: string; matchId: string }> = [];
  const failures = [429, 503];
  const fetch = (async (_url: string, init: { body: string }) => {
    const status = failures.shift();
    if (status) return new Response('{}', { status, headers: { 'retry-after': '0' } });
    const { reactions } = JSON.parse(init.body) as { reactions: typeof got };
    got.push(...reactions);
    return new Response(JSON.stringify({ accepted: reactions.length }), { status: 202 });
  }) as unknown as typeof globalThis.fetch;
  return { fetch, got };
}

describe('crowd simulator', () => {
  it('is bounded by count, spreads users, counts retries, and flushes everything before resolving', async () => {
    const api = fakeApi();
    const sim = new CrowdSimulator({
      baseUrl: 'http://127.0.0.1:1', matchId: 'm1', viewers: 50, durationMs: 30_000, ratePerSec: 20_000, maxReactions: 3000,
      seed: 11, momentEveryMs: 5000, emojis, senders: 3, batchSize: 200, tickMs: 10, fetch: api.fetch,
    });
    const stats = await sim.run();
    expect(stats).toMatchObject({ generated: 3000, accepted: 3000, queued: 0, rejected: 0, refused: 0, retries: 2, status429: 1, status503: 1 });
    expect(api.got).toHaveLength(3000);
    expect(sim.elapsedMs).toBeLessThan(10_000); // the count bound, not the 30 s, ended it
    expect(new Set(api.got.map((r) => r.matchId))).toEqual(new Set(['m1']));
    expect(new Set(api.got.map((r) => r.userId)).size).toBeGreaterThan(40);
    for (const r of api.got) expect(emojis).toContain(r.emoji);
  });

  it('is bounded by time, and stop() ends a run early with a flush', async () => {
    // Ticks, batching and backoff on a ManualClock: 300 ms of run take no real time.
    const clock = new ManualClock(1_000_000);
    const api = fakeApi();
    const sim = new CrowdSimulator({
      baseUrl: 'http://127.0.0.1:1', matchId: 'm2', viewers: 10, durationMs: 300, ratePerSec: 1000, maxReactions: 1e9,
      seed: 1, momentEveryMs: 100_000, emojis, tickMs: 20, fetch: api.fetch, clock,
    });
    const run = sim.run();
    await clock.drive(run);
    const stats = await run;
    expect(stats.generated).toBeGreaterThan(200);
    expect(stats.generated).toBeLessThanOrEqual(330);
    expect(stats.accepted).toBe(stats.generated);
    // The time bound ended it: the tick that reached 300 ms; no tick after it.
    expect(sim.elapsedMs).toBeGreaterThanOrEqual(300);
    expect(clock.pending).toBe(0);

    const longClock = new ManualClock(1_000_000);
    const long = new CrowdSimulator({
      baseUrl: 'http://127.0.0.1:1', matchId: 'm3', viewers: 10, durationMs: 60_000, ratePerSec: 500, maxReactions: 1e9,
      seed: 2, momentEveryMs: 100_000, emojis, tickMs: 20, fetch: fakeApi().fetch, clock: longClock,
    });
    const done = long.run();
    longClock.advance(200); // ten ticks
    expect(long.stats.generated).toBeGreaterThan(0);
    const stopping = long.stop();
    await longClock.drive(stopping); // the flush's retries wait on the clock too
    const stopped = await stopping;
    expect(await done).toBe(stopped);
    expect(longClock.now() - 1_000_000).toBeLessThan(60_000);
    expect(stopped.generated).toBeGreaterThan(0);
    expect(stopped.accepted).toBe(stopped.generated);
    expect(stopped.queued).toBe(0);
  });
});
