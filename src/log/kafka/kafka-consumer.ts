import type { Logger } from 'pino';
import type { AssignmentChange, LogConsumer, LogRecord, TopicPartition, TopicPartitionOffset } from '../port.js';
import type { KafkaOptions } from './kafka-config.js';
import { call, rdkafka, type RdKafka } from './rdkafka.js';

/**
 * LogConsumer over librdkafka's KafkaConsumer: group membership with manual commits and
 * read_committed, so only the output of committed transactions is ever seen.
 */
export class KafkaLogConsumer implements LogConsumer {
  readonly raw: RdKafka.KafkaConsumer;
  readonly #listeners: Array<(c: AssignmentChange) => void | Promise<void>> = [];
  #pending: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(
    o: KafkaOptions,
    private readonly groupId: string,
    private readonly logger: Logger,
    sessionTimeoutMs: number,
  ) {
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
        rebalance_cb(this: RdKafka.KafkaConsumer, err: RdKafka.LibrdKafkaError, assignment: RdKafka.Assignment[]) {
          const tps = assignment.map((a) => ({ topic: a.topic, partition: a.partition }));
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

  static async connect(o: KafkaOptions, opts: { groupId: string; topics: string[]; logger: Logger; sessionTimeoutMs?: number }): Promise<KafkaLogConsumer> {
    const c = new KafkaLogConsumer(o, opts.groupId, opts.logger, opts.sessionTimeoutMs ?? 6000);
    await call((cb) => c.raw.connect({ timeout: 10_000 }, (err) => cb(err)));
    c.raw.subscribe(opts.topics);
    return c;
  }

  #notify(change: AssignmentChange): void {
    this.#pending = this.#pending.then(async () => {
      for (const l of this.#listeners) await l(change);
    });
    this.#pending.catch((err) => this.logger.error({ err, groupId: this.groupId }, 'assignment listener failed'));
  }

  onAssignment(listener: (change: AssignmentChange) => void | Promise<void>): void {
    this.#listeners.push(listener);
  }

  async poll(maxRecords: number, timeoutMs: number): Promise<LogRecord[]> {
    if (this.#closed) return [];
    await this.#pending;
    this.raw.setDefaultConsumeTimeout(timeoutMs);
    const messages = await call<RdKafka.Message[]>((cb) => this.raw.consume(maxRecords, (err, msgs) => cb(err, msgs)));
    // A rebalance inside consume() may have queued listeners (state loading) for these partitions.
    await this.#pending;
    return (messages ?? []).map((m) => ({
      topic: m.topic,
      partition: m.partition,
      offset: m.offset,
      key: m.key === undefined || m.key === null ? null : m.key.toString(),
      value: m.value ?? Buffer.alloc(0),
      timestamp: m.timestamp ?? 0,
    }));
  }

  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    if (offsets.length > 0) this.raw.commitSync(offsets);
  }

  caughtUp(tp: TopicPartition): boolean {
    try {
      // Both figures are local: the high watermark from the last fetch response, our position.
      const high = this.raw.getWatermarkOffsets(tp.topic, tp.partition).highOffset;
      const [pos] = this.raw.position([tp]);
      const position = pos && pos.offset >= 0 ? pos.offset : -1;
      return high >= 0 && position >= high;
    } catch {
      return false;
    }
  }

  async rewind(partitions: TopicPartition[]): Promise<void> {
    if (partitions.length === 0) return;
    const committed = await call<RdKafka.TopicPartitionOffset[]>((cb) => this.raw.committed(partitions, 10_000, (err, tps) => cb(err, tps)));
    for (const tp of committed) {
      // No commit yet (negative offset): start of the partition, as auto.offset.reset=earliest.
      const offset = tp.offset >= 0 ? tp.offset : 0;
      await call((cb) => this.raw.seek({ topic: tp.topic, partition: tp.partition, offset }, 10_000, (err) => cb(err)));
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await call((cb) => this.raw.disconnect((err) => cb(err))).catch(() => {});
  }
}
