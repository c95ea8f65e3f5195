import type { Logger } from 'pino';
import type { Log, LogConsumer, LogProducer, TopicSpec, TransactionalSession } from '../../ports/log.js';
import type { KafkaOptions } from '../../config/kafka-options.js';
import { KafkaLogConsumer } from './kafka-consumer.js';
import { KafkaProducer } from './kafka-producer.js';
import { KafkaWindowStateStore } from './kafka-state-store.js';
import { KafkaTransactionalProducer } from './kafka-transactions.js';
import { call, checkFeatures, errCode, rdkafka } from './rdkafka.js';

export interface KafkaTopicSpec extends TopicSpec {
  config?: Record<string, string>;
}

const TOPIC_ALREADY_EXISTS = 36;

/** The Kafka side of the log port; every client it hands out is closed with it. */
export class KafkaLog implements Log {
  readonly #closers: Array<() => Promise<void>> = [];

  constructor(
    readonly o: KafkaOptions,
    private readonly logger: Logger,
    /** Told of every record the broker did not take (after librdkafka's own retries). */
    private readonly onDeliveryError: (err: unknown) => void = () => {},
    /** Told of each recovery a producer makes by itself (a replaced instance). */
    private readonly onProducerRecovery: (kind: string) => void = () => {},
  ) {
    checkFeatures(o);
  }

  async ensureTopics(topics: KafkaTopicSpec[]): Promise<void> {
    const Kafka = rdkafka();
    const admin = Kafka.AdminClient.create({ 'bootstrap.servers': this.o.brokers, 'client.id': `${this.o.clientId}-admin` });
    try {
      for (const t of topics) {
        try {
          await call((cb) =>
            admin.createTopic(
              { topic: t.name, num_partitions: t.partitions, replication_factor: this.o.replicationFactor, config: { 'min.insync.replicas': String(Math.min(2, this.o.replicationFactor)), ...t.config } },
              15_000,
              (err) => cb(err),
            ),
          );
          this.logger.info({ topic: t.name, partitions: t.partitions }, 'topic created');
        } catch (err) {
          if (errCode(err) !== TOPIC_ALREADY_EXISTS) throw err;
        }
      }
    } finally {
      admin.disconnect();
    }
  }

  async producer(): Promise<LogProducer & KafkaProducer> {
    const p = await KafkaProducer.connect(this.o, this.logger.child({ client: 'producer' }), this.onDeliveryError, this.onProducerRecovery);
    this.#closers.push(() => p.close());
    return p;
  }

  async consumer(opts: { groupId: string; topics: string[]; sessionTimeoutMs?: number }): Promise<LogConsumer> {
    const c = await KafkaLogConsumer.connect(this.o, { ...opts, logger: this.logger.child({ client: 'consumer', group: opts.groupId }) });
    this.#closers.push(() => c.close());
    return c;
  }

  async transactionalSession(opts: { transactionalId: string; groupId: string; topics: string[]; onRecovery?: (kind: string) => void }): Promise<TransactionalSession> {
    const { transactionalId, groupId, topics, onRecovery } = opts;
    const producer = await KafkaTransactionalProducer.connect(this.o, transactionalId, this.logger.child({ client: 'tx', transactionalId }), onRecovery);
    let consumer: KafkaLogConsumer;
    try {
      consumer = await KafkaLogConsumer.connect(this.o, { groupId, topics, start: 'caller', logger: this.logger.child({ client: 'consumer', group: groupId }) });
    } catch (err) {
      await producer.close();
      throw err;
    }
    let closed: Promise<void> | undefined;
    const session: TransactionalSession = {
      consumer,
      commit: (records, offsets) => producer.commitTransaction(records, consumer, offsets),
      fence: (target) => producer.fence(target),
      close: () => (closed ??= consumer.close().finally(() => producer.close())),
    };
    this.#closers.push(() => session.close());
    return session;
  }

  windowStateStore(topic: string): KafkaWindowStateStore {
    const store = new KafkaWindowStateStore(this.o, topic, this.logger.child({ stage: 'aggregator-state' }));
    this.#closers.push(() => store.close());
    return store;
  }

  async close(): Promise<void> {
    for (const c of this.#closers.splice(0).reverse()) await c().catch(() => {});
  }
}
