import type { Random } from './rng.js';

/**
 * Zipf-like popularity: the k-th emoji (0-based) weighs 1 / (k + 1)^s. Real reaction streams are
 * heavy-headed: a couple of emojis take most taps, the tail is long and thin.
 */
export function zipfWeights(n: number, s = 1.1): number[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  return Array.from({ length: n }, (_, k) => 1 / (k + 1) ** s);
}

/** Draws items by weight in O(log n): cumulative weights and a binary search. */
export class WeightedSampler<T> {
  readonly #items: T[];
  readonly #cumulative: number[];
  readonly total: number;

  constructor(items: readonly T[], weights: readonly number[]) {
    if (items.length !== weights.length) throw new RangeError('items and weights differ in length');
    this.#items = [...items];
    this.#cumulative = [];
    let sum = 0;
    for (const w of weights) {
      if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`weights must be finite and >= 0, got ${w}`);
      sum += w;
      this.#cumulative.push(sum);
    }
    if (!(sum > 0)) throw new RangeError('at least one weight must be > 0');
    this.total = sum;
  }

  /** The item whose cumulative slot holds `u * total`, u in [0, 1). */
  pick(u: number): T {
    const x = u * this.total;
    let lo = 0;
    let hi = this.#cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#cumulative[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return this.#items[lo]!;
  }

  sample(random: Random): T {
    return this.pick(random());
  }

  /** Each item's probability, in item order. */
  probabilities(): Array<[T, number]> {
    return this.#items.map((item, i) => [item, (this.#cumulative[i]! - (i > 0 ? this.#cumulative[i - 1]! : 0)) / this.total]);
  }
}

/**
 * The baseline mix: emojis in the given popularity order (most popular first) with Zipf weights.
 * The catalog's order is a reasonable popularity order: upbeat reactions first.
 */
export function baselineSampler(emojis: readonly string[], s = 1.1): WeightedSampler<string> {
  return new WeightedSampler(emojis, zipfWeights(emojis.length, s));
}
