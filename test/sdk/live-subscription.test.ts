import { describe, expect, it } from 'vitest';
import { LiveSubscription } from '../../packages/sdk/src/live-subscription.js';
import type { GapMessage, LiveMessage, WebSocketLike } from '../../packages/sdk/src/types.js';

// A scripted socket: the SDK's hole detection is client logic, tested here message by message
// (the fan-out side and a real bus are exercised in test/fanout/bus-gap.int.test.ts).
class ScriptedSocket implements WebSocketLike {
  static opened: ScriptedSocket[] = [];
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  constructor(readonly url: string) {
    ScriptedSocket.opened.push(this);
    queueMicrotask(() => {
      this.readyState = 1;
      this.onopen?.({});
    });
  }
  send(): void {}
  close(code = 1000, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  deliver(msg: object): void {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
}

const update = (seq: number, prevSeq: number, epoch = 'e1', type: 'update' | 'snapshot' = 'update') => ({
  type, matchId: 'm', seq, prevSeq, epoch, windowStart: seq * 2000, windowEnd: seq * 2000 + 2000, counts: {}, units: {}, total: seq, sentiment: 0, viewers: 1,
});

async function subscription() {
  ScriptedSocket.opened = [];
  const sub = new LiveSubscription({ wsUrl: 'ws://x', matchId: 'm', WebSocket: ScriptedSocket, reconnectBaseMs: 1, reconnectMaxMs: 1, random: () => 0, pingIntervalMs: 60_000 });
  const got: LiveMessage[] = [];
  const gaps: GapMessage[] = [];
  sub.on('update', (m) => got.push(m));
  sub.on('gap', (g) => gaps.push(g));
  sub.open();
  await new Promise((r) => queueMicrotask(() => r(undefined)));
  return { sub, got, gaps, socket: () => ScriptedSocket.opened.at(-1)! };
}

describe('LiveSubscription: a hole in the feed is filled or told, never silent', () => {
  it('holds back an update that does not link to the last one and resumes from history', async () => {
    const { sub, got, gaps, socket } = await subscription();
    socket().deliver(update(10, -1, 'e1', 'snapshot'));
    socket().deliver(update(11, 10));
    socket().deliver(update(14, 13)); // 12 and 13 never arrived
    expect(got.map((m) => m.seq)).toEqual([10, 11]);
    expect(sub.holes).toBe(1);
    expect(ScriptedSocket.opened).toHaveLength(2);
    expect(socket().url).toContain('since=11&epoch=e1');
    await new Promise((r) => queueMicrotask(() => r(undefined)));
    // What the abandoned socket still had in flight is not taken (nor seen as another hole).
    ScriptedSocket.opened[0]!.deliver(update(15, 14));
    expect(ScriptedSocket.opened).toHaveLength(2);
    for (const [s, p] of [[12, 11], [13, 12], [14, 13]] as const) socket().deliver(update(s, p));
    expect(got.map((m) => m.seq)).toEqual([10, 11, 12, 13, 14]);
    expect(gaps).toEqual([]);
    sub.close();
  });

  it('a quiet window (prevSeq skips seqs but links to the last delivered) is no hole', async () => {
    const { sub, got, socket } = await subscription();
    socket().deliver(update(10, -1, 'e1', 'snapshot'));
    socket().deliver(update(15, 10));
    expect(got.map((m) => m.seq)).toEqual([10, 15]);
    expect(sub.holes).toBe(0);
    expect(ScriptedSocket.opened).toHaveLength(1);
    sub.close();
  });

  it('a new epoch on a live socket is told as an epoch-changed gap', async () => {
    const { sub, got, gaps, socket } = await subscription();
    socket().deliver(update(10, -1, 'e1', 'snapshot'));
    socket().deliver(update(3, -1, 'e2'));
    expect(gaps).toEqual([{ type: 'gap', matchId: 'm', epoch: 'e2', since: 10, reason: 'epoch-changed' }]);
    expect(got.map((m) => [m.seq, m.epoch])).toEqual([[10, 'e1'], [3, 'e2']]);
    sub.close();
  });

  it('a new epoch is checked from its first update: one seen mid-epoch resumes with since=-1', async () => {
    const { sub, got, gaps, socket } = await subscription();
    socket().deliver(update(10, -1, 'e1', 'snapshot'));
    // Updates 3 and 4 of the new epoch went by; 5 (prevSeq 4) is the first this socket sees.
    socket().deliver(update(5, 4, 'e2'));
    expect(gaps.map((g) => [g.reason, g.epoch])).toEqual([['epoch-changed', 'e2']]);
    expect(got.map((m) => m.seq)).toEqual([10]);
    expect(sub.holes).toBe(1);
    expect(ScriptedSocket.opened).toHaveLength(2);
    expect(socket().url).toContain('since=-1&epoch=e2');
    await new Promise((r) => queueMicrotask(() => r(undefined)));
    for (const [seq, prev] of [[3, -1], [4, 3], [5, 4]] as const) socket().deliver(update(seq, prev, 'e2'));
    expect(got.map((m) => [m.seq, m.epoch])).toEqual([[10, 'e1'], [3, 'e2'], [4, 'e2'], [5, 'e2']]);
    sub.close();
  });

  it('after an epoch-changed gap from the server, the new epoch still has to link from -1', async () => {
    const { sub, got, socket } = await subscription();
    socket().deliver(update(10, -1, 'e1', 'snapshot'));
    socket().deliver({ type: 'gap', matchId: 'm', epoch: 'e2', since: 10, reason: 'epoch-changed' });
    socket().deliver(update(3, -1, 'e2'));
    socket().deliver(update(4, 3, 'e2'));
    expect(got.map((m) => m.seq)).toEqual([10, 3, 4]);
    expect(sub.holes).toBe(0);
    socket().deliver({ type: 'gap', matchId: 'm', epoch: 'e3', since: 4, reason: 'epoch-changed' });
    socket().deliver(update(8, 7, 'e3'));
    expect(sub.holes).toBe(1);
    expect(got.map((m) => m.seq)).toEqual([10, 3, 4]);
    sub.close();
  });

  it('ignores an epoch-changed gap for the epoch it already joined (no resume, no replay twice)', async () => {
    const { sub, got, gaps, socket } = await subscription();
    socket().deliver(update(3, 2, 'e2', 'snapshot'));
    // Its room noticed the new epoch only now, after this viewer had joined inside it.
    socket().deliver({ type: 'gap', matchId: 'm', epoch: 'e2', since: 0, reason: 'epoch-changed' });
    socket().deliver(update(4, 3, 'e2'));
    expect(got.map((m) => m.seq)).toEqual([3, 4]);
    expect(gaps).toEqual([]);
    expect(ScriptedSocket.opened).toHaveLength(1);
    sub.close();
  });

  it('a resume that comes back with the same hole is told as a gap, not resumed again and again', async () => {
    const { sub, got, gaps, socket } = await subscription();
    socket().deliver(update(10, -1, 'e1', 'snapshot'));
    socket().deliver(update(14, 13));
    expect(ScriptedSocket.opened).toHaveLength(2);
    await new Promise((r) => queueMicrotask(() => r(undefined)));
    // The server's history starts past the hole without saying so (it cannot fill it either).
    socket().deliver(update(14, 13));
    expect(ScriptedSocket.opened).toHaveLength(2);
    expect(gaps.map((g) => [g.reason, g.since])).toEqual([['history-trimmed', 10]]);
    expect(got.map((m) => m.seq)).toEqual([10, 14]);
    // ...and the next hole resumes again.
    socket().deliver(update(20, 19));
    expect(sub.holes).toBe(2);
    sub.close();
  });

  it('after a gap the server told, the next update is taken without another resume', async () => {
    const { sub, got, gaps, socket } = await subscription();
    socket().deliver(update(10, -1, 'e1', 'snapshot'));
    socket().deliver({ type: 'gap', matchId: 'm', epoch: 'e1', since: 10, reason: 'history-trimmed' });
    socket().deliver(update(40, 39));
    expect(gaps.map((g) => g.reason)).toEqual(['history-trimmed']);
    expect(got.map((m) => m.seq)).toEqual([10, 40]);
    expect(ScriptedSocket.opened).toHaveLength(1);
    // ...and the hole check is armed again after it.
    socket().deliver(update(45, 44));
    expect(sub.holes).toBe(1);
    sub.close();
  });
});
