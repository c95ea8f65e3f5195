import type { Logger } from 'pino';
import type { AvroSerde } from '../codec/serde.js';
import type { WindowAggregate } from '../domain/types.js';
import type { Log } from '../ports/log.js';
import type { WindowArchive } from '../ports/window-archive.js';
import type { StageProgress } from '../stage/stage-progress.js';
import type { Metrics } from '../metrics/metrics.js';
import { DEFAULTS } from '../config/config.js';
import { StageLoop } from '../stage/stage-loop.js';
import { WatchedConsumer } from '../stage/watched-consumer.js';
import { decodeBatch, untilAvailable } from '../stage/sink-write.js';

export interface ArchiveRunnerOptions {
  log: Log;
  archive: WindowArchive;
  serde: AvroSerde<WindowAggregate>;
  aggregatesTopic: string;
  /** Its own group: the archive reads the aggregates at its own pace, beside the publisher. */
  groupId: string;
  metrics: Metrics;
  logger: Logger;
  /** Matches whose last window ended longer ago than this are deleted; 0 keeps every match. */
  retentionMs: number;
  /** How often the retention sweep runs. */
  sweepIntervalMs?: number;
  pollTimeoutMs?: number;
  maxBatch?: number;
  now?: () => number;
  progress?: StageProgress;
  /** Log failures (poll, commit) that keep failing this long end the loop (onFatal); the database is waited for. */
  recoveryGiveUpMs?: number;
  onFatal?: (err: unknown) => void;
  /** Records waiting this long with none arriving: the consumer is rewound, then replaced (default 10 s). */
  starvedAfterMs?: number;
}

/**
 * The archive stage: aggregates log -> window archive. Like the publisher it commits its offsets
 * only after the database holds the batch (at-least-once), so a kill -9 reads the batch again; the
 * archive's upsert keeps one row per (match, window) whatever is written twice.
 */
export class ArchiveRunner {
  readonly #input: WatchedConsumer;
  readonly #stage: StageLoop;
  #loop: Promise<void> | undefined;
  #sweep: NodeJS.Timeout | undefined;
  #closing = false;

  constructor(private readonly o: ArchiveRunnerOptions) {
    this.#input = new WatchedConsumer({ log: o.log, groupId: o.groupId, topics: [o.aggregatesTopic], logger: o.logger, progress: o.progress, starvedAfterMs: o.starvedAfterMs });
    this.#stage = new StageLoop({ stage: 'archive', dependency: 'kafka', giveUpMs: o.recoveryGiveUpMs ?? DEFAULTS.recoveryGiveUpMs, logger: o.logger, ...(o.progress ? { progress: o.progress } : {}) });
  }

  async start(): Promise<void> {
    if (this.#loop) return;
    await this.#input.connect();
    this.#loop = this.#run().catch((err) => {
      this.o.logger.fatal({ err }, 'archive loop stopped');
      this.o.onFatal?.(err);
    });
    if (this.o.retentionMs > 0) {
      void this.sweep();
      this.#sweep = setInterval(() => void this.sweep(), this.o.sweepIntervalMs ?? DEFAULTS.archiveSweepIntervalMs);
      this.#sweep.unref();
    }
  }

  /** Deletes the matches past retention; a failure is logged and tried again at the next sweep. */
  async sweep(): Promise<number> {
    const cutoff = (this.o.now ?? Date.now)() - this.o.retentionMs;
    try {
      const n = await this.o.archive.deleteMatchesEndedBefore(cutoff);
      if (n > 0) this.o.logger.info({ windows: n, cutoff }, 'archive retention deleted old matches');
      return n;
    } catch (err) {
      this.o.logger.warn({ err }, 'archive retention sweep failed');
      return 0;
    }
  }

  /** Log failures (poll, commit) are retried with backoff and end the loop only past recoveryGiveUpMs (see StageLoop). */
  async #run(): Promise<void> {
    await this.#stage.run(
      async () => {
        await this.#step();
        if (this.#stage.failing) this.#stage.healthy();
      },
      { closing: () => this.#closing, onFailure: () => this.o.progress?.recovered('retry') },
    );
  }

  async #step(): Promise<void> {
    const batch = await this.#input.consumer.poll(this.o.maxBatch ?? 2000, this.o.pollTimeoutMs ?? 250);
    await this.#input.afterPoll(batch.length);
    if (batch.length === 0) return;
    const decoded = await decodeBatch(batch, { ...this.o, closing: () => this.#closing });
    if (!decoded) return; // closing while the registry was away: the batch is read again by whoever runs next
    const { values, offsets } = decoded;
    const sink = { dependency: 'archive', progress: this.o.progress, logger: this.o.logger, closing: () => this.#closing };
    const written = await untilAvailable(() => this.o.archive.upsert(values), sink, { windows: values.length });
    if (!written.done) return; // closing: the uncommitted batch is read again by whoever runs next
    this.o.progress?.progressed();
    await this.#input.consumer.commit(offsets);
  }

  async close(): Promise<void> {
    this.#closing = true;
    if (this.#sweep) clearInterval(this.#sweep);
    await this.#loop;
    await this.#input.close();
  }
}
