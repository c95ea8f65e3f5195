import type { Logger } from 'pino';
import type { AggregatorSnapshot, WindowStateStore } from '../../ports/window-state-store.js';
import type { ProducerRecord, TopicPartition } from '../../ports/log.js';
import type { KafkaOptions } from '../../config/kafka-options.js';
import { call, rdkafka, type RdKafka } from './rdkafka.js';

const WATERMARK_TIMEOUT_MS = 3000;

/** Offsets read back from the changelog's end: each transaction adds one snapshot and one marker per partition. */
const TAIL_OFFSETS = 64;

/**
 * The aggregator's changelog: a compacted topic co-partitioned with the reactions topic. Each
 * transaction writes the snapshot of every partition it touched, so on (re)assignment the new owner
 * reads the latest committed snapshot and resumes from the committed offset: exact, no re-count.
 */
export class KafkaWindowStateStore implements WindowStateStore {
  #reader: RdKafka.KafkaConsumer | undefined;
  #loading: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly o: KafkaOptions,
    private readonly topic: string,
    private readonly logger: Logger,
  ) {}

  record(tp: TopicPartition, snapshot: AggregatorSnapshot): ProducerRecord {
    return { topic: this.topic, partition: tp.partition, key: `${tp.topic}/${tp.partition}`, value: Buffer.from(JSON.stringify(snapshot)) };
  }

  async #connectReader(): Promise<RdKafka.KafkaConsumer> {
    if (this.#reader) return this.#reader;
    const Kafka = rdkafka();
    const reader = new Kafka.KafkaConsumer(
      {
        'bootstrap.servers': this.o.brokers,
        'client.id': `${this.o.clientId}-state-reader`,
        // No group: the reader assigns partitions itself and never commits.
        'group.id': `${this.o.clientId}-state-reader-unused`,
        'enable.auto.commit': false,
        'isolation.level': 'read_committed',
        'enable.partition.eof': true,
      } as RdKafka.ConsumerGlobalConfig,
      { 'auto.offset.reset': 'earliest' },
    );
    await call((cb) => reader.connect({ timeout: 10_000 }, (err) => cb(err)));
    this.#reader = reader;
    return reader;
  }

  /**
   * The latest committed snapshot of `tp`. Each changelog partition holds only its source
   * partition's key, so the newest committed record is the answer: read the tail first (a few
   * transactions' worth) and the whole partition only if the tail holds none (all aborted). Load
   * time so depends on the snapshot size, not on how long the pipeline has run or how far
   * compaction lags.
   */
  load(tp: TopicPartition): Promise<AggregatorSnapshot | null> {
    // One load at a time on the shared reader: a load started meanwhile (a rebalance listener
    // while the runner rewinds) would re-assign it under the first, which would then wait for an
    // end of partition that never comes, silently, until its deadline.
    const run = this.#loading.then(() =>
      this.#load(tp).catch(async (err: unknown) => {
        // A reader that failed may hold metadata that no longer heals: after a broker died, its
        // queryWatermarkOffsets kept answering "Unknown partition" long after the broker was back
        // (cluster tier). The next load starts from a new client.
        this.logger.warn({ err, tp }, 'changelog load failed; the next load uses a new reader');
        await this.#dropReader();
        throw err;
      }),
    );
    this.#loading = run.catch(() => {});
    return run;
  }

  async #dropReader(): Promise<void> {
    const r = this.#reader;
    this.#reader = undefined;
    if (r) await call((cb) => r.disconnect((err) => cb(err))).catch(() => {});
  }

  async #load(tp: TopicPartition): Promise<AggregatorSnapshot | null> {
    const reader = await this.#connectReader();
    // A broker answers this in milliseconds. When the partition's leader has died, the reader keeps
    // asking the dead one until the call times out; the load then fails and the next starts from a
    // new reader with fresh metadata (see load). So the timeout is what a leader's death adds to a
    // restore: 10 s made the cluster tier's node death 22 s without updates for one aggregator.
    const wm = await call<{ highOffset: number; lowOffset: number }>((cb) => reader.queryWatermarkOffsets(this.topic, tp.partition, WATERMARK_TIMEOUT_MS, (err, w) => cb(err, w)));
    if (wm.highOffset <= wm.lowOffset) return null;
    const tailStart = Math.max(wm.lowOffset, wm.highOffset - TAIL_OFFSETS);
    let latest = await this.#scan(reader, tp, tailStart);
    if (latest === null && tailStart > wm.lowOffset) latest = await this.#scan(reader, tp, wm.lowOffset);
    this.logger.debug({ tp, restored: latest !== null }, 'window state loaded');
    return latest;
  }

  async #scan(reader: RdKafka.KafkaConsumer, tp: TopicPartition, from: number): Promise<AggregatorSnapshot | null> {
    const key = `${tp.topic}/${tp.partition}`;
    reader.assign([{ topic: this.topic, partition: tp.partition, offset: from }]);
    let latest: AggregatorSnapshot | null = null;
    try {
      reader.setDefaultConsumeTimeout(200);
      const deadline = Date.now() + 120_000;
      let eof = false;
      const onEof = (e: { topic: string; partition: number }) => {
        if (e.topic === this.topic && e.partition === tp.partition) eof = true;
      };
      reader.on('partition.eof', onEof);
      try {
        while (!eof) {
          if (Date.now() > deadline) throw new Error(`changelog ${this.topic}/${tp.partition} did not reach its end in 120 s`);
          const msgs = await call<RdKafka.Message[]>((cb) => reader.consume(1000, (err, m) => cb(err, m)));
          for (const m of msgs ?? []) {
            if (m.key?.toString() === key && m.value) latest = JSON.parse(m.value.toString()) as AggregatorSnapshot;
          }
        }
      } finally {
        reader.off('partition.eof', onEof);
      }
    } finally {
      reader.unassign();
    }
    return latest;
  }

  async close(): Promise<void> {
    await this.#dropReader();
  }
}
