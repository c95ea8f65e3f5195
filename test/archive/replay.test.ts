import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { WebSocket } from 'ws';
import { buildApp } from '../../src/app.js';
import { openPgliteArchive } from '../../src/adapters/postgres/pglite-window-archive.js';
import { ManualClock } from '../../helpers/manual-clock.js';
import type { WindowArchive } from '../../src/ports/window-archive.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { EmoStreamClient, type LiveMessage, type ReplayStateMessage } from '../../packages/sdk/src/index.js';
import { catalog, silentLogger, testConfig } from '../../helpers/fixtures.js';
import { win } from './archive-suite.js';

const T0 = 1_800_000_000_000;
const SEQ0 = T0 / 2000;

describe('replay of an archived match (GET /v1/replay)', () => {
  let store: WindowArchive;
  let app: FastifyInstance;
  let baseUrl: string;
  const clients: EmoStreamClient[] = [];
  // The replay's pacing clock: the playhead moves, and windows go out, only when the test moves it.
  const wall = new ManualClock(1_000_000);
  const client = () => {
    const c = new EmoStreamClient({ baseUrl, userId: 'vod', WebSocket: WebSocket as never, reconnectBaseMs: 50 });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    store = await openPgliteArchive({});
    // 60 windows; window 7 is missing (a quiet window: no update live either).
    await store.upsert(Array.from({ length: 60 }, (_, i) => win('vod', i, { '🔥': i + 1 })).filter((w) => w.windowStart !== T0 + 7 * 2000));
    app = await buildApp({ config: testConfig(), catalog, clock: new ManualClock(T0), metrics: createMetrics(), logger: silentLogger, archive: { store, clock: wall }, pages: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    for (const c of clients) await c.close(100);
    await app?.close();
    await store?.close();
  });

  it('streams the windows paced from the playhead, linked by prevSeq, each when the playhead reaches its end', async () => {
    const got: LiveMessage[] = [];
    const states: ReplayStateMessage[] = [];
    // Playhead 10.5 s into the match, 10x: a 2 s window every 200 ms.
    const sub = client().replay('vod', (m) => got.push(m), { offset: 10_500, speed: 10, on: { replay: (s) => states.push(s) } });
    await vi.waitFor(() => expect(got).toHaveLength(1));
    await vi.waitFor(() => expect(wall.pending).toBe(1));
    // Window 5 ends at 12 s: 1.5 s of match after the start, 150 ms at 10x; then one every 200 ms
    // (400 over the quiet window 7). Each goes out when the clock reaches its end, not a ms sooner.
    const waited: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const due = wall.next!;
      waited.push(due - wall.now());
      wall.set(due - 1);
      expect(wall.next).toBe(due); // still waiting: nothing sent
      wall.set(due);
      await vi.waitFor(() => expect(got).toHaveLength(1 + i));
    }
    sub.close();
    await vi.waitFor(() => expect(wall.pending).toBe(0)); // a closed replay stops its pacing
    expect(waited).toEqual([150, 200, 400, 200, 200]);
    expect(states[0]).toMatchObject({ type: 'replay', matchId: 'vod', matchStart: T0, matchEnd: T0 + 120_000, offsetMs: 10_500, position: T0 + 10_500, speed: 10, state: 'playing' });
    // At 10.5 s the last closed window is [8 s, 10 s): window 4.
    expect(got[0]).toMatchObject({ type: 'snapshot', seq: SEQ0 + 4, windowStart: T0 + 8000, counts: { '🔥': 5 }, epoch: 'replay' });
    expect(got.slice(1, 6).map((m) => [m.type, m.seq, m.prevSeq, m.total])).toEqual([
      ['update', SEQ0 + 5, SEQ0 + 4, 6],
      ['update', SEQ0 + 6, SEQ0 + 5, 7],
      ['update', SEQ0 + 8, SEQ0 + 6, 9], // window 7 was quiet: the next links over it, as live
      ['update', SEQ0 + 9, SEQ0 + 8, 10],
      ['update', SEQ0 + 10, SEQ0 + 9, 11],
    ]);
  });

  it('seeks, pauses and plays on the client’s word, and says when the match ends', async () => {
    const got: LiveMessage[] = [];
    const states: ReplayStateMessage[] = [];
    const sub = client().replay('vod', (m) => got.push(m), { offset: 0, speed: 10, on: { replay: (s) => states.push(s) } });
    await vi.waitFor(() => expect(states).toHaveLength(1));
    // At the start nothing had closed yet: no snapshot; the first window is the match's first, 200 ms on.
    await vi.waitFor(() => expect(wall.pending).toBe(1));
    wall.advance(200);
    await vi.waitFor(() => expect(got.length).toBeGreaterThanOrEqual(1));
    expect(got[0]).toMatchObject({ type: 'update', seq: SEQ0, prevSeq: -1 });
    sub.seek({ offset: 100_000 });
    await vi.waitFor(() => expect(states.some((s) => s.offsetMs === 100_000)).toBe(true));
    await vi.waitFor(() => expect(got.some((m) => m.type === 'snapshot' && m.seq === SEQ0 + 49)).toBe(true));
    sub.pause();
    await vi.waitFor(() => expect(states.at(-1)!.state).toBe('paused'));
    const atPause = got.length;
    // Paused: nothing waits to be sent, however far the clock moves (the server sends only from
    // its timer or on a client's word).
    expect(wall.pending).toBe(0);
    wall.advance(5000);
    expect(got.length).toBe(atPause);
    expect(sub.position).toBe(states.at(-1)!.position);
    sub.play();
    await vi.waitFor(() => expect(states.at(-1)!.state).toBe('playing'));
    await vi.waitFor(() => expect(wall.pending).toBe(1));
    wall.advance(2000); // windows 50..59 end 20 s of match on: 2 s at 10x
    await vi.waitFor(() => expect(states.at(-1)!.state).toBe('ended'));
    expect(got.at(-1)).toMatchObject({ seq: SEQ0 + 59, prevSeq: SEQ0 + 58 });
    // After the seek: every window from 50 on, once, in order.
    const after = got.slice(got.findIndex((m) => m.type === 'snapshot' && m.seq === SEQ0 + 49) + 1);
    expect(after.map((m) => m.seq - SEQ0)).toEqual(Array.from({ length: 10 }, (_, i) => 50 + i));
    sub.seek({ at: T0 + 5000 });
    await vi.waitFor(() => expect(states.at(-1)).toMatchObject({ offsetMs: 5000, state: 'playing' }));
    sub.close();
    await vi.waitFor(() => expect(wall.pending).toBe(0));
  });

  it('refuses before the upgrade, with stable codes: unknown match, bad playhead, bad speed; closes on a malformed frame', async () => {
    const status = async (q: string) => {
      const r = await app.inject({ url: `/v1/replay?${q}`, headers: { connection: 'upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
      return [r.statusCode, r.json().code];
    };
    expect(await status('matchId=nobody')).toEqual([404, 'EMO_ERR_MATCH_NOT_ARCHIVED']);
    // Both playheads is a valid question (`at` wins): a client that did not upgrade is told to.
    expect(await status('matchId=vod&offset=1&at=2')).toEqual([426, 'EMO_ERR_UPGRADE_REQUIRED']);
    expect(await status('matchId=vod&speed=1000')).toEqual([400, 'EMO_ERR_VALIDATION']);
    expect(await status('matchId=vod&offset=abc')).toEqual([400, 'EMO_ERR_VALIDATION']);
    const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/v1/replay?matchId=vod`);
    const code = await new Promise<number>((resolve) => {
      ws.on('open', () => ws.send('{"type":"seek","offset":"soon"}'));
      ws.on('close', (c) => resolve(c));
    });
    expect(code).toBe(4402);
    // `at` wins over `offset` when both are given.
    const both = new WebSocket(`${baseUrl.replace('http', 'ws')}/v1/replay?matchId=vod&offset=0&at=${T0 + 10_500}`);
    const first = await new Promise<{ type: string; offsetMs: number }>((resolve) => {
      both.on('message', (d) => {
        const m = JSON.parse(String(d)) as { type: string; offsetMs: number };
        if (m.type === 'replay') resolve(m);
      });
    });
    both.close();
    expect(first.offsetMs).toBe(10_500);
  });
});
