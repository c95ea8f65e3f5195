import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AggregatorRunner } from '../aggregate/aggregator-runner.js';
import { buildApp } from '../app.js';
import { createSerdes } from '../codec/serde.js';
import type { Config, Role } from '../config/config.js';
import { EmojiCatalog } from '../domain/catalog.js';
import { systemClock, type Clock } from '../ports/clock.js';
import { localRateLimits } from '../adapters/memory/memory-rate-buckets.js';
import type { FanoutBus } from '../ports/bus.js';
import { StageProgress, type ReadinessCheck } from '../stage/stage-progress.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import { PublisherRunner } from '../publish/publisher-runner.js';
import { Lifecycle } from './lifecycle.js';
import { createArchive, createBus, createLog, createRegistry, createSharedRateLimits, createStateStore, topicsFor } from './adapters.js';
import { ArchiveRunner } from '../archive/archive-runner.js';
import { stuckCalls } from '../adapters/kafka/rdkafka.js';
import type { WindowArchive } from '../ports/window-archive.js';

export interface Pipeline {
  app: FastifyInstance;
  metrics: Metrics;
  close(): Promise<void>;
  /**
   * Native client calls that never answered: while there is one, a normal process exit waits for
   * it for ever (it joins the thread pool the call holds), so main must end the process by signal.
   */
  stuckNativeCalls(): number;
}

const STAGES: Record<Role, { ingest: boolean; aggregator: boolean; publisher: boolean; fanout: boolean; archive: boolean }> = {
  all: { ingest: true, aggregator: true, publisher: true, fanout: true, archive: true },
  api: { ingest: true, aggregator: false, publisher: false, fanout: false, archive: false },
  aggregator: { ingest: false, aggregator: true, publisher: false, fanout: false, archive: false },
  publisher: { ingest: false, aggregator: false, publisher: true, fanout: false, archive: false },
  fanout: { ingest: false, aggregator: false, publisher: false, fanout: true, archive: false },
  // Writes the archive and serves what is read from it: the query API and replay.
  archiver: { ingest: false, aggregator: false, publisher: false, fanout: false, archive: true },
};

/**
 * Starts the stages of `config.role` on the adapters the config names. Role `all` on the default
 * (memory) adapters is the embedded pipeline; every role serves /healthz, /readyz and /metrics.
 */
export async function startRole(config: Config, deps: { logger: Logger; clock?: Clock; catalog?: EmojiCatalog; onFatal?: (err: unknown) => void }): Promise<Pipeline> {
  const { logger } = deps;
  const stages = STAGES[config.role];
  const clock = deps.clock ?? systemClock;
  const catalog = deps.catalog ?? EmojiCatalog.load();
  const metrics = createMetrics({ defaults: true });
  const lifecycle = new Lifecycle(logger);
  const close = () => lifecycle.close();
  try {
    const needsLog = stages.ingest || stages.aggregator || stages.publisher || stages.archive;
    const log = needsLog ? createLog(config, logger, metrics) : undefined;
    if (log) lifecycle.add('adapters', () => log.close());
    const registry = createRegistry(config);
    lifecycle.add('adapters', () => registry.close());
    if (log && (stages.ingest || stages.aggregator)) await log.ensureTopics(topicsFor(config));
    const serdes = needsLog ? await createSerdes(registry, config.log, config.log.reactionsFormat) : undefined;
    const bus: FanoutBus | undefined = stages.publisher || stages.fanout ? await createBus(config, logger) : undefined;
    if (bus) lifecycle.add('adapters', () => bus.close());
    const checks: ReadinessCheck[] = [];
    const archive: WindowArchive | undefined = stages.archive ? await createArchive(config, logger) : undefined;
    if (archive) lifecycle.add('adapters', () => archive.close());

    let ingest: NonNullable<Parameters<typeof buildApp>[0]['ingest']> | undefined;
    if (stages.ingest && log && serdes) {
      const producer = await log.producer();
      lifecycle.add('ingest', () => producer.close());
      checks.push({ name: 'log', ready: () => producer.ready() });
      const shared = config.ingest.rateLimitStore === 'redis' ? await createSharedRateLimits(config, logger) : undefined;
      if (shared) lifecycle.add('adapters', () => shared.close());
      ingest = { producer, codec: serdes.reactions, limits: shared ?? localRateLimits(config.ingest, clock) };
    }
    const app = await buildApp({
      config,
      catalog,
      clock,
      metrics,
      logger,
      ...(ingest ? { ingest } : {}),
      ...(stages.fanout && bus ? { fanout: { bus, nodeId: `${config.role}-${config.instanceId}-${randomUUID().slice(0, 6)}` } } : {}),
      ...(archive ? { archive: { store: archive } } : {}),
      checks,
      pages: stages.ingest || stages.fanout || stages.archive,
    });
    const progress = (name: string) => {
      const p = new StageProgress(name, systemClock, config.stallTimeoutMs, metrics);
      checks.push(p);
      return p;
    };
    if (stages.aggregator && log && serdes) {
      const aggregator = new AggregatorRunner({
        log,
        serdes,
        catalog,
        rules: config.aggregation,
        reactionsTopic: config.log.reactionsTopic,
        aggregatesTopic: config.log.aggregatesTopic,
        // One group per pipeline (its reactions topic): separate pipelines on one cluster never rebalance each other.
        groupId: `emostream-aggregator.${config.log.reactionsTopic}`,
        transactionalId: `emostream-aggregator-${config.instanceId}`,
        clock,
        metrics,
        logger: logger.child({ stage: 'aggregator' }),
        punctuateMs: config.punctuateMs,
        stateStore: createStateStore(config, log),
        progress: progress('aggregator'),
        recoveryGiveUpMs: config.recoveryGiveUpMs,
        ...(deps.onFatal ? { onFatal: deps.onFatal } : {}),
      });
      await aggregator.start();
      lifecycle.add('aggregator', () => aggregator.close());
    }
    if (stages.publisher && log && serdes && bus) {
      const publisher = new PublisherRunner({
        log,
        bus,
        serde: serdes.aggregate,
        aggregatesTopic: config.log.aggregatesTopic,
        groupId: `emostream-publisher.${config.log.aggregatesTopic}`,
        windowMs: config.aggregation.windowMs,
        metrics,
        logger: logger.child({ stage: 'publisher' }),
        progress: progress('publisher'),
        recoveryGiveUpMs: config.recoveryGiveUpMs,
        ...(deps.onFatal ? { onFatal: deps.onFatal } : {}),
      });
      await publisher.start();
      lifecycle.add('publisher', () => publisher.close());
    }
    if (stages.archive && log && serdes && archive) {
      const archiver = new ArchiveRunner({
        log,
        archive,
        serde: serdes.aggregate,
        aggregatesTopic: config.log.aggregatesTopic,
        // Its own group: archiving never waits for (or delays) the publisher.
        groupId: `emostream-archiver.${config.log.aggregatesTopic}`,
        metrics,
        logger: logger.child({ stage: 'archive' }),
        retentionMs: config.archive.retentionDays * 86_400_000,
        sweepIntervalMs: config.archive.sweepIntervalMs,
        progress: progress('archive'),
        recoveryGiveUpMs: config.recoveryGiveUpMs,
        ...(deps.onFatal ? { onFatal: deps.onFatal } : {}),
      });
      await archiver.start();
      lifecycle.add('archive', () => archiver.close());
    }
    lifecycle.add('http', () => app.close());
    return { app, metrics, close, stuckNativeCalls: stuckCalls };
  } catch (err) {
    await close();
    throw err;
  }
}
