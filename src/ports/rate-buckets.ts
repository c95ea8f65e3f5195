/** One bucket's share of a request: `cost` tokens from the bucket named `key`. */
export type BucketCost = readonly [key: string, cost: number];

/**
 * The rate-limit port: named buckets of one rate and burst. Two adapters: memory (one process,
 * token buckets on the injected clock) and Redis (shared by every API replica).
 */
export interface RateBuckets {
  /** Takes every cost, all or nothing. Resolves 0 when taken, else the seconds until the whole request fits. */
  take(costs: readonly BucketCost[]): Promise<number>;
  /** Gives back what a take spent, for a request that was then refused (the log was full or down). */
  refund(costs: readonly BucketCost[]): Promise<void>;
}

export interface BucketLimits {
  /** Sustained tokens per second. */
  ratePerSec: number;
  /** Tokens one bucket can spend at once. */
  burst: number;
}
