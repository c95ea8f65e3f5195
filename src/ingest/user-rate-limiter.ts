import { LRUCache } from 'lru-cache';
import type { Clock } from '../domain/clock.js';

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token bucket per user: `ratePerSec` sustained, `burst` at once. A batch spends one token per
 * reaction and is taken whole or not at all. The LRU bounds memory under a flood of user ids.
 */
export class UserRateLimiter {
  readonly #buckets: LRUCache<string, Bucket>;

  constructor(
    private readonly opts: { ratePerSec: number; burst: number; maxUsers?: number },
    private readonly clock: Clock,
  ) {
    this.#buckets = new LRUCache({ max: opts.maxUsers ?? 1_000_000 });
  }

  /** Returns 0 when allowed (tokens spent), else the seconds to wait before the whole request fits. */
  take(costByUser: Map<string, number>): number {
    const now = this.clock.now();
    let waitSec = 0;
    const refilled: Array<[string, Bucket, number]> = [];
    for (const [user, cost] of costByUser) {
      const b = this.#refill(this.#buckets.get(user), now);
      if (cost > this.opts.burst) return Math.ceil(cost / this.opts.ratePerSec);
      if (b.tokens < cost) waitSec = Math.max(waitSec, Math.ceil((cost - b.tokens) / this.opts.ratePerSec));
      refilled.push([user, b, cost]);
    }
    if (waitSec > 0) return waitSec;
    for (const [user, b, cost] of refilled) this.#buckets.set(user, { tokens: b.tokens - cost, at: b.at });
    return 0;
  }

  #refill(b: Bucket | undefined, now: number): Bucket {
    if (!b) return { tokens: this.opts.burst, at: now };
    const elapsed = Math.max(0, now - b.at) / 1000;
    return { tokens: Math.min(this.opts.burst, b.tokens + elapsed * this.opts.ratePerSec), at: now };
  }
}
