import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LiveUpdate, WindowAggregate } from '../../src/domain/types.js';
import type { FanoutBus } from '../../src/ports/bus.js';

export interface BusFactory {
  /** A fresh bus with its own namespace and history size; `peer` makes a second node's bus on the same backend. */
  create(opts: { historySize: number; namespace: string }): Promise<FanoutBus>;
  /** Waits until the backend delivered what was published (Redis pub/sub is asynchronous). */
  settle(): Promise<void>;
}

let counter = 0;
export function agg(matchId: string, seq: number, total = 1): WindowAggregate & { seq: number } {
  return { matchId, seq, windowStart: seq * 2000, windowEnd: seq * 2000 + 2000, counts: { '🔥': total }, units: { '🔥': 1 }, total, sentiment: 0.8 };
}

/** One suite, every adapter: the in-memory bus and the Redis bus must behave the same. */
export function busContract(name: string, factory: BusFactory): void {
  describe(`FanoutBus contract: ${name}`, () => {
    const buses: FanoutBus[] = [];
    let ns = '';
    beforeEach(() => {
      ns = `t${process.pid}-${Date.now()}-${counter++}`;
    });
    afterEach(async () => {
      await Promise.all(buses.splice(0).map((b) => b.close()));
    });
    const make = async (historySize = 100) => {
      const b = await factory.create({ historySize, namespace: ns });
      buses.push(b);
      return b;
    };

    it('delivers published updates to subscribers of that match only, with seq, prevSeq and epoch', async () => {
      const bus = await make();
      const got: LiveUpdate[] = [];
      const other: LiveUpdate[] = [];
      await bus.subscribe('m1', (u) => got.push(u));
      await bus.subscribe('m2', (u) => other.push(u));
      await bus.publish(agg('m1', 10));
      await bus.publish(agg('m1', 12));
      await factory.settle();
      const epoch = await bus.epoch();
      expect(got.map((u) => [u.seq, u.prevSeq, u.epoch])).toEqual([
        [10, -1, epoch],
        [12, 10, epoch],
      ]);
      expect(other).toEqual([]);
      expect(got[1]).toMatchObject({ counts: { '🔥': 1 }, total: 1, windowStart: 24_000 });
    });

    it('dedupes by (matchId, seq): a replayed or older aggregate is not published again', async () => {
      const bus = await make();
      const got: number[] = [];
      await bus.subscribe('m', (u) => got.push(u.seq));
      expect(await bus.publish(agg('m', 5))).not.toBeNull();
      expect(await bus.publish(agg('m', 5, 99))).toBeNull();
      expect(await bus.publish(agg('m', 4))).toBeNull();
      expect(await bus.publish(agg('m', 6))).not.toBeNull();
      await factory.settle();
      expect(got).toEqual([5, 6]);
      expect((await bus.latest('m'))!.seq).toBe(6);
    });

    it('replays what a client missed, in order, and nothing when it is up to date', async () => {
      const bus = await make();
      for (const s of [1, 2, 4, 7]) await bus.publish(agg('m', s));
      const epoch = await bus.epoch();
      const r = await bus.replay('m', 2, epoch);
      expect(r.kind === 'replay' && r.updates.map((u) => u.seq)).toEqual([4, 7]);
      const none = await bus.replay('m', 7, epoch);
      expect(none).toEqual({ kind: 'replay', updates: [] });
    });

    it('says when the bounded history no longer reaches back (history-trimmed)', async () => {
      const bus = await make(3);
      for (const s of [1, 2, 3, 4, 5]) await bus.publish(agg('m', s));
      const epoch = await bus.epoch();
      const r = await bus.replay('m', 1, epoch);
      expect(r.kind).toBe('gap');
      expect(r.kind === 'gap' && [r.reason, r.latest?.seq]).toEqual(['history-trimmed', 5]);
      const ok = await bus.replay('m', 2, epoch);
      expect(ok.kind === 'replay' && ok.updates.map((u) => u.seq)).toEqual([3, 4, 5]);
    });

    it('says when the epoch differs (epoch-changed)', async () => {
      const bus = await make();
      await bus.publish(agg('m', 1));
      const r = await bus.replay('m', 0, 'some-other-epoch');
      expect(r.kind === 'gap' && r.reason).toBe('epoch-changed');
    });

    it('stops delivering after unsubscribe', async () => {
      const bus = await make();
      const got: number[] = [];
      const l = (u: LiveUpdate) => got.push(u.seq);
      await bus.subscribe('m', l);
      await bus.publish(agg('m', 1));
      await factory.settle();
      await bus.unsubscribe('m', l);
      await bus.publish(agg('m', 2));
      await factory.settle();
      expect(got).toEqual([1]);
    });

    it('sums presence over nodes and forgets a node that reports zero', async () => {
      const bus = await make();
      await bus.setPresence('node-a', 'm', 3);
      await bus.setPresence('node-b', 'm', 4);
      expect(await bus.viewers('m')).toBe(7);
      await bus.setPresence('node-a', 'm', 0);
      expect(await bus.viewers('m')).toBe(4);
      expect(await bus.viewers('other')).toBe(0);
    });
  });
}
