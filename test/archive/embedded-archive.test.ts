import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { ManualClock } from '../../helpers/manual-clock.js';
import { startEmbedded, type Pipeline } from '../../src/roles/embedded.js';
import { EmoStreamClient, type LiveMessage } from '../../packages/sdk/src/index.js';
import { silentLogger, testConfig } from '../../helpers/fixtures.js';

const T0 = 1_800_000_000_000;
const wire = (m: LiveMessage) => ({ seq: m.seq, prevSeq: m.prevSeq, windowStart: m.windowStart, windowEnd: m.windowEnd, counts: m.counts, units: m.units, total: m.total, sentiment: m.sentiment });

describe('embedded pipeline archives what live clients saw, and replays it the same', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'emo-archive-e2e-'));
  const clock = new ManualClock(T0 + 100);
  const config = testConfig({ aggregation: { windowMs: 2000, graceMs: 500, unitScale: 2, topN: 2 }, punctuateMs: 20, archive: { dir } });
  const clients: EmoStreamClient[] = [];
  let pipeline: Pipeline | undefined;
  afterAll(async () => {
    for (const c of clients) await c.close(200);
    await pipeline?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const start = async () => {
    pipeline = await startEmbedded(config, { logger: silentLogger, clock });
    await pipeline.app.listen({ host: '127.0.0.1', port: 0 });
    return `http://127.0.0.1:${(pipeline.app.server.address() as { port: number }).port}`;
  };

  it('live updates = archived windows = replayed updates = the timeline; the archive outlives a restart', async () => {
    const baseUrl = await start();
    const user = new EmoStreamClient({ baseUrl, userId: 'u1', flushMs: 5 });
    const viewer = new EmoStreamClient({ baseUrl, userId: 'v1', WebSocket: WebSocket as never });
    clients.push(user, viewer);
    const live: LiveMessage[] = [];
    const sub = viewer.subscribe('final', (m) => live.push(m));
    await vi.waitFor(() => expect(sub.state).toBe('connected'));
    const plan: Array<[string, number]> = [['🔥', 5], ['😂', 3], ['😢', 2], ['🏏', 7]];
    for (let w = 0; w < 4; w++) {
      clock.set(T0 + w * 2000 + 100);
      for (const [k, [emoji, n]] of plan.entries()) for (let i = 0; i < n + w * k; i++) user.react('final', emoji, T0 + w * 2000 + 50 + i);
      await user.flush();
      await vi.waitFor(async () => expect(Number(/emostream_aggregator_reactions_total (\d+)/.exec((await pipeline!.app.inject('/metrics')).body)?.[1])).toBeGreaterThan(0));
    }
    clock.set(T0 + 4 * 2000 + 600);
    await vi.waitFor(() => expect(live).toHaveLength(4), { timeout: 10_000 });
    await vi.waitFor(async () => expect((await pipeline!.app.inject('/v1/matches/final/summary')).json().windows).toBe(4));

    const replayed: LiveMessage[] = [];
    const rs = viewer.replay('final', (m) => replayed.push(m), { offset: 0, speed: 64 });
    await vi.waitFor(() => expect(replayed).toHaveLength(4), { timeout: 5000 });
    rs.close();
    expect(replayed.map(wire)).toEqual(live.map(wire));

    const timeline = (await pipeline!.app.inject('/v1/matches/final/timeline')).json();
    expect(timeline.points.map((p: { t: number; total: number; counts: Record<string, number> }) => [p.t, p.total, p.counts])).toEqual(live.map((m) => [m.windowStart, m.total, m.counts]));

    // Every role restarted (here the one process): the match's rows are still there.
    await pipeline!.close();
    pipeline = undefined;
    const again = await start();
    const summary = (await pipeline!.app.inject('/v1/matches/final/summary')).json();
    expect(summary).toMatchObject({ windows: 4, total: live.reduce((a, m) => a + m.total, 0), matchStart: T0 });
    expect(again).toMatch(/^http/);
  });
});
