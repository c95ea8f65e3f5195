import type { Logger } from 'pino';
import { emoError } from '../../domain/errors.js';
import type { LogConsumer, ProducerRecord, TopicPartitionOffset, TransactionalProducer } from '../port.js';
import type { KafkaOptions } from './kafka-config.js';
import { KafkaLogConsumer } from './kafka-consumer.js';
import { producerConfig } from './kafka-producer.js';
import { call, rdkafka, type RdKafka } from './rdkafka.js';

/**
 * Consume-transform-produce in one Kafka transaction: outputs, changelog records and the input
 * offsets commit together. A restarted instance with the same transactional id fences the old one,
 * so a zombie cannot commit after its replacement started.
 */
export class KafkaTransactionalProducer implements TransactionalProducer {
  #closed = false;

  private constructor(
    private readonly producer: RdKafka.Producer,
    private readonly logger: Logger,
  ) {}

  /*
   * transaction.timeout.ms is short (10 s) because a member killed mid-transaction and never
   * restarted under its id leaves the transaction open until the coordinator aborts it: until then
   * read_committed readers (the state loader of whoever takes its partitions, the publisher) wait.
   */
  static async connect(o: KafkaOptions, transactionalId: string, logger: Logger): Promise<KafkaTransactionalProducer> {
    const Kafka = rdkafka();
    const producer = new Kafka.Producer(
      producerConfig(o, { 'transactional.id': transactionalId, 'transaction.timeout.ms': 10_000, 'statistics.interval.ms': 0, dr_cb: false, 'linger.ms': 0 }) as RdKafka.ProducerGlobalConfig,
      {},
    );
    producer.on('event.error', (err) => logger.warn({ err }, 'kafka transactional producer error'));
    await call((cb) => producer.connect({ timeout: 10_000 }, (err) => cb(err)));
    producer.setPollInterval(5);
    await call((cb) => producer.initTransactions(30_000, (err) => cb(err)));
    return new KafkaTransactionalProducer(producer, logger);
  }

  async commitTransaction(records: ProducerRecord[], consumer: LogConsumer, offsets: TopicPartitionOffset[]): Promise<void> {
    if (!(consumer instanceof KafkaLogConsumer)) throw emoError('INTERNAL', 'Kafka transactions need a Kafka consumer');
    const p = this.producer;
    await call((cb) => p.beginTransaction((err) => cb(err)));
    try {
      for (const r of records) p.produce(r.topic, r.partition ?? null, r.value, r.key, Date.now());
      if (offsets.length > 0) await call((cb) => p.sendOffsetsToTransaction(offsets, consumer.raw, 30_000, (err) => cb(err)));
      await call((cb) => p.commitTransaction(30_000, (err) => cb(err)));
    } catch (err) {
      this.logger.warn({ err }, 'transaction failed; aborting');
      await call((cb) => p.abortTransaction(30_000, (e) => cb(e))).catch((abortErr) => this.logger.error({ err: abortErr }, 'abort failed'));
      throw emoError('LOG_UNAVAILABLE', 'Kafka transaction failed and was aborted', { cause: err });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await call((cb) => this.producer.disconnect((err) => cb(err))).catch(() => {});
  }
}
