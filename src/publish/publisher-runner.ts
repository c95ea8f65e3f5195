import type { Logger } from 'pino';
import type { AvroSerde } from '../codec/serde.js';
import type { WindowAggregate } from '../domain/types.js';
import { seqFor } from '../aggregate/windows.js';
import type { FanoutBus } from '../fanout/bus.js';
import type { Log, LogConsumer, TopicPartitionOffset } from '../log/port.js';
import type { Metrics } from '../metrics/metrics.js';

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
}

/**
 * The main publisher: aggregates log -> bus. Offsets are committed after the bus took the updates
 * (at-least-once); the bus drops what it already has by (matchId, seq), so a replay after a
 * restart, or a duplicate from Spark's at-least-once sink, reaches no client twice.
 */
export class PublisherRunner {
  #consumer!: LogConsumer;
  #loop: Promise<void> | undefined;
  #closing = false;

  constructor(private readonly o: PublisherRunnerOptions) {}

  async start(): Promise<void> {
    if (this.#loop) return;
    this.#consumer = await this.o.log.consumer({ groupId: this.o.groupId, topics: [this.o.aggregatesTopic] });
    this.#loop = this.#run().catch((err) => {
      this.o.logger.fatal({ err }, 'publisher loop stopped');
      this.o.onFatal?.(err);
    });
  }

  async #run(): Promise<void> {
    while (!this.#closing) {
      const batch = await this.#consumer.poll(1000, this.o.pollTimeoutMs ?? 250);
      if (batch.length === 0) continue;
      const offsets = new Map<string, TopicPartitionOffset>();
      for (const rec of batch) {
        offsets.set(`${rec.topic}/${rec.partition}`, { topic: rec.topic, partition: rec.partition, offset: rec.offset + 1 });
        let agg: WindowAggregate;
        try {
          agg = await this.o.serde.decode(rec.value);
        } catch (err) {
          this.o.metrics.recordsUndecodable.inc({ topic: rec.topic });
          this.o.logger.warn({ err, partition: rec.partition, offset: rec.offset }, 'skipping undecodable aggregate');
          continue;
        }
        const published = await this.o.bus.publish({ ...agg, seq: seqFor(agg.windowStart, this.o.windowMs) });
        if (published) this.o.metrics.updatesPublished.inc();
        else this.o.metrics.updatesDuplicate.inc();
      }
      await this.#consumer.commit([...offsets.values()]);
    }
  }

  async close(): Promise<void> {
    this.#closing = true;
    await this.#loop;
    await this.#consumer?.close();
  }
}
