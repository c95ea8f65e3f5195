import type { Logger } from 'pino';
import type { AvroSerde } from '../codec/serde.js';
import type { WindowAggregate } from '../domain/types.js';
import { seqFor } from '../domain/windows.js';
import type { FanoutBus } from '../ports/bus.js';
import type { Log } from '../ports/log.js';
import { StageLoop } from '../stage/stage-loop.js';
import { decodeBatch, untilAvailable, type SinkWriteOptions } from '../stage/sink-write.js';
import type { StageProgress } from '../stage/stage-progress.js';
import type { Metrics } from '../metrics/metrics.js';
import { DEFAULTS } from '../config/config.js';
import { PhaseWatch } from '../stage/phase-watch.js';
import { WatchedConsumer } from '../stage/watched-consumer.js';

export interface PublisherRunnerOptions {
  log: Log;
  bus: FanoutBus;
  serde: AvroSerde<WindowAggregate>;
  aggregatesTopic: string;
  groupId: string;
  windowMs: number;
  metrics: Metrics;
  logger: Logger;
  pollTimeoutMs?: number;
  onFatal?: (err: unknown) => void;
  /** Progress and dependency state for /healthz, /readyz and the recovery metrics. */
  progress?: StageProgress;
  /** Kafka recovery (poll, commit) that keeps failing this long ends the loop (onFatal). Redis is waited for. */
  recoveryGiveUpMs?: number;
  /** Records waiting this long with none arriving: the consumer is rewound, then replaced (default 10 s). */
  starvedAfterMs?: number;
}

/**
 * The main publisher: aggregates log -> bus. Offsets are committed after the bus took the updates
 * (at-least-once); the bus drops what it already has by (matchId, seq), so a replay after a
 * restart, or a duplicate from Spark's at-least-once sink, reaches no client twice.
 */
export class PublisherRunner {
  readonly #input: WatchedConsumer;
  #loop: Promise<void> | undefined;
  #closing = false;

  readonly #stage: StageLoop;
  readonly #phases: PhaseWatch;
  /** The bus is waited for: an outage of Redis delays updates, the offsets wait with them. */
  readonly #sink: SinkWriteOptions;

  constructor(private readonly o: PublisherRunnerOptions) {
    this.#input = new WatchedConsumer({ log: o.log, groupId: o.groupId, topics: [o.aggregatesTopic], logger: o.logger, progress: o.progress, starvedAfterMs: o.starvedAfterMs });
    this.#sink = { dependency: 'redis', progress: o.progress, logger: o.logger, closing: () => this.#closing };
    this.#phases = new PhaseWatch({ stage: 'publisher', logger: o.logger, quiet: () => this.#closing, context: () => ({ consumer: this.#input.consumer?.diagnostics?.() }) });
    this.#stage = new StageLoop({ stage: 'publisher', dependency: 'kafka', giveUpMs: o.recoveryGiveUpMs ?? DEFAULTS.recoveryGiveUpMs, logger: o.logger, ...(o.progress ? { progress: o.progress } : {}) });
  }

  async start(): Promise<void> {
    if (this.#loop) return;
    // Ready once the group has given it the aggregates partition: before, a window could wait on
    // the first rebalance while /readyz already said 200.
    this.o.progress?.pending('assignment');
    await this.#input.connect();
    this.#phases.start();
    this.#loop = this.#run().finally(() => this.#phases.stop()).catch((err) => {
      this.o.logger.fatal({ err }, 'publisher loop stopped');
      this.o.onFatal?.(err);
    });
  }

  /**
   * Kafka failures (poll, commit) are retried with backoff; only past recoveryGiveUpMs do they end
   * the loop (see StageLoop). A bus write is retried for as long as Redis is away, and the offsets
   * are committed only once the bus holds every update of the batch: an outage delays updates,
   * never skips one.
   */
  async #run(): Promise<void> {
    await this.#stage.run(
      async () => {
        await this.#step();
        if (this.#stage.failing) this.#stage.healthy();
      },
      {
        closing: () => this.#closing,
        onFailure: () => {
          this.#phases.enter('backoff');
          this.o.progress?.recovered('retry');
        },
      },
    );
  }

  async #step(): Promise<void> {
    this.#phases.enter('poll');
    const batch = await this.#input.consumer.poll(1000, this.o.pollTimeoutMs ?? 250);
    this.#phases.enter('after poll');
    await this.#input.afterPoll(batch.length);
    if (batch.length === 0) return;
    this.#phases.enter('decode');
    const decoded = await decodeBatch(batch, { ...this.o, closing: () => this.#closing });
    if (!decoded) return; // closing while the registry was away: the batch is read again by whoever runs next
    const { values, offsets } = decoded;
    this.#phases.enter('publish');
    for (const agg of values) {
      const update = { ...agg, seq: seqFor(agg.windowStart, this.o.windowMs) };
      const published = await untilAvailable(async () => (await this.o.bus.publish(update)) !== null, this.#sink, { matchId: update.matchId, seq: update.seq });
      if (!published.done) return; // closing: the uncommitted batch is read again by whoever runs next
      if (published.value) this.o.metrics.updatesPublished.inc();
      else this.o.metrics.updatesDuplicate.inc();
      this.o.progress?.progressed();
    }
    this.#phases.enter('commit');
    await this.#input.consumer.commit(offsets);
  }

  async close(): Promise<void> {
    this.#closing = true;
    await this.#loop;
    await this.#input.close();
  }
}
