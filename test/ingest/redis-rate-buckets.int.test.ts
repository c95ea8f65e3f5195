import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisRateBuckets } from '../../src/ingest/redis-rate-buckets.js';
import { silentLogger } from '../helpers/fixtures.js';
import { rateBucketsContract } from './rate-buckets-suite.js';

// The same contract as the memory buckets, on the real Redis that scripts/infra starts.
rateBucketsContract('redis', async () => {
  const redis = new Redis(process.env.REDIS_URL!, { enableOfflineQueue: false, lazyConnect: true });
  await redis.connect();
  return {
    make: async (limits) => new RedisRateBuckets(redis, { ...limits, keyPrefix: `test-rl:${randomUUID()}`, logger: silentLogger }),
    close: async () => {
      redis.disconnect();
    },
  };
});

describe('RedisRateBuckets', () => {
  it('two replicas share one bucket: together they get the burst once, not twice', async () => {
    const prefix = `test-rl:${randomUUID()}`;
    const clients = [new Redis(process.env.REDIS_URL!, { lazyConnect: true }), new Redis(process.env.REDIS_URL!, { lazyConnect: true })];
    await Promise.all(clients.map((c) => c.connect()));
    try {
      const replicas = clients.map((c) => new RedisRateBuckets(c, { ratePerSec: 1, burst: 50, keyPrefix: prefix, logger: silentLogger }));
      let granted = 0;
      await Promise.all(replicas.map(async (b) => {
        for (let i = 0; i < 40; i++) if ((await b.take([['ip:10.0.0.1', 1]])) === 0) granted++;
      }));
      expect(granted).toBe(50);
    } finally {
      for (const c of clients) c.disconnect();
    }
  });

  it('with Redis unreachable it limits locally instead of failing the request', async () => {
    // A port nothing listens on: the client is never ready, so the insurance limiter decides.
    const redis = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => {});
    const b = new RedisRateBuckets(redis, { ratePerSec: 1, burst: 3, keyPrefix: `test-rl:${randomUUID()}`, logger: silentLogger });
    expect(await b.take([['k', 3]])).toBe(0);
    expect(await b.take([['k', 1]])).toBeGreaterThan(0);
    redis.disconnect();
  });
});
