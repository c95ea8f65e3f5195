import type { Logger } from 'pino';
import type { AssignmentChange, LogConsumer, LogRecord, TopicPartition, TopicPartitionOffset } from '../../ports/log.js';
import type { KafkaOptions } from '../../config/kafka-options.js';
import { emoError } from '../../domain/errors.js';
import { classifyKafkaError, kafkaError } from './kafka-errors.js';
import { call, rdkafka, type RdKafka } from './rdkafka.js';

const COMMIT_RETRY_MS = 10_000;
const TOPIC_WAIT_MS = 120_000;

/**
 * LogConsumer over librdkafka's KafkaConsumer: group membership with manual commits and
 * read_committed, so only the output of committed transactions is ever seen.
 */
export class KafkaLogConsumer implements LogConsumer {
  readonly raw: RdKafka.KafkaConsumer;
  readonly #listeners: Array<(c: AssignmentChange) => void | Promise<void>> = [];
  #pending: Promise<void> = Promise.resolve();
  /** Bumped by every rebalance: a batch that spans one may hold records fetched for the old assignment. */
  #generation = 0;
  /** Next offset to read per partition, from what poll() returned; cleared on every (re)assignment. */
  readonly #next = new Map<string, number>();
  #closed = false;

  private readonly brokers: string;

  private constructor(
    o: KafkaOptions,
    private readonly groupId: string,
    private readonly logger: Logger,
    sessionTimeoutMs: number,
  ) {
    this.brokers = o.brokers;
    const Kafka = rdkafka();
    const self = this;
    this.raw = new Kafka.KafkaConsumer(
      {
        'bootstrap.servers': o.brokers,
        'client.id': `${o.clientId}-${groupId}`,
        'group.id': groupId,
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'isolation.level': 'read_committed',
        // A killed member's partitions move on after this long; heartbeats keep live ones.
        'session.timeout.ms': sessionTimeoutMs,
        'heartbeat.interval.ms': Math.max(100, Math.floor(sessionTimeoutMs / 6)),
        'fetch.wait.max.ms': 50,
        'socket.keepalive.enable': true,
        'reconnect.backoff.max.ms': 1000,
        // node-rdkafka's consume(n) returns early only when a read times out or a partition's end is
        // reached; without end-of-partition events a steady trickle (one reaction per 50 ms) keeps it
        // collecting until n records arrive: the chaos tier's aggregators sat 40 s on a 5000 batch
        // while every window closed late. With them it returns what is ready once caught up.
        'enable.partition.eof': true,
        rebalance_cb(this: RdKafka.KafkaConsumer, err: RdKafka.LibrdKafkaError, assignment: RdKafka.Assignment[]) {
          const tps = assignment.map((a) => ({ topic: a.topic, partition: a.partition }));
          self.#generation++;
          self.#next.clear();
          if (err.code === Kafka.CODES.ERRORS.ERR__ASSIGN_PARTITIONS) {
            this.assign(assignment);
            self.#notify({ assigned: tps, revoked: [] });
          } else if (err.code === Kafka.CODES.ERRORS.ERR__REVOKE_PARTITIONS) {
            self.#notify({ assigned: [], revoked: tps });
            this.unassign();
          } else {
            logger.error({ err }, 'rebalance error');
          }
        },
      } as RdKafka.ConsumerGlobalConfig,
      { 'auto.offset.reset': 'earliest' },
    );
    this.raw.on('event.error', (err) => logger.warn({ err, groupId }, 'kafka consumer error'));
  }

  static async connect(o: KafkaOptions, opts: { groupId: string; topics: string[]; logger: Logger; sessionTimeoutMs?: number; topicWaitMs?: number }): Promise<KafkaLogConsumer> {
    const c = new KafkaLogConsumer(o, opts.groupId, opts.logger, opts.sessionTimeoutMs ?? 6000);
    await call((cb) => c.raw.connect({ timeout: 10_000 }, (err) => cb(err)));
    await c.#awaitTopics(opts.topics, opts.topicWaitMs ?? TOPIC_WAIT_MS);
    c.raw.subscribe(opts.topics);
    return c;
  }

  /**
   * Subscribing to a topic the cluster does not list yet (a fresh deploy whose roles start
   * together, the topic being created by another role) leaves the group with no partitions until
   * librdkafka's next metadata refresh, minutes later: the stage would sit idle, healthy. So wait
   * until every topic is listed with a leader for each partition, and fail clearly if it never is.
   */
  async #awaitTopics(topics: string[], waitMs: number): Promise<void> {
    const deadline = Date.now() + waitMs;
    let missing = topics;
    for (let delay = 100; ; delay = Math.min(1000, delay * 2)) {
      const meta = await call<RdKafka.Metadata>((cb) => this.raw.getMetadata({ timeout: 5000 }, (err, m) => cb(err, m))).catch(() => undefined);
      const listed = new Map((meta?.topics ?? []).map((t) => [t.name, t.partitions]));
      missing = topics.filter((t) => {
        const parts = listed.get(t);
        return !parts || parts.length === 0 || parts.some((p) => p.leader < 0);
      });
      if (missing.length === 0) return;
      if (Date.now() + delay > deadline) break;
      this.logger.info({ missing }, 'waiting for topics to be created');
      await new Promise((r) => setTimeout(r, delay));
    }
    throw emoError('LOG_UNAVAILABLE', `topics ${missing.join(', ')} do not exist on ${this.brokers} after ${waitMs} ms (created by the api or aggregator role at start)`);
  }

  #notify(change: AssignmentChange): void {
    // A failing listener is logged, not kept: a rejected chain would fail every later poll for good.
    this.#pending = this.#pending
      .then(async () => {
        for (const l of this.#listeners) await l(change);
      })
      .catch((err) => this.logger.error({ err, groupId: this.groupId }, 'assignment listener failed'));
  }

  onAssignment(listener: (change: AssignmentChange) => void | Promise<void>): void {
    this.#listeners.push(listener);
  }

  async poll(maxRecords: number, timeoutMs: number): Promise<LogRecord[]> {
    if (this.#closed) return [];
    await this.#pending;
    const generation = this.#generation;
    this.raw.setDefaultConsumeTimeout(timeoutMs);
    const messages = await call<RdKafka.Message[]>((cb) => this.raw.consume(maxRecords, (err, msgs) => cb(err, msgs))).catch((err: unknown) => {
      throw kafkaError('poll failed', err);
    });
    // A rebalance inside consume() may have queued listeners (state loading) for these partitions.
    await this.#pending;
    if (generation !== this.#generation) {
      // Records fetched before the revocation may sit in this batch beside the new assignment's:
      // counting them would count them twice once the committed offsets are read again. Drop the
      // batch and restart every assigned partition at its committed offset.
      await this.rewind(this.raw.assignments().map((a) => ({ topic: a.topic, partition: a.partition })));
      return [];
    }
    for (const m of messages ?? []) this.#next.set(`${m.topic}/${m.partition}`, m.offset + 1);
    return (messages ?? []).map((m) => ({
      topic: m.topic,
      partition: m.partition,
      offset: m.offset,
      key: m.key === undefined || m.key === null ? null : m.key.toString(),
      value: m.value ?? Buffer.alloc(0),
      timestamp: m.timestamp ?? 0,
    }));
  }

  /**
   * Commit and coordinator errors (`Local: Waiting for coordinator`, a coordinator moving, a
   * rebalance) are retried for a while, then reported as EMO_ERR_LOG_UNAVAILABLE for the caller's
   * own recovery: a broker blip never ends the process from here.
   */
  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    const deadline = Date.now() + COMMIT_RETRY_MS;
    for (let wait = 50; ; wait = Math.min(1000, wait * 2)) {
      try {
        this.raw.commitSync(offsets);
        return;
      } catch (err) {
        const kind = classifyKafkaError(err);
        if (this.#closed || Date.now() + wait > deadline || (kind !== 'retriable' && kind !== 'other')) throw kafkaError('offset commit failed', err, kind);
        this.logger.debug({ err, kafkaClass: kind }, 'offset commit failed; retrying');
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  async caughtUp(tp: TopicPartition): Promise<boolean> {
    const key = `${tp.topic}/${tp.partition}`;
    try {
      // Asked of the broker, not librdkafka's cache: a wrong "yes" would close windows early.
      const wm = await call<RdKafka.WatermarkOffsets>((cb) => this.raw.queryWatermarkOffsets(tp.topic, tp.partition, 2000, (err, w) => cb(err, w)));
      let next = this.#next.get(key);
      if (next === undefined) {
        // Nothing read since the assignment: we stand at the committed offset.
        const [c] = await call<RdKafka.TopicPartitionOffset[]>((cb) => this.raw.committed([tp], 5000, (err, tps) => cb(err, tps)));
        next = c && c.offset >= 0 ? c.offset : wm.lowOffset;
      }
      return next >= wm.highOffset;
    } catch (err) {
      this.logger.debug({ err, tp }, 'caught-up check failed');
      return false;
    }
  }

  async rewind(partitions: TopicPartition[]): Promise<TopicPartitionOffset[]> {
    if (partitions.length === 0) return [];
    const committed = await call<RdKafka.TopicPartitionOffset[]>((cb) => this.raw.committed(partitions, 10_000, (err, tps) => cb(err, tps)));
    const byKey = new Map(committed.map((tp) => [`${tp.topic}/${tp.partition}`, tp.offset]));
    // Where each rewound partition reads from: its committed offset, -1 with none committed yet.
    const at = partitions.map((p) => {
      const off = byKey.get(`${p.topic}/${p.partition}`);
      return { ...p, offset: off !== undefined && off >= 0 ? off : -1 };
    });
    const rewound = new Map(at.map((p) => [`${p.topic}/${p.partition}`, p.offset]));
    // Re-assigning with explicit offsets (rather than seek) works whatever state the fetcher is in.
    // No commit yet: the start of the partition (-2), as auto.offset.reset=earliest.
    const assignment = this.raw.assignments().map((a) => {
      const off = rewound.get(`${a.topic}/${a.partition}`);
      if (off !== undefined) return { topic: a.topic, partition: a.partition, offset: off >= 0 ? off : -2 };
      // Partitions not rewound keep their place.
      const [pos] = this.raw.position([{ topic: a.topic, partition: a.partition }]);
      return pos && pos.offset >= 0 ? { topic: a.topic, partition: a.partition, offset: pos.offset } : { topic: a.topic, partition: a.partition };
    });
    for (const p of partitions) this.#next.delete(`${p.topic}/${p.partition}`);
    this.raw.assign(assignment);
    return at;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await call((cb) => this.raw.disconnect((err) => cb(err))).catch(() => {});
  }
}
