import { describe, expect, it } from 'vitest';
import { baselineSampler, WeightedSampler, zipfWeights } from '../../src/crowd/distribution.js';
import { seededRandom } from '../../src/crowd/rng.js';

describe('zipf distribution', () => {
  it('weights fall as 1/(k+1)^s', () => {
    expect(zipfWeights(4, 1)).toEqual([1, 1 / 2, 1 / 3, 1 / 4]);
    expect(zipfWeights(0)).toEqual([]);
    expect(() => zipfWeights(-1)).toThrow(RangeError);
  });

  it('picks by cumulative weight at the slot boundaries', () => {
    const s = new WeightedSampler(['a', 'b', 'c'], [1, 2, 1]);
    expect(s.pick(0)).toBe('a');
    expect(s.pick(0.2499)).toBe('a');
    expect(s.pick(0.25)).toBe('b');
    expect(s.pick(0.7499)).toBe('b');
    expect(s.pick(0.75)).toBe('c');
    expect(s.pick(0.999999)).toBe('c');
    expect(new WeightedSampler(['x', 'y'], [0, 1]).pick(0)).toBe('y'); // zero weight never drawn
  });

  it('rejects bad weights', () => {
    expect(() => new WeightedSampler(['a'], [1, 2])).toThrow(RangeError);
    expect(() => new WeightedSampler(['a'], [-1])).toThrow(RangeError);
    expect(() => new WeightedSampler(['a', 'b'], [0, 0])).toThrow(RangeError);
    expect(() => new WeightedSampler(['a'], [Number.NaN])).toThrow(RangeError);
  });

  it('samples follow the Zipf head: frequencies match probabilities and fall with rank', () => {
    const emojis = ['🔥', '😂', '😍', '👏', '🎉', '❤️', '👍', '😮'];
    const s = baselineSampler(emojis);
    const random = seededRandom(42);
    const n = 40_000;
    const seen = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const e = s.sample(random);
      seen.set(e, (seen.get(e) ?? 0) + 1);
    }
    const probs = s.probabilities();
    expect(probs.reduce((a, [, p]) => a + p, 0)).toBeCloseTo(1, 12);
    for (const [e, p] of probs) expect(Math.abs((seen.get(e) ?? 0) / n - p)).toBeLessThan(0.01);
    for (let k = 1; k < probs.length; k++) expect(probs[k]![1]).toBeLessThan(probs[k - 1]![1]);
    expect(probs[0]![1]).toBeGreaterThan(0.25); // the head dominates
  });

  it('a seed repeats the same draws', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });
});
