import { describe, expect, it } from 'vitest';
import { scoreMoments } from '../../src/archive/moments.js';

const W = 2000;
const series = (totals: number[]) => totals.map((total, i) => ({ windowStart: 1_000_000 + i * W, total }));

describe('moments: robust z-score over a trailing median/MAD baseline', () => {
  it('finds the bursts, one moment per burst (its peak), ranked by score', () => {
    const totals = Array.from({ length: 600 }, (_, i) => 100 + ((i * 37) % 21) - 10); // 90..110
    totals[200] = 400; totals[201] = 600; totals[202] = 300; // a wicket: three windows, peak at 201
    totals[450] = 350; // a six
    const m = scoreMoments(series(totals), { windowMs: W, top: 5 });
    expect(m.map((x) => (x.windowStart - 1_000_000) / W)).toEqual([201, 450]);
    expect(m[0]!.baseline).toBeGreaterThanOrEqual(90);
    expect(m[0]!.baseline).toBeLessThanOrEqual(110);
    expect(m[0]!.score).toBeGreaterThan(m[1]!.score);
  });

  it("judges a window against the match's own recent past: the same burst size stands out in a quiet stretch, not in a loud one", () => {
    const totals = [...Array.from({ length: 300 }, () => 50), ...Array.from({ length: 300 }, (_, i) => 1000 + (i % 2) * 200)];
    totals[100] = 300; // 6x the quiet baseline
    totals[500] = 1300; // within the loud stretch's normal swing
    const m = scoreMoments(series(totals), { windowMs: W, top: 10 });
    const at = m.map((x) => (x.windowStart - 1_000_000) / W);
    expect(at).toContain(100);
    expect(at).not.toContain(500);
  });

  it('counts a missing (quiet) window as 0, needs some history, and respects top', () => {
    const s = series(Array.from({ length: 100 }, () => 20)).filter((_, i) => i % 10 !== 5);
    s.push({ windowStart: 1_000_000 + 100 * W, total: 500 });
    const m = scoreMoments(s, { windowMs: W, top: 1 });
    expect(m).toHaveLength(1);
    expect(m[0]!.windowStart).toBe(1_000_000 + 100 * W);
    expect(m[0]!.baseline).toBe(20);
    expect(scoreMoments(series([1, 1, 900]), { windowMs: W, top: 3 })).toEqual([]);
    expect(scoreMoments([], { windowMs: W, top: 3 })).toEqual([]);
  });

  it('is not fooled by a steady baseline whose MAD is 0 (Poisson floor)', () => {
    const totals = Array.from({ length: 200 }, () => 100);
    totals[150] = 115; // +1.5 sqrt(100): noise
    totals[180] = 160; // +6 sqrt(100)
    const m = scoreMoments(series(totals), { windowMs: W, top: 5 });
    expect(m.map((x) => (x.windowStart - 1_000_000) / W)).toEqual([180]);
    expect(m[0]!.score).toBeCloseTo(6, 10);
  });
});
