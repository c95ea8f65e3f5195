import type { Logger } from 'pino';
import type { AggregatorSnapshot, FenceTarget, LoadedState, WindowStateStore } from '../../ports/window-state-store.js';
import type { ProducerRecord, TopicPartition } from '../../ports/log.js';
import type { KafkaOptions } from '../../config/kafka-options.js';
import { emoError, isEmoError } from '../../domain/errors.js';
import { kafkaError } from './kafka-errors.js';
import { call, CALL_SLACK_MS, debugConfig, disconnectInBackground, forwardDebugLog, rdkafka, type RdKafka } from './rdkafka.js';
import { tpKey } from '../../ports/log.js';

const WATERMARK_TIMEOUT_MS = 3000;
/** A load reads a few records; a whole partition (no snapshot in the tail) is bounded too. */
const SCAN_BOUND_MS = 20_000;

/** Offsets read back from the changelog's end: each transaction adds one snapshot and one marker per partition. */
const TAIL_OFFSETS = 64;
/** Reading the first record of an open transaction: one fetch from the partition's leader. */
const OPEN_WRITER_MS = 2_000;

/**
 * The aggregator's changelog: a compacted topic co-partitioned with the reactions topic. Each
 * transaction writes the snapshot of every partition it touched, so on (re)assignment the new owner
 * reads the latest committed snapshot and resumes from the committed offset: exact, no re-count.
 */
export class KafkaWindowStateStore implements WindowStateStore {
  #reader: RdKafka.KafkaConsumer | undefined;
  /** read_uncommitted: its high watermark counts records of open transactions, the reader's stops before them. */
  #probe: RdKafka.KafkaConsumer | undefined;
  #loading: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly o: KafkaOptions,
    private readonly topic: string,
    private readonly logger: Logger,
  ) {}

  record(tp: TopicPartition, snapshot: AggregatorSnapshot): ProducerRecord {
    return { topic: this.topic, partition: tp.partition, key: tpKey(tp), value: Buffer.from(JSON.stringify(snapshot)) };
  }

  async #connectReader(): Promise<RdKafka.KafkaConsumer> {
    this.#reader ??= await this.#connect('read_committed', 'state-reader');
    return this.#reader;
  }

  async #connectProbe(): Promise<RdKafka.KafkaConsumer> {
    this.#probe ??= await this.#connect('read_uncommitted', 'state-probe');
    return this.#probe;
  }

  async #connect(isolation: 'read_committed' | 'read_uncommitted', name: string): Promise<RdKafka.KafkaConsumer> {
    const Kafka = rdkafka();
    const client = new Kafka.KafkaConsumer(
      {
        'bootstrap.servers': this.o.brokers,
        'client.id': `${this.o.clientId}-${name}`,
        // No group: the client assigns partitions itself and never commits.
        'group.id': `${this.o.clientId}-${name}-unused`,
        'enable.auto.commit': false,
        'isolation.level': isolation,
        'enable.partition.eof': true,
        ...debugConfig(this.o),
      } as RdKafka.ConsumerGlobalConfig,
      { 'auto.offset.reset': 'earliest' },
    );
    forwardDebugLog(this.o, client, this.logger);
    try {
      await call((cb) => client.connect({ timeout: 10_000 }, (err) => cb(err)), 10_000 + CALL_SLACK_MS);
    } catch (err) {
      disconnectInBackground(client, this.logger, name);
      throw err;
    }
    return client;
  }

  /**
   * The latest committed snapshot of `tp`. Each changelog partition holds only its source
   * partition's key, so the newest committed record is the answer: read the tail first (a few
   * transactions' worth) and the whole partition only if the tail holds none (all aborted). Load
   * time so depends on the snapshot size, not on how long the pipeline has run or how far
   * compaction lags.
   */
  load(tp: TopicPartition): Promise<LoadedState> {
    // One load at a time on the shared reader: a load started meanwhile (a rebalance listener
    // while the runner rewinds) would re-assign it under the first, which would then wait for an
    // end of partition that never comes, silently, until its deadline.
    // A reader that failed may hold metadata that no longer heals: after a broker died, its
    // queryWatermarkOffsets kept asking the dead leader, or answered "Unknown partition" long after
    // the broker was back (cluster tier). So a failed load is tried once more at once, on new
    // clients (fresh metadata), before the failure goes to the stage's recovery.
    const attempt = () =>
      this.#load(tp).catch((err: unknown) => {
        this.#dropReader();
        throw err;
      });
    const run = this.#loading.then(() =>
      attempt()
        .catch((err: unknown) => {
          this.logger.warn({ err, tp }, 'changelog load failed; trying once more on a new reader');
          return attempt();
        })
        .catch((err: unknown) => {
          this.logger.warn({ err, tp }, 'changelog load failed again');
          throw isEmoError(err) ? err : kafkaError(`changelog load of ${this.topic}/${tp.partition} failed`, err);
        }),
    );
    this.#loading = run.catch(() => {});
    return run;
  }

  /** Not awaited: a reader that failed against a dead leader may take as long to disconnect (see disconnectInBackground). */
  #dropReader(): void {
    for (const [c, name] of [[this.#reader, 'state-reader'], [this.#probe, 'state-probe']] as const) if (c) disconnectInBackground(c, this.logger, name);
    this.#reader = undefined;
    this.#probe = undefined;
  }

  async #load(tp: TopicPartition): Promise<LoadedState> {
    const reader = await this.#connectReader();
    const probe = await this.#connectProbe();
    // A broker answers these in milliseconds. When the partition's leader has died, a client keeps
    // asking the dead one until the call times out; the load then fails and the next starts from
    // new clients with fresh metadata (see load). So the timeout is what a leader's death adds to
    // a restore: 10 s made the cluster tier's node death 22 s without updates for one aggregator.
    // The high watermark first, then the last stable offset: every record below that high
    // watermark is decided (committed or aborted) when the stable offset has reached it.
    const hw = await this.#watermarks(probe, tp);
    const wm = await this.#watermarks(reader, tp);
    const openTransaction = wm.highOffset < hw.highOffset;
    const open = openTransaction ? { openAt: await this.#openAt(probe, tp, wm.highOffset) } : {};
    if (wm.highOffset <= wm.lowOffset) return { snapshot: null, openTransaction, ...open };
    const tailStart = Math.max(wm.lowOffset, wm.highOffset - TAIL_OFFSETS);
    let latest = await this.#scan(reader, tp, tailStart);
    if (latest === null && tailStart > wm.lowOffset) latest = await this.#scan(reader, tp, wm.lowOffset);
    this.logger.debug({ tp, restored: latest !== null, openTransaction, ...open }, 'window state loaded');
    return { snapshot: latest, openTransaction, ...open };
  }

  /**
   * The open transaction's partition and writer. The last stable offset is the first offset of the
   * oldest open transaction, so the record there (read uncommitted) is one of its snapshots, and
   * names its writer. Not known in time (or a record without one): the fence ends our own.
   */
  async #openAt(probe: RdKafka.KafkaConsumer, tp: TopicPartition, stableOffset: number): Promise<FenceTarget> {
    const at = { topic: this.topic, partition: tp.partition };
    probe.assign([{ ...at, offset: stableOffset }]);
    try {
      probe.setDefaultConsumeTimeout(200);
      const deadline = Date.now() + OPEN_WRITER_MS;
      while (Date.now() < deadline) {
        const msgs = await call<RdKafka.Message[]>((cb) => probe.consume(1, (err, m) => cb(err, m)), OPEN_WRITER_MS + CALL_SLACK_MS);
        const m = msgs?.find((x) => x.partition === tp.partition && x.offset >= stableOffset);
        if (!m) continue;
        const writer = m.value ? (JSON.parse(m.value.toString()) as Partial<AggregatorSnapshot>).writer : undefined;
        return { tp: at, writer: typeof writer === 'string' ? writer : undefined };
      }
    } catch (err) {
      this.logger.warn({ err, tp }, 'the open transaction\'s writer could not be read');
    } finally {
      probe.unassign();
    }
    return { tp: at };
  }

  #watermarks(client: RdKafka.KafkaConsumer, tp: TopicPartition): Promise<{ highOffset: number; lowOffset: number }> {
    return call((cb) => client.queryWatermarkOffsets(this.topic, tp.partition, WATERMARK_TIMEOUT_MS, (err, w) => cb(err, w)), WATERMARK_TIMEOUT_MS + CALL_SLACK_MS);
  }

  async #scan(reader: RdKafka.KafkaConsumer, tp: TopicPartition, from: number): Promise<AggregatorSnapshot | null> {
    const key = tpKey(tp);
    reader.assign([{ topic: this.topic, partition: tp.partition, offset: from }]);
    let latest: AggregatorSnapshot | null = null;
    try {
      reader.setDefaultConsumeTimeout(200);
      const deadline = Date.now() + SCAN_BOUND_MS;
      let eof = false;
      const onEof = (e: { topic: string; partition: number }) => {
        if (e.topic === this.topic && e.partition === tp.partition) eof = true;
      };
      reader.on('partition.eof', onEof);
      try {
        while (!eof) {
          if (Date.now() > deadline) throw emoError('LOG_UNAVAILABLE', `changelog ${this.topic}/${tp.partition} did not reach its end in ${SCAN_BOUND_MS} ms`);
          const msgs = await call<RdKafka.Message[]>((cb) => reader.consume(1000, (err, m) => cb(err, m)), 1000 + CALL_SLACK_MS);
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
    const clients = [this.#reader, this.#probe];
    this.#reader = undefined;
    this.#probe = undefined;
    for (const c of clients) if (c) await call((cb) => c.disconnect((err) => cb(err)), 10_000).catch(() => {});
  }
}
