import { LRUCache } from 'lru-cache';
import type { Clock } from '../../ports/clock.js';
import type { BucketCost, BucketLimits, RateBuckets } from '../../ports/rate-buckets.js';
import type { Config } from '../../config/config.js';

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
    // Refilled in place before anything is taken: a refill is the same whenever it is applied, so a
    // request refused here leaves the buckets as they would be anyway. No object per request.
    const buckets: Bucket[] = new Array(costs.length);
    for (let i = 0; i < costs.length; i++) {
      const [key, cost] = costs[i]!;
      if (cost > burst) return Math.ceil(cost / ratePerSec);
      const b = this.#bucket(key, now);
      if (b.tokens < cost) waitSec = Math.max(waitSec, Math.ceil((cost - b.tokens) / ratePerSec));
      buckets[i] = b;
    }
    if (waitSec > 0) return waitSec;
    for (let i = 0; i < costs.length; i++) buckets[i]!.tokens -= costs[i]![1];
    return 0;
  }

  async refund(costs: readonly BucketCost[]): Promise<void> {
    const now = this.clock.now();
    for (const [key, cost] of costs) {
      const b = this.#bucket(key, now);
      b.tokens = Math.min(this.limits.burst, b.tokens + cost);
    }
  }

  /** The key's bucket refilled to `now` (a new key's starts full). */
  #bucket(key: string, now: number): Bucket {
    const b = this.#buckets.get(key);
    if (!b) {
      const fresh = { tokens: this.limits.burst, at: now };
      this.#buckets.set(key, fresh);
      return fresh;
    }
    const elapsed = Math.max(0, now - b.at) / 1000;
    b.tokens = Math.min(this.limits.burst, b.tokens + elapsed * this.limits.ratePerSec);
    b.at = Math.max(b.at, now);
    return b;
  }
}

/** Rate-limit buckets in this process (RATE_LIMIT_STORE=memory): per client and per user, as the config sets them. */
export function localRateLimits(ingest: Pick<Config['ingest'], 'clientRatePerSec' | 'clientBurst' | 'userRatePerSec' | 'userBurst'>, clock: Clock): { client: RateBuckets; user: RateBuckets } {
  return {
    client: new MemoryRateBuckets({ ratePerSec: ingest.clientRatePerSec, burst: ingest.clientBurst }, clock),
    user: new MemoryRateBuckets({ ratePerSec: ingest.userRatePerSec, burst: ingest.userBurst }, clock),
  };
}
