import type { Logger } from 'pino';
import type { Log, LogConsumer } from '../ports/log.js';
import { InputWatch } from './input-watch.js';
import type { StageProgress } from './stage-progress.js';

export interface WatchedConsumerOptions {
  log: Log;
  groupId: string;
  topics: string[];
  logger: Logger;
  progress?: StageProgress | undefined;
  /** Records waiting this long with none arriving: the consumer is rewound, then replaced (default 10 s). */
  starvedAfterMs?: number | undefined;
}

/**
 * A group consumer of an at-least-once stage (publisher, archive) that health can trust and that
 * heals when it stops fetching. After each poll the stage says how many records came: an empty
 * poll is idleness only when nothing waits (see InputWatch). Records waiting `starvedAfterMs` with
 * none arriving (seen in the chaos soak: a publisher after a frozen broker, lag growing, empty
 * polls for minutes, /healthz 200) send the consumer back to the committed offsets (a seek
 * restarts its fetch of each partition); if that does not help, a new client replaces it (the old
 * one closes in the background: its close may wait on whatever stopped it). What is read again,
 * the stage's sink keeps once (the bus by seq, the archive by its upsert).
 */
export class WatchedConsumer {
  #consumer!: LogConsumer;
  readonly #input: InputWatch;
  /** Starvations met since records last arrived: the first rewinds, the next replaces the consumer. */
  #starvations = 0;

  constructor(private readonly o: WatchedConsumerOptions) {
    const starvedAfterMs = o.starvedAfterMs ?? 10_000;
    this.#input = new InputWatch({ consumer: () => this.#consumer, checkEveryMs: Math.min(1000, starvedAfterMs / 4), starvedAfterMs });
  }

  get consumer(): LogConsumer {
    return this.#consumer;
  }

  async connect(): Promise<void> {
    const consumer = await this.o.log.consumer({ groupId: this.o.groupId, topics: this.o.topics });
    consumer.onAssignment((change) => {
      if (consumer !== this.#consumer) return;
      this.#input.assignment(change);
      this.o.progress?.settled('assignment');
    });
    this.#consumer = consumer;
    this.#input.reset();
  }

  /** After a poll that returned `records` records: health for an empty one, the cure for starvation. */
  async afterPoll(records: number): Promise<void> {
    if (records > 0) {
      this.#input.received();
      this.#starvations = 0;
      return;
    }
    const state = await this.#input.afterEmptyPoll();
    // Anything but idle leaves progress alone: a stage with input waiting and none read is stalled.
    if (state === 'idle') this.o.progress?.idle();
    else if (state === 'starved') await this.#unstarve();
  }

  async #unstarve(): Promise<void> {
    this.#starvations++;
    this.#input.reset();
    const partitions = this.#input.partitions;
    const context = { partitions: partitions.map((p) => p.partition), consumer: this.#consumer.diagnostics?.() };
    // Holding no partition, there is nothing to rewind: only a new member can join the group.
    if (this.#starvations === 1 && partitions.length > 0) {
      this.o.logger.warn(context, 'records wait but none arrive; back to the committed offsets');
      this.o.progress?.recovered('starved-rewind');
      // A rewind that fails is a client that cannot reach the log while the log is there (it was
      // judged by the group's view): no use waiting another bound for it.
      const rewound = await this.#consumer.rewind(partitions).then(
        () => true,
        (err: unknown) => (this.o.logger.warn({ err }, 'the rewind failed'), false),
      );
      if (rewound) return;
    }
    this.o.logger.warn(context, partitions.length > 0 ? 'records still wait after a rewind; replacing the Kafka consumer' : 'records wait that no member of the group reads, and this one holds no partition; replacing the Kafka consumer');
    this.o.progress?.recovered('starved-new-consumer');
    this.#starvations = 0;
    const old = this.#consumer;
    await this.connect();
    void old.close().catch((err: unknown) => this.o.logger.warn({ err }, 'the replaced consumer did not close'));
  }

  async close(): Promise<void> {
    await this.#consumer?.close();
  }
}
