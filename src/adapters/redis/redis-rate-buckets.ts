import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { BucketCost, BucketLimits, RateBuckets } from '../../ports/rate-buckets.js';

/**
 * Buckets shared by every API replica, in Redis (rate-limiter-flexible). Its limiter counts
 * tokens in fixed windows of burst / rate seconds: the same sustained rate as the memory token
 * bucket, with up to two bursts back to back across a window boundary.
 *
 * While Redis is away each replica falls back to a local limiter of the same shape (insurance):
 * limits then hold per replica instead of across them, and no request fails because of the limiter.
 */
export class RedisRateBuckets implements RateBuckets {
  #limiter: RateLimiterRedis;
  readonly #logger: Logger;
  readonly #o: BucketLimits & { keyPrefix: string };
  readonly #insurance: RateLimiterMemory;

  constructor(redis: Redis, o: BucketLimits & { keyPrefix: string; logger: Logger }) {
    this.#o = o;
    this.#logger = o.logger;
    this.#insurance = new RateLimiterMemory({ keyPrefix: `${o.keyPrefix}:local`, points: o.burst, duration: this.#duration() });
    this.#limiter = this.#limiterOn(redis);
  }

  /** Moves the buckets to another client (one that replaced a client ioredis gave up). */
  use(redis: Redis): void {
    this.#limiter = this.#limiterOn(redis);
  }

  #duration(): number {
    return Math.max(1, Math.ceil(this.#o.burst / this.#o.ratePerSec));
  }

  #limiterOn(redis: Redis): RateLimiterRedis {
    return new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: this.#o.keyPrefix,
      points: this.#o.burst,
      duration: this.#duration(),
      // Do not queue behind a reconnecting client: decide locally at once.
      rejectIfRedisNotReady: true,
      insuranceLimiter: this.#insurance,
    });
  }

  async take(costs: readonly BucketCost[]): Promise<number> {
    const taken: BucketCost[] = [];
    for (const [key, cost] of costs) {
      try {
        await this.#limiter.consume(key, cost);
        taken.push([key, cost]);
      } catch (rej) {
        // A refused consume still counted its points: give them back with the rest of the request.
        if (rej instanceof RateLimiterRes) {
          await this.refund([...taken, [key, cost]]);
          return Math.max(1, Math.ceil(rej.msBeforeNext / 1000));
        }
        // Neither Redis nor the insurance limiter answered: let the request through rather than fail it.
        this.#logger.warn({ err: rej }, 'rate limiter unavailable; request not limited');
        taken.push([key, cost]);
      }
    }
    return 0;
  }

  async refund(costs: readonly BucketCost[]): Promise<void> {
    await Promise.all(
      costs.map(([key, cost]) => this.#limiter.reward(key, cost).catch((err: unknown) => this.#logger.warn({ err, key }, 'rate limit refund failed'))),
    );
  }
}
