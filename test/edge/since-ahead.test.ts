import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { WebSocket } from 'ws';
import { LiveSubscription } from '../../packages/sdk/src/live-subscription.js';
import { agg } from '../fanout/bus-suite.js';
import { edgeApp } from './edge-app.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function listen(url: string) {
  const ws = new WebSocket(url);
  const messages: Array<Record<string, unknown>> = [];
  ws.on('message', (d) => messages.push(JSON.parse(d.toString()) as Record<string, unknown>));
  return { ws, messages };
}

describe('a resume with since ahead of the server', () => {
  it('gets a since-ahead gap and the latest snapshot at once, then the updates that follow', async () => {
    const e = await edgeApp();
    app = e.app;
    for (let s = 1; s <= 3; s++) await e.bus.publish(agg('m', s, s));
    const epoch = await e.bus.epoch();
    const c = listen(`ws://127.0.0.1:${e.port}/v1/live?matchId=m&since=10&epoch=${epoch}`);
    await vi.waitFor(() => expect(c.messages).toHaveLength(2));
    expect(c.messages[0]).toEqual({ type: 'gap', matchId: 'm', epoch, since: 10, reason: 'since-ahead' });
    expect(c.messages[1]).toMatchObject({ type: 'snapshot', seq: 3 });
    await e.bus.publish(agg('m', 4, 4));
    await vi.waitFor(() => expect(c.messages[2]).toMatchObject({ type: 'update', seq: 4, prevSeq: 3 }));
    // A match with nothing published yet: the gap alone, then the first update.
    const d = listen(`ws://127.0.0.1:${e.port}/v1/live?matchId=quiet&since=5&epoch=${epoch}`);
    await vi.waitFor(() => expect(d.messages).toEqual([{ type: 'gap', matchId: 'quiet', epoch, since: 5, reason: 'since-ahead' }]));
    await e.bus.publish(agg('quiet', 1, 1));
    await vi.waitFor(() => expect(d.messages[1]).toMatchObject({ type: 'update', seq: 1 }));
    // A resume at exactly the latest seq is no gap: nothing is sent until the next update.
    const f = listen(`ws://127.0.0.1:${e.port}/v1/live?matchId=m&since=4&epoch=${epoch}`);
    await new Promise((r) => f.ws.once('open', r));
    await e.bus.publish(agg('m', 5, 5));
    await vi.waitFor(() => expect(f.messages).toEqual([expect.objectContaining({ type: 'update', seq: 5 })]));
    for (const x of [c, d, f]) x.ws.terminate();
  });

  it('the SDK restarts its feed from the snapshot instead of dropping it as already seen', async () => {
    const sockets: Array<{ onmessage: ((ev: { data: unknown }) => void) | null; onopen: ((ev: unknown) => void) | null }> = [];
    class Scripted {
      readyState = 0;
      onopen: ((ev: unknown) => void) | null = null;
      onclose: ((ev: { code: number; reason: string }) => void) | null = null;
      onerror: ((ev: unknown) => void) | null = null;
      onmessage: ((ev: { data: unknown }) => void) | null = null;
      constructor(readonly url: string) {
        sockets.push(this);
      }
      send(): void {}
      close(): void {}
    }
    const sub = new LiveSubscription({ wsUrl: 'ws://x', matchId: 'm', WebSocket: Scripted, reconnectBaseMs: 1, reconnectMaxMs: 1, random: () => 0, pingIntervalMs: 60_000 });
    const got: number[] = [];
    const gaps: string[] = [];
    sub.on('update', (m) => got.push(m.seq));
    sub.on('gap', (g) => gaps.push(g.reason));
    sub.open();
    const deliver = (msg: object) => sockets[0]!.onmessage!({ data: JSON.stringify(msg) });
    const win = (type: string, seq: number, prevSeq: number) => ({ type, matchId: 'm', seq, prevSeq, epoch: 'e1', windowStart: 0, windowEnd: 2000, counts: {}, units: {}, total: 1, sentiment: 0, viewers: 1 });
    deliver(win('snapshot', 10, 9));
    deliver({ type: 'gap', matchId: 'm', epoch: 'e1', since: 10, reason: 'since-ahead' });
    deliver(win('snapshot', 3, 2));
    deliver(win('update', 4, 3));
    expect(got).toEqual([10, 3, 4]);
    expect(gaps).toEqual(['since-ahead']);
    sub.close();
  });
});
