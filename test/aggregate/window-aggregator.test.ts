import { describe, expect, it } from 'vitest';
import { WindowAggregator, type DropReason } from '../../src/aggregate/window-aggregator.js';
import { windowStartFor } from '../../src/domain/windows.js';
import type { Reaction } from '../../src/domain/types.js';
import { catalog } from '../../helpers/fixtures.js';

const rules = { windowMs: 2000, graceMs: 500, unitScale: 1000, topN: 8, tsToleranceMs: 250 };
const r = (matchId: string, emoji: string, ts: number): Reaction => ({ matchId, userId: 'u', emoji, ts, receivedAt: ts });

function make() {
  const drops: Array<[DropReason, Reaction]> = [];
  const agg = new WindowAggregator(catalog, rules, (reason, x) => drops.push([reason, x]));
  return { agg, drops };
}

describe('windows', () => {
  it('aligns tumbling windows to the epoch', () => {
    expect(windowStartFor(1999, 2000)).toBe(0);
    expect(windowStartFor(2000, 2000)).toBe(2000);
    expect(windowStartFor(1_700_000_001_234, 2000)).toBe(1_700_000_000_000);
  });
});

describe('WindowAggregator', () => {
  it('closes a window once stream time passes end + grace, not before', () => {
    const { agg } = make();
    agg.process(r('m', '🔥', 10_100));
    agg.process(r('m', '🔥', 11_999));
    agg.process(r('m', '😂', 12_499)); // next window; stream time 12_499 < 12_000 + 500
    expect(agg.takeOutput()).toEqual([]);
    agg.process(r('m', '😂', 12_500)); // reaches end + grace of [10_000, 12_000)
    const out = agg.takeOutput();
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ matchId: 'm', windowStart: 10_000, windowEnd: 12_000, counts: { '🔥': 2 }, total: 2 });
  });

  it('keeps matches apart and emits windows in order', () => {
    const { agg } = make();
    agg.process(r('a', '🔥', 0));
    agg.process(r('b', '😢', 1));
    agg.process(r('a', '🔥', 2000));
    agg.process(r('a', '👍', 9000));
    const out = agg.takeOutput();
    expect(out.map((o) => [o.matchId, o.windowStart, o.total])).toEqual([
      ['a', 0, 1],
      ['a', 2000, 1],
      ['b', 0, 1],
    ]);
  });

  it('drops and reports late reactions after their window closed', () => {
    const { agg, drops } = make();
    agg.process(r('m', '🔥', 0));
    agg.process(r('m', '🔥', 2600)); // closes [0, 2000)
    agg.process(r('m', '😂', 1500)); // late
    expect(drops.map(([reason, x]) => [reason, x.ts])).toEqual([['late', 1500]]);
    expect(agg.takeOutput()[0]!.total).toBe(1);
  });

  it('accepts out-of-order reactions within the grace period', () => {
    const { agg, drops } = make();
    agg.process(r('m', '🔥', 1000));
    agg.process(r('m', '🔥', 2300)); // stream time 2300 < 2500
    agg.process(r('m', '😂', 1999)); // still counts for [0, 2000)
    agg.punctuate(2500);
    expect(drops).toEqual([]);
    expect(agg.takeOutput()[0]!.counts).toEqual({ '🔥': 1, '😂': 1 });
  });

  it('closes quiet matches by the wall clock at end + grace', () => {
    const { agg } = make();
    agg.process(r('m', '🎉', 4100));
    agg.punctuate(6499);
    expect(agg.takeOutput()).toEqual([]);
    agg.punctuate(6500);
    expect(agg.takeOutput().map((o) => o.windowStart)).toEqual([4000]);
    // Once closed by the wall clock, a straggler for it is late, not a second emission.
    agg.process(r('m', '🎉', 5999));
    agg.punctuate(100_000);
    expect(agg.takeOutput()).toEqual([]);
  });

  it('restores open windows from a snapshot and carries on exactly', () => {
    const { agg } = make();
    agg.process(r('m', '🔥', 100));
    agg.process(r('m', '🔥', 200));
    const snap = JSON.parse(JSON.stringify(agg.snapshot()));
    const { agg: again } = make();
    again.restore(snap);
    again.process(r('m', '😂', 300));
    again.punctuate(10_000);
    expect(again.takeOutput()[0]!.counts).toEqual({ '🔥': 2, '😂': 1 });
  });

  it('ignores emojis outside the catalog (reported as unknown-emoji)', () => {
    const { agg, drops } = make();
    agg.process(r('m', '🦄', 100));
    expect(drops[0]![0]).toBe('unknown-emoji');
    expect(agg.openWindows).toBe(0);
  });
});
