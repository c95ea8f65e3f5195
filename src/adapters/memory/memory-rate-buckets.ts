import { LRUCache } from 'lru-cache';
import type { Clock } from '../../ports/clock.js';
import type { BucketCost, BucketLimits, RateBuckets } from '../../ports/rate-buckets.js';

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets in this process: `ratePerSec` sustained, `burst` at once, on the injected clock.
 * The LRU bounds memory under a flood of keys (a forgotten key starts full again).
 */
export class MemoryRateBuckets implements RateBuckets {
  readonly #buckets: LRUCache<string, Bucket>;

  constructor(
    private readonly limits: BucketLimits & { maxKeys?: number },
    private readonly clock: Clock,
  ) {
    this.#buckets = new LRUCache({ max: limits.maxKeys ?? 1_000_000 });
  }

  async take(costs: readonly BucketCost[]): Promise<number> {
    return this.takeNow(costs);
  }

  /** The synchronous core of take(), for the insurance role beside a shared store. */
  takeNow(costs: readonly BucketCost[]): number {
    const now = this.clock.now();
    const { burst, ratePerSec } = this.limits;
    let waitSec = 0;
    const refilled: Array<[string, Bucket, number]> = [];
    for (const [key, cost] of costs) {
      if (cost > burst) return Math.ceil(cost / ratePerSec);
      const b = this.#refill(this.#buckets.get(key), now);
      if (b.tokens < cost) waitSec = Math.max(waitSec, Math.ceil((cost - b.tokens) / ratePerSec));
      refilled.push([key, b, cost]);
    }
    if (waitSec > 0) return waitSec;
    for (const [key, b, cost] of refilled) this.#buckets.set(key, { tokens: b.tokens - cost, at: b.at });
    return 0;
  }

  async refund(costs: readonly BucketCost[]): Promise<void> {
    const now = this.clock.now();
    for (const [key, cost] of costs) {
      const b = this.#refill(this.#buckets.get(key), now);
      this.#buckets.set(key, { tokens: Math.min(this.limits.burst, b.tokens + cost), at: b.at });
    }
  }

  #refill(b: Bucket | undefined, now: number): Bucket {
    if (!b) return { tokens: this.limits.burst, at: now };
    const elapsed = Math.max(0, now - b.at) / 1000;
    return { tokens: Math.min(this.limits.burst, b.tokens + elapsed * this.limits.ratePerSec), at: now };
  }
}
