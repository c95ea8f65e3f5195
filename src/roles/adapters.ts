import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ConfluentSchemaRegistry } from '../adapters/confluent/confluent-registry.js';
import { MemorySchemaRegistry } from '../adapters/memory/memory-schema-registry.js';
import type { SchemaRegistry } from '../ports/schema-registry.js';
import type { Config } from '../config/config.js';
import type { FanoutBus } from '../ports/bus.js';
import { MemoryBus } from '../adapters/memory/memory-bus.js';
import { KafkaLog } from '../adapters/kafka/kafka-log.js';
import { MemoryLog } from '../adapters/memory/memory-log.js';
import type { Log, TopicSpec } from '../ports/log.js';
import type { WindowStateStore } from '../ports/window-state-store.js';
import type { RateBuckets } from '../ports/rate-buckets.js';
import type { Metrics } from '../metrics/metrics.js';
import type { WindowArchive } from '../ports/window-archive.js';

/** Picks each port's adapter from the configuration: memory (embedded) or the real service. */
export function createLog(config: Config, logger: Logger, metrics: Metrics): Log {
  if (config.adapters.log === 'kafka') {
    return new KafkaLog(
      config.kafka,
      logger.child({ adapter: 'kafka' }),
      (err) => metrics.deliveryErrors.inc({ code: String((err as { code?: unknown }).code ?? 'unknown') }),
      (kind) => metrics.recoveries.inc({ stage: 'log-producer', kind }),
    );
  }
  return new MemoryLog({ capacity: config.log.capacity, capacityBytes: config.log.capacityBytes, retryAfterSec: config.ingest.retryAfterSec, defaultPartitions: config.log.partitions });
}

export function createRegistry(config: Config): SchemaRegistry {
  return config.adapters.registry === 'confluent' ? new ConfluentSchemaRegistry(config.registryUrl) : new MemorySchemaRegistry();
}

export async function createBus(config: Config, logger: Logger): Promise<FanoutBus> {
  if (config.adapters.bus === 'redis') {
    const { RedisBus } = await import('../adapters/redis/redis-bus.js');
    const { url, sentinels, sentinelName } = config.redis;
    return RedisBus.connect({ url, sentinels, sentinelName, keyPrefix: config.redis.keyPrefix, historySize: config.fanout.historySize, presenceTtlSec: config.redis.presenceTtlSec, logger });
  }
  return new MemoryBus({ historySize: config.fanout.historySize, onListenerError: (err) => logger.error({ err }, 'listener failed') });
}

/**
 * Rate-limit buckets in Redis, shared by every API replica (RATE_LIMIT_STORE=redis). The client
 * fails fast while Redis is away (no offline queue), so each replica falls back to local buckets;
 * a client ioredis gives up (status `end`) is replaced, so the limits are shared again once Redis
 * is back, even when it was unreachable as the API started.
 */
export async function createSharedRateLimits(config: Config, logger: Logger): Promise<{ client: RateBuckets; user: RateBuckets; connection(): Redis; close(): Promise<void> }> {
  const [{ createRedisClient, replaceWhenEnded }, { RedisRateBuckets }] = await Promise.all([import('../adapters/redis/redis-client.js'), import('../adapters/redis/redis-rate-buckets.js')]);
  const log = logger.child({ stage: 'rate-limit' });
  // The same client factory as the bus, so the buckets follow a Sentinel failover too.
  const { url, sentinels, sentinelName } = config.redis;
  const open = (): Redis => {
    const c = createRedisClient({ url, sentinels, sentinelName }, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectionName: 'emostream-ratelimit', lazyConnect: true });
    c.on('error', (err) => log.debug({ err }, 'rate-limit redis'));
    return c;
  };
  let redis = open();
  let closed = false;
  await redis.connect().catch((err: unknown) => log.warn({ err }, 'rate-limit redis unreachable; limiting per replica until it returns'));
  const { ingest, redis: r } = config;
  const client = new RedisRateBuckets(redis, { ratePerSec: ingest.clientRatePerSec, burst: ingest.clientBurst, keyPrefix: `${r.keyPrefix}rl:client`, logger: log });
  const user = new RedisRateBuckets(redis, { ratePerSec: ingest.userRatePerSec, burst: ingest.userBurst, keyPrefix: `${r.keyPrefix}rl:user`, logger: log });
  replaceWhenEnded(redis, {
    name: 'rate-limit',
    open,
    prepare: (c) => c.connect(),
    adopt: (c) => {
      redis = c;
      client.use(c);
      user.use(c);
    },
    closed: () => closed,
    logger: log,
  });
  return {
    client,
    user,
    connection: () => redis,
    close: async () => {
      closed = true;
      redis.disconnect();
    },
  };
}

export function stateTopic(config: Config): string {
  return `${config.log.reactionsTopic}.aggregator-state`;
}

export function createStateStore(config: Config, log: Log): WindowStateStore | undefined {
  return log.windowStateStore(stateTopic(config));
}

/** Reactions keyed by match; aggregates on one partition so per-match order holds for the publisher's dedupe. */
export function topicsFor(config: Config): Array<TopicSpec & { config?: Record<string, string> }> {
  const partitions = config.adapters.log === 'kafka' ? config.kafka.reactionsPartitions : config.log.partitions;
  return [
    { name: config.log.reactionsTopic, partitions, config: { 'retention.ms': String(24 * 3600_000) } },
    { name: config.log.aggregatesTopic, partitions: 1, config: { 'retention.ms': String(7 * 24 * 3600_000) } },
    // The loader reads only the changelog's tail; short segments let compaction keep the disk small too.
    { name: stateTopic(config), partitions, config: { 'cleanup.policy': 'compact', 'segment.ms': String(60_000), 'min.cleanable.dirty.ratio': '0.1', 'min.compaction.lag.ms': '0' } },
  ];
}

/** The window archive: PGlite in process (embedded) or a PostgreSQL server; loaded only where a role archives. */
export async function createArchive(config: Config, logger: Logger): Promise<WindowArchive> {
  if (config.archive.adapter === 'postgres') {
    const { openPostgresArchive } = await import('../adapters/postgres/pg-window-archive.js');
    return openPostgresArchive({ url: config.archive.postgresUrl, onError: (err) => logger.warn({ err }, 'archive connection dropped') });
  }
  const { openPgliteArchive } = await import('../adapters/postgres/pglite-window-archive.js');
  return openPgliteArchive(config.archive.dir ? { dir: config.archive.dir } : {});
}
