import type { WeightedSampler } from './distribution.js';
import type { Random } from './rng.js';
import { intensityAt, type Moment } from './schedule.js';

export interface PlannerOptions {
  /** Baseline reactions per second, the whole crowd together. */
  baseRatePerSec: number;
  schedule: readonly Moment[];
  baseline: WeightedSampler<string>;
  random: Random;
}

/**
 * Turns rates into reactions tick by tick: how many are due in (t - dt, t] (fractions carried over,
 * so a low rate still sends its share) and which emoji each one is: the baseline Zipf mix, plus the
 * spiking emoji of any live moment in proportion to its extra rate. Pure given `random`.
 */
export class ReactionPlanner {
  #carry = 0;

  constructor(private readonly o: PlannerOptions) {
    if (!(o.baseRatePerSec >= 0)) throw new RangeError('baseRatePerSec must be >= 0');
  }

  /** The emojis due over the `dtMs` ending at `tMs` (ms since the run started). */
  next(tMs: number, dtMs: number): string[] {
    const { multiplier, spikes } = intensityAt(this.o.schedule, tMs);
    const expected = (this.o.baseRatePerSec * multiplier * Math.max(0, dtMs)) / 1000 + this.#carry;
    const n = Math.floor(expected + 1e-9); // 0.35 x 200 ticks is 69.999…: count it as 70
    this.#carry = Math.max(0, expected - n);
    const out = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      let u = this.o.random() * multiplier - 1;
      let emoji: string | undefined;
      for (const s of spikes) {
        if (u < 0) break;
        if ((u -= s.extra) < 0) emoji = s.emoji;
      }
      out[i] = emoji ?? this.o.baseline.sample(this.o.random);
    }
    return out;
  }
}
