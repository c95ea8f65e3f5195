import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createRedisClient, describeRedisTarget } from '../../src/adapters/redis/redis-client.js';

// Only the options ioredis is given are checked here (lazyConnect: nothing connects); the clients'
// behaviour through a real failover is the cluster tier's (test/cluster/redis-failover.cluster.test.ts).
describe('Redis client factory', () => {
  it('connects straight to REDIS_URL when no Sentinels are configured', () => {
    const c = createRedisClient({ url: 'redis://127.0.0.1:6390/2' }, { lazyConnect: true });
    expect(c.options.sentinels).toBeFalsy();
    expect(c.options.port).toBe(6390);
    expect(c.options.db).toBe(2);
    c.disconnect();
  });

  it('asks the Sentinels for the primary; the URL gives only credentials, db and TLS', () => {
    const c = createRedisClient(
      { url: 'rediss://app:s%3Acret@ignored:1/3', sentinels: ['10.0.0.1:26379', 'sentinel-b:26380'], sentinelName: 'bus' },
      { lazyConnect: true, maxRetriesPerRequest: 2 },
    );
    expect(c.options.sentinels).toEqual([{ host: '10.0.0.1', port: 26379 }, { host: 'sentinel-b', port: 26380 }]);
    expect(c.options.name).toBe('bus');
    expect(c.options.role).toBe('master');
    expect(c.options.failoverDetector).toBe(true);
    expect(c.options.db).toBe(3);
    expect(c.options.username).toBe('app');
    expect(c.options.password).toBe('s:cret');
    expect(c.options.enableTLSForSentinelMode).toBe(true);
    expect(c.options.maxRetriesPerRequest).toBe(2);
    c.disconnect();
    expect(describeRedisTarget({ url: 'redis://x', sentinels: ['a:1'], sentinelName: 'bus' })).toBe("primary 'bus' via Sentinels a:1");
  });

  it('reads REDIS_SENTINELS and REDIS_SENTINEL_NAME, and names a malformed entry', () => {
    const c = loadConfig({ REDIS_SENTINELS: '127.0.0.1:31381, 127.0.0.1:31382', REDIS_SENTINEL_NAME: 'emo' });
    expect(c.redis.sentinels).toEqual(['127.0.0.1:31381', '127.0.0.1:31382']);
    expect(c.redis.sentinelName).toBe('emo');
    expect(loadConfig({}).redis.sentinels).toEqual([]);
    expect(() => loadConfig({ REDIS_SENTINELS: '127.0.0.1' })).toThrow(/REDIS_SENTINELS entry "127.0.0.1" must be host:port/);
  });
});
