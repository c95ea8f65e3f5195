import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, it, vi } from 'vitest';
import { RedisRateBuckets } from '../../src/adapters/redis/redis-rate-buckets.js';
import { createSharedRateLimits } from '../../src/roles/adapters.js';
import { ingestApp } from '../helpers/ingest-app.js';
import { silentLogger, testConfig } from '../../helpers/fixtures.js';
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

describe('API replicas with RATE_LIMIT_STORE=redis', () => {
  it('three replicas behind one address accept the per-client burst once, not three times; rotating userIds does not escape', async () => {
    const config = testConfig({ redis: { url: process.env.REDIS_URL!, keyPrefix: `test-api-${randomUUID().slice(0, 8)}:` }, ingest: { clientRatePerSec: 1, clientBurst: 500, userBurst: 500, rateLimitStore: 'redis' } });
    const replicas = await Promise.all([0, 1, 2].map(async () => {
      const limits = await createSharedRateLimits(config, silentLogger);
      const t = await ingestApp({ capacity: 100_000, config, limits });
      return { ...t, closeLimits: limits.close };
    }));
    try {
      let accepted = 0;
      for (let i = 0; i < 30; i++) {
        const replica = replicas[i % 3]!;
        const reactions = Array.from({ length: 50 }, (_, j) => ({ matchId: 'm', userId: `rot-${i}-${j}`, emoji: '🔥' }));
        const res = await replica.app.inject({ method: 'POST', url: '/v1/reactions/batch', payload: { reactions }, remoteAddress: '203.0.113.7' });
        if (res.statusCode === 202) accepted += 50;
        else expect(res.json()).toMatchObject({ code: 'EMO_ERR_RATE_LIMITED', message: 'Too many reactions from this client' });
      }
      expect(accepted).toBe(500);
    } finally {
      for (const r of replicas) {
        await r.app.close();
        await r.closeLimits();
      }
    }
  });
});

describe('shared rate limits when ioredis gives their client up', () => {
  it('replace a client that ended, so two replicas share one bucket again instead of each limiting alone', async () => {
    const config = testConfig({ redis: { url: process.env.REDIS_URL!, keyPrefix: `test-end-${randomUUID().slice(0, 8)}:` }, ingest: { clientRatePerSec: 1, clientBurst: 40, maxBatch: 40, rateLimitStore: 'redis' } });
    const replicas = await Promise.all([0, 1].map(() => createSharedRateLimits(config, silentLogger)));
    try {
      // What ioredis does after a connect failure inside its Sentinel connector, or when Redis is
      // unreachable as the client starts: status `end`. disconnect() takes it there the same way.
      const old = replicas[0]!.connection();
      old.disconnect();
      await vi.waitFor(() => expect(old.status).toBe('end'));
      await vi.waitFor(() => expect(replicas[0]!.connection()).not.toBe(old), { timeout: 10_000 });
      await vi.waitFor(() => expect(replicas[0]!.connection().status).toBe('ready'), { timeout: 10_000 });
      let granted = 0;
      for (let i = 0; i < 30; i++) {
        for (const r of replicas) if ((await r.client.take([['ip:198.51.100.9', 1]])) === 0) granted++;
      }
      // Each replica limiting on its own would grant 30 + 30; one shared bucket grants its burst.
      expect(granted).toBe(40);
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
    }
  });
});
