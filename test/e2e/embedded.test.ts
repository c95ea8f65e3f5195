import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { ManualClock } from '../../helpers/manual-clock.js';
import { startEmbedded, type Pipeline } from '../../src/roles/embedded.js';
import { EmoStreamClient, type LiveMessage } from '../../packages/sdk/src/index.js';
import { silentLogger, testConfig } from '../../helpers/fixtures.js';
import { readMetric } from '../../helpers/metrics.js';
import { switchableWebSocket } from '../helpers/ws-switch.js';

// Windows of 2 s with 0.5 s grace; scale 2 and top-2 so a small input exercises the compression.
const T0 = 1_800_000_000_000; // a window boundary (divisible by 2000)
const clock = new ManualClock(T0 + 100);
let pipeline: Pipeline;
let baseUrl: string;

async function aggregated(): Promise<number> {
  return readMetric((await pipeline.app.inject('/metrics')).body, 'emostream_aggregator_reactions_total');
}

async function send(clients: EmoStreamClient[], plan: Array<[number, string, string, number]>): Promise<number> {
  // [client index, matchId, emoji, ts]
  for (const [c, matchId, emoji, ts] of plan) expect(clients[c]!.react(matchId, emoji, ts)).toBe(true);
  await Promise.all(clients.map((c) => c.flush()));
  for (const c of clients) expect(c.sender.pending).toBe(0);
  return plan.length;
}

const repeat = (n: number, c: number, matchId: string, emoji: string, ts: number): Array<[number, string, string, number]> =>
  Array.from({ length: n }, (_, i) => [(c + i) % 3, matchId, emoji, ts + i]);

describe('embedded pipeline end to end (SDK -> API -> log -> aggregator -> publisher -> WebSocket -> SDK)', () => {
  const users: EmoStreamClient[] = [];
  const viewerA1: LiveMessage[] = [];
  const viewerB1: LiveMessage[] = [];
  const viewerA2: LiveMessage[] = [];
  const net = switchableWebSocket();
  let viewer1: EmoStreamClient;
  let viewer2: EmoStreamClient;

  beforeAll(async () => {
    const config = testConfig({ aggregation: { windowMs: 2000, graceMs: 500, unitScale: 2, topN: 2 }, punctuateMs: 20 });
    pipeline = await startEmbedded(config, { logger: silentLogger, clock });
    await pipeline.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = pipeline.app.server.address() as { port: number };
    baseUrl = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 3; i++) users.push(new EmoStreamClient({ baseUrl, userId: `user-${i}`, flushMs: 10, batchSize: 4 }));
    viewer1 = new EmoStreamClient({ baseUrl, userId: 'viewer-1', WebSocket: WebSocket as never });
    viewer2 = new EmoStreamClient({ baseUrl, userId: 'viewer-2', WebSocket: net.WebSocket, reconnectBaseMs: 20, reconnectMaxMs: 50 });
    const states: string[] = [];
    const subs = [
      viewer1.subscribe('match-A', (m) => viewerA1.push(m), { state: (s) => states.push(s) }),
      viewer1.subscribe('match-B', (m) => viewerB1.push(m)),
      viewer2.subscribe('match-A', (m) => viewerA2.push(m)),
    ];
    await vi.waitFor(() => expect(subs.every((s) => s.state === 'connected')).toBe(true));
    expect(states.slice(0, 2)).toEqual(['connecting', 'connected']);
  });

  afterAll(async () => {
    await Promise.all([...users, viewer1, viewer2].map((c) => c.close(1000)));
    await pipeline?.close();
  });

  it('aggregates two matches window by window with exact counts, units and sentiment', async () => {
    // Window 0 = [T0, T0+2000): all of it is sent before any reaction of window 1.
    const n0 = await send(users, [
      ...repeat(5, 0, 'match-A', '🔥', T0 + 10),
      ...repeat(3, 1, 'match-A', '😂', T0 + 500),
      ...repeat(2, 2, 'match-A', '😢', T0 + 1999 - 2),
      ...repeat(4, 0, 'match-B', '👍', T0 + 100),
      ...repeat(4, 1, 'match-B', '👎', T0 + 200),
      ...repeat(4, 2, 'match-B', '😮', T0 + 300),
    ]);
    await vi.waitFor(async () => expect(await aggregated()).toBe(n0));
    clock.set(T0 + 2100);
    const n1 = await send(users, [[0, 'match-A', '🎉', T0 + 2000]]);
    await vi.waitFor(async () => expect(await aggregated()).toBe(n0 + n1));
    clock.set(T0 + 4500); // wall clock reaches end + grace of window 1: both windows close
    await vi.waitFor(() => expect(viewerA1).toHaveLength(2));
    await vi.waitFor(() => expect(viewerB1).toHaveLength(1));

    const seq0 = T0 / 2000;
    expect(viewerA1[0]).toMatchObject({
      type: 'update',
      matchId: 'match-A',
      seq: seq0,
      prevSeq: -1,
      windowStart: T0,
      windowEnd: T0 + 2000,
      counts: { '🔥': 5, '😂': 3, '😢': 2 },
      units: { '🔥': 3, '😂': 2 }, // top-2, ceil(count / 2)
      total: 10,
      sentiment: (5 * 80 + 3 * 70 + 2 * -60) / 1000,
      viewers: 2,
    });
    expect(viewerA1[1]).toMatchObject({ seq: seq0 + 1, prevSeq: seq0, counts: { '🎉': 1 }, units: { '🎉': 1 }, total: 1, sentiment: 0.9 });
    // Three-way tie at 4: catalog order picks 👍 and 😮 over 👎.
    expect(viewerB1[0]).toMatchObject({
      matchId: 'match-B',
      seq: seq0,
      counts: { '👍': 4, '👎': 4, '😮': 4 },
      units: { '👍': 2, '😮': 2 },
      total: 12,
      sentiment: 0,
      viewers: 1,
    });
    // The second client saw exactly the same windows.
    await vi.waitFor(() => expect(viewerA2).toHaveLength(2));
    expect(viewerA2.map((m) => [m.seq, m.total, m.counts])).toEqual(viewerA1.map((m) => [m.seq, m.total, m.counts]));
    expect(viewerA1[0]!.epoch).toBe(viewerA2[0]!.epoch);
  });

  it('a late joiner gets the latest window as a snapshot', async () => {
    const late = new EmoStreamClient({ baseUrl, userId: 'late', WebSocket: WebSocket as never });
    const got: LiveMessage[] = [];
    late.subscribe('match-A', (m) => got.push(m));
    await vi.waitFor(() => expect(got).toHaveLength(1));
    expect(got[0]).toMatchObject({ type: 'snapshot', seq: T0 / 2000 + 1, total: 1, viewers: 3 });
    await late.close();
  });

  it('a client that lost its connection reconnects and recovers the update it missed', async () => {
    net.cut();
    // While viewer 2 is away, window 2 of match A closes.
    const before = await aggregated();
    const n = await send(users, repeat(3, 0, 'match-A', '❤️', T0 + 4000));
    await vi.waitFor(async () => expect(await aggregated()).toBe(before + n));
    clock.set(T0 + 6600);
    await vi.waitFor(() => expect(viewerA1).toHaveLength(3));
    expect(viewerA2).toHaveLength(2);
    net.restore();
    await vi.waitFor(() => expect(viewerA2).toHaveLength(3));
    expect(viewerA2[2]).toMatchObject({ type: 'update', seq: T0 / 2000 + 2, prevSeq: T0 / 2000 + 1, counts: { '❤️': 3 }, units: { '❤️': 2 }, total: 3 });
    // It resumed with since/epoch rather than starting over.
    expect(net.urls.at(-1)).toMatch(new RegExp(`since=${T0 / 2000 + 1}&epoch=${viewerA1[0]!.epoch}`));
    expect(viewerA2.map((m) => m.seq)).toEqual(viewerA1.map((m) => m.seq));
  });
});
