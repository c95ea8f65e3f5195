import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from '../app.js';
import { AggregatorRunner } from '../aggregate/aggregator-runner.js';
import { MemorySchemaRegistry } from '../codec/registry.js';
import { createSerdes } from '../codec/serde.js';
import type { Config } from '../config/config.js';
import { EmojiCatalog } from '../domain/catalog.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { MemoryBus } from '../fanout/memory-bus.js';
import { MemoryLog } from '../log/memory-log.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import { PublisherRunner } from '../publish/publisher-runner.js';

export interface Pipeline {
  app: FastifyInstance;
  metrics: Metrics;
  close(): Promise<void>;
}

/**
 * Role `all`: every stage in one process on the memory adapters (log, registry, bus). The stages
 * are the same classes the distributed roles run; only the adapters differ.
 */
export async function startEmbedded(config: Config, deps: { logger: Logger; clock?: Clock; catalog?: EmojiCatalog }): Promise<Pipeline> {
  const clock = deps.clock ?? systemClock;
  const catalog = deps.catalog ?? EmojiCatalog.load();
  const metrics = createMetrics({ defaults: true });
  const log = new MemoryLog({ capacity: config.log.capacity, retryAfterSec: config.ingest.retryAfterSec, defaultPartitions: config.log.partitions });
  await log.ensureTopics([
    { name: config.log.reactionsTopic, partitions: config.log.partitions },
    // One partition: aggregates are few, and per-match order must hold for the publisher's dedupe.
    { name: config.log.aggregatesTopic, partitions: 1 },
  ]);
  const registry = new MemorySchemaRegistry();
  const serdes = await createSerdes(registry, config.log);
  const bus = new MemoryBus({ historySize: config.fanout.historySize, onListenerError: (err) => deps.logger.error({ err }, 'listener failed') });
  const aggregator = new AggregatorRunner({
    log,
    serdes,
    catalog,
    rules: config.aggregation,
    reactionsTopic: config.log.reactionsTopic,
    aggregatesTopic: config.log.aggregatesTopic,
    groupId: 'emostream-aggregator',
    transactionalId: 'emostream-aggregator-embedded',
    clock,
    metrics,
    logger: deps.logger.child({ stage: 'aggregator' }),
    punctuateMs: config.punctuateMs,
  });
  const publisher = new PublisherRunner({
    log,
    bus,
    serde: serdes.aggregate,
    aggregatesTopic: config.log.aggregatesTopic,
    groupId: 'emostream-publisher',
    windowMs: config.aggregation.windowMs,
    metrics,
    logger: deps.logger.child({ stage: 'publisher' }),
  });
  const producer = log.producer();
  const app = await buildApp({
    config,
    catalog,
    clock,
    metrics,
    logger: deps.logger,
    ingest: { producer, serde: serdes.reaction },
    fanout: { bus, nodeId: `embedded-${randomUUID().slice(0, 8)}` },
    checks: [{ name: 'log', ready: () => producer.ready() }],
  });
  aggregator.start();
  publisher.start();
  return {
    app,
    metrics,
    async close() {
      // Stop taking input first, then drain stages in flow order.
      await app.close();
      await aggregator.close();
      await publisher.close();
      await bus.close();
      await log.close();
      await registry.close();
    },
  };
}
