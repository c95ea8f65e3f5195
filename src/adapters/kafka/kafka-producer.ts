import type { Logger } from 'pino';
import { emoError } from '../../domain/errors.js';
import type { LogProducer, ProducerRecord } from '../../ports/log.js';
import type { KafkaOptions } from '../../config/kafka-options.js';
import { call, CALL_SLACK_MS, debugConfig, disconnectInBackground, forwardDebugLog, rdkafka, type RdKafka } from './rdkafka.js';
import { DeliveryWatch } from './delivery-watch.js';

interface Pending {
  resolve(): void;
  reject(err: unknown): void;
}

export function producerConfig(o: KafkaOptions, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    'bootstrap.servers': o.brokers,
    'client.id': o.clientId,
    // Idempotence implies acks=all, retries and ordering per partition: no duplicates from retries.
    'enable.idempotence': true,
    acks: 'all',
    'compression.codec': o.compression,
    'linger.ms': o.lingerMs,
    'batch.num.messages': o.batchSize,
    // librdkafka's own queue is larger than our in-flight bound, so it never refuses mid-batch.
    'queue.buffering.max.messages': Math.min(10_000_000, o.maxInFlight * 2),
    'queue.buffering.max.kbytes': 1_048_576,
    'message.timeout.ms': o.messageTimeoutMs,
    'socket.keepalive.enable': true,
    // librdkafka asks again for a transaction coordinator (or a partition's leader) only after its
    // connection to the dead one gives up, which backs off up to 10 s by default: in the cluster
    // tier a transactional producer found its new coordinator 6-8.6 s after Kafka had moved it
    // (the longest part of a node death's silence). 1 s, as the consumers already have.
    'reconnect.backoff.max.ms': 1000,
    'statistics.interval.ms': 1000,
    dr_cb: true,
    ...debugConfig(o),
    ...extra,
  };
}

const PROBE_INTERVAL_MS = 1000;

/**
 * Whether librdkafka's statistics show any broker connection up, the bootstrap connection
 * included: once the cluster answers on any connection, librdkafka finds the leaders itself.
 */
export function anyBrokerUp(statsJson: string): boolean {
  const brokers = Object.values((JSON.parse(statsJson) as { brokers?: Record<string, { state: string }> }).brokers ?? {});
  return brokers.some((b) => b.state === 'UP');
}

/** librdkafka's ERR__ALL_BROKERS_DOWN; node-rdkafka does not always keep its code on error events. */
export function isAllBrokersDown(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  return Number(e?.code) === -187 || /all broker connections are down/i.test(String(e?.message ?? ''));
}

/**
 * LogProducer over librdkafka. `durable` resolves on the broker's acknowledgement (acks=all),
 * `queued` once librdkafka holds the record. A send that would pass `maxInFlight` unacknowledged
 * records, or that comes while every broker is down, is refused whole with a retryable 503 error
 * before anything is queued: no partial batches, no silent drops.
 */
export class KafkaProducer implements LogProducer {
  #producer: RdKafka.Producer;
  #inFlight = 0;
  #brokersUp = false;
  /** When a send last went through while no broker was seen up (the half-open probe). */
  #lastProbe = 0;
  #connected = false;
  #closed = false;
  readonly #deliveries: DeliveryWatch;
  #replacing: Promise<void> | undefined;

  private constructor(
    private readonly o: KafkaOptions,
    private readonly logger: Logger,
    private readonly onDeliveryError: (err: unknown) => void,
    private readonly onRecovery: (kind: string) => void,
  ) {
    // Longer than any acknowledgement a working cluster gives (a leader's failover included).
    this.#deliveries = new DeliveryWatch(Math.max(10_000, 2 * o.ackTimeoutMs));
    this.#producer = this.#create();
  }

  #create(): RdKafka.Producer {
    const Kafka = rdkafka();
    const producer = new Kafka.Producer(producerConfig(this.o) as RdKafka.ProducerGlobalConfig, {});
    forwardDebugLog(this.o, producer, this.logger);
    producer.on('delivery-report', (err, report) => {
      this.#inFlight--;
      const pending = report.opaque as Pending | undefined;
      this.#deliveries.answered(!err);
      if (err) {
        this.onDeliveryError(err);
        this.logger.warn({ err, topic: report.topic }, 'delivery failed');
        pending?.reject(err);
      } else {
        pending?.resolve();
      }
    });
    producer.on('event.stats', (stats) => {
      // A replaced instance's statistics say nothing about the one in use.
      if (producer !== this.#producer) return;
      try {
        this.#brokersUp = anyBrokerUp(stats.message);
      } catch {
        // stats are advisory; a malformed one changes nothing
      }
      this.#replaceIfStuck();
    });
    producer.on('event.error', (err) => {
      // All brokers down: until the stats say otherwise, refuse fast instead of queueing.
      if (producer === this.#producer && isAllBrokersDown(err)) this.#brokersUp = false;
      this.logger.warn({ err }, 'kafka producer error');
    });
    return producer;
  }

  static async connect(o: KafkaOptions, logger: Logger, onDeliveryError: (err: unknown) => void = () => {}, onRecovery: (kind: string) => void = () => {}): Promise<KafkaProducer> {
    const p = new KafkaProducer(o, logger, onDeliveryError, onRecovery);
    await call((cb) => p.#producer.connect({ timeout: 10_000 }, (err) => cb(err)));
    p.#producer.setPollInterval(5);
    p.#connected = true;
    p.#brokersUp = true;
    return p;
  }

  /**
   * Deliveries stopped (see DeliveryWatch): a new instance takes the sends from now on. The old one
   * keeps its records until they are delivered or time out (their senders were told 503, or in
   * queued mode hold a 202 whose record may still land), then is disconnected.
   */
  #replaceIfStuck(): void {
    if (this.#replacing || this.#closed || !this.#deliveries.stuck()) return;
    this.#replacing = this.#replace().finally(() => (this.#replacing = undefined));
  }

  async #replace(): Promise<void> {
    this.logger.warn({ stuckMs: this.#deliveries.stuckMs }, 'no record delivered for too long: replacing the Kafka producer');
    const next = this.#create();
    try {
      await call((cb) => next.connect({ timeout: 10_000 }, (err) => cb(err)), 10_000 + CALL_SLACK_MS);
    } catch (err) {
      this.logger.warn({ err }, 'the replacement Kafka producer could not connect; the old one stays');
      disconnectInBackground(next, this.logger, 'producer');
      this.#deliveries.restart();
      return;
    }
    if (this.#closed) {
      disconnectInBackground(next, this.logger, 'producer');
      return;
    }
    const old = this.#producer;
    next.setPollInterval(5);
    this.#producer = next;
    this.#brokersUp = true;
    this.#deliveries.restart();
    this.onRecovery('producer-recreated');
    void call((cb) => old.flush(this.o.messageTimeoutMs, (err) => cb(err)), this.o.messageTimeoutMs + CALL_SLACK_MS)
      .catch(() => {})
      .finally(() => disconnectInBackground(old, this.logger, 'replaced producer'));
  }

  ready(): boolean {
    return this.#connected && !this.#closed && this.#brokersUp && !this.#deliveries.stuck();
  }

  async send(records: ProducerRecord[]): Promise<void> {
    if (this.#closed) throw emoError('LOG_UNAVAILABLE', 'producer is closed', { retryAfterSec: this.o.retryAfterSec });
    this.#replaceIfStuck();
    if (!this.#brokersUp && !this.#probeDue()) throw emoError('LOG_UNAVAILABLE', 'no Kafka broker is reachable', { retryAfterSec: this.o.retryAfterSec });
    if (this.#inFlight + records.length > this.o.maxInFlight) {
      throw emoError('BACKPRESSURE', undefined, { retryAfterSec: this.o.retryAfterSec });
    }
    const durable = this.o.ackMode === 'durable';
    const acks: Promise<void>[] = [];
    try {
      for (const r of records) {
        let pending: Pending | undefined;
        if (durable) acks.push(new Promise<void>((resolve, reject) => (pending = { resolve, reject })));
        this.#producer.produce(r.topic, r.partition ?? null, r.value, r.key, Date.now(), pending);
        this.#inFlight++;
        this.#deliveries.sent();
      }
    } catch (cause) {
      // Only if librdkafka's queue filled despite the bound above; the client retries the batch.
      for (const a of acks) a.catch(() => {});
      throw emoError('BACKPRESSURE', undefined, { cause, retryAfterSec: this.o.retryAfterSec });
    }
    if (durable) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no acknowledgement within ${this.o.ackTimeoutMs} ms`)), this.o.ackTimeoutMs);
      });
      try {
        await Promise.race([Promise.all(acks), timeout]);
      } catch (cause) {
        // Not acknowledged (yet): the client retries. The records may still land later, so a retry
        // can duplicate a reaction but never lose one: at-least-once from client to log.
        for (const a of acks) a.catch(() => {});
        throw emoError('LOG_UNAVAILABLE', 'Kafka did not acknowledge the reactions', { cause, retryAfterSec: this.o.retryAfterSec });
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /**
   * While no broker is seen up, one send per probe interval goes through anyway (a circuit
   * breaker's half-open state). librdkafka connects to a partition leader only when it has
   * something to send to it: refusing every send would leave the leader's connection down for
   * good after a broker restart, and the producer refusing for good with it.
   */
  #probeDue(): boolean {
    const now = Date.now();
    if (now - this.#lastProbe < PROBE_INTERVAL_MS) return false;
    this.#lastProbe = now;
    return true;
  }

  async flush(timeoutMs = 10_000): Promise<void> {
    const p = this.#producer;
    await call((cb) => p.flush(timeoutMs, (err) => cb(err)));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#replacing;
    await this.flush().catch((err) => this.logger.warn({ err }, 'flush on close failed'));
    const p = this.#producer;
    await call((cb) => p.disconnect((err) => cb(err))).catch(() => {});
  }
}
