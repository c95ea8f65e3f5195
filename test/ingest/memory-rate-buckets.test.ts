import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../helpers/manual-clock.js';
import { MemoryRateBuckets } from '../../src/adapters/memory/memory-rate-buckets.js';
import { rateBucketsContract } from './rate-buckets-suite.js';

rateBucketsContract('memory', async () => ({ make: async (limits) => new MemoryRateBuckets(limits, new ManualClock(1_000)) }));

describe('MemoryRateBuckets', () => {
  it('refills at the rate on the injected clock, never past the burst', async () => {
    const clock = new ManualClock(0);
    const b = new MemoryRateBuckets({ ratePerSec: 2, burst: 4 }, clock);
    expect(await b.take([['k', 4]])).toBe(0);
    expect(await b.take([['k', 1]])).toBe(1);
    clock.advance(500);
    expect(await b.take([['k', 1]])).toBe(0);
    clock.advance(60_000);
    expect(await b.take([['k', 5]])).toBeGreaterThan(0);
    expect(await b.take([['k', 4]])).toBe(0);
  });
});
