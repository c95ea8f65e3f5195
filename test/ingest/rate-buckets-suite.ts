import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RateBuckets } from '../../src/ports/rate-buckets.js';

export interface BucketsFixture {
  /** Fresh buckets (their own key space) of the given rate and burst. */
  make(limits: { ratePerSec: number; burst: number }): Promise<RateBuckets>;
  close?(): Promise<void>;
}

/** One contract for every RateBuckets adapter: memory and Redis run the same cases. */
export function rateBucketsContract(name: string, setup: () => Promise<BucketsFixture>): void {
  describe(`RateBuckets contract: ${name}`, () => {
    let fx: BucketsFixture;
    beforeAll(async () => {
      fx = await setup();
    });
    afterAll(async () => {
      await fx?.close?.();
    });

    it('takes up to the burst, then answers how long to wait', async () => {
      const b = await fx.make({ ratePerSec: 1, burst: 5 });
      expect(await b.take([['k', 3]])).toBe(0);
      expect(await b.take([['k', 2]])).toBe(0);
      expect(await b.take([['k', 1]])).toBeGreaterThanOrEqual(1);
    });

    it('keeps keys apart', async () => {
      const b = await fx.make({ ratePerSec: 1, burst: 2 });
      expect(await b.take([['a', 2]])).toBe(0);
      expect(await b.take([['b', 2]])).toBe(0);
      expect(await b.take([['a', 1]])).toBeGreaterThan(0);
    });

    it('is all or nothing across keys: a refused request spends no key', async () => {
      const b = await fx.make({ ratePerSec: 1, burst: 3 });
      expect(await b.take([['full', 3]])).toBe(0);
      expect(await b.take([['fresh', 2], ['full', 1]])).toBeGreaterThan(0);
      expect(await b.take([['fresh', 3]])).toBe(0);
    });

    it('a refused take leaves the bucket as it was', async () => {
      const b = await fx.make({ ratePerSec: 1, burst: 4 });
      expect(await b.take([['k', 3]])).toBe(0);
      expect(await b.take([['k', 2]])).toBeGreaterThan(0);
      expect(await b.take([['k', 1]])).toBe(0);
    });

    it('refund gives the tokens back', async () => {
      const b = await fx.make({ ratePerSec: 1, burst: 4 });
      expect(await b.take([['k', 4]])).toBe(0);
      await b.refund([['k', 4]]);
      expect(await b.take([['k', 4]])).toBe(0);
    });

    it('a cost above the burst never fits', async () => {
      const b = await fx.make({ ratePerSec: 10, burst: 5 });
      expect(await b.take([['k', 6]])).toBeGreaterThan(0);
      expect(await b.take([['k', 5]])).toBe(0);
    });
  });
}
