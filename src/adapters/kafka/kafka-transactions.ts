import type { Logger } from 'pino';
import { emoError } from '../../domain/errors.js';
import type { ProducerRecord, TopicPartition, TopicPartitionOffset } from '../../ports/log.js';
import type { FenceTarget } from '../../ports/window-state-store.js';
import type { KafkaOptions } from '../../config/kafka-options.js';
import type { KafkaLogConsumer } from './kafka-consumer.js';
import { classifyKafkaError, kafkaError, needsNewProducer } from './kafka-errors.js';
import { producerConfig } from './kafka-producer.js';
import { call, CALL_SLACK_MS, disconnectInBackground, forwardDebugLog, rdkafka, type RdKafka } from './rdkafka.js';

/** How often a retriable commit is tried again before the transaction is given up (and aborted). */
const COMMIT_ATTEMPTS = 3;
/**
 * The bound of one transaction, begin to commit, and of each call in it: past the transaction
 * timeout (10 s) the coordinator aborts it anyway, so waiting longer only keeps the stage from its
 * recovery. librdkafka's own defaults (and this file's before) let one commit wait ~150 s.
 */
const TRANSACTION_BOUND_MS = 15_000;
const CALL_MS = 10_000;
/**
 * sendOffsetsToTransaction: the group coordinator answers in milliseconds, or has died with its
 * node, and then this call does not answer at all (librdkafka 5456/5511), however long the
 * coordinator takes to move (the broker session timeout, an election and a load: 6-8 s in the
 * cluster profile). Past the bound the transaction is aborted and tried again, past the slack the
 * producer is replaced; a replacement finds the coordinator wherever it is by then. So the bound
 * is not a wait for the move but the time to notice the call is lost: with 5 s + 1 s, the two
 * slowest of five node deaths in the cluster tier went 10.6 and 11.2 s without updates, 6 s of
 * it this call.
 */
const SEND_OFFSETS_MS = 2_500;
const SEND_OFFSETS_SLACK_MS = 500;
/** initTransactions: finds the coordinator and fences the previous instance (waits out its open transaction). */
const INIT_MS = 20_000;

/**
 * Consume-transform-produce in one Kafka transaction: outputs, changelog records and the input
 * offsets commit together. A restarted instance with the same transactional id fences the old one,
 * so a zombie cannot commit after its replacement started.
 *
 * A failed transaction is recovered by its error class (see kafka-errors.ts) and then reported to
 * the caller, who rewinds to the last commit: abortable → abort; fatal, fenced or invalid state (a
 * broker restart leaves librdkafka's transaction manager in one) → this instance is replaced by a
 * new producer under the same transactional.id before the next transaction.
 */
/** The transactional half of a Kafka TransactionalSession (kafka-log.ts pairs it with its consumer). */
export class KafkaTransactionalProducer {
  #closed = false;
  #producer: RdKafka.Producer | undefined;
  /** Set when the instance must be replaced; the next transaction does it first. */
  #broken = false;

  private constructor(
    private readonly o: KafkaOptions,
    private readonly transactionalId: string,
    private readonly logger: Logger,
    private readonly onRecovery: (kind: string) => void,
  ) {}

  static async connect(o: KafkaOptions, transactionalId: string, logger: Logger, onRecovery: (kind: string) => void = () => {}): Promise<KafkaTransactionalProducer> {
    const p = new KafkaTransactionalProducer(o, transactionalId, logger, onRecovery);
    p.#producer = await p.#create();
    return p;
  }

  /*
   * transaction.timeout.ms is short (10 s) because a member killed mid-transaction and never
   * restarted under its id leaves the transaction open until the coordinator aborts it: until then
   * read_committed readers (the state loader of whoever takes its partitions, the publisher) wait.
   */
  async #create(): Promise<RdKafka.Producer> {
    const Kafka = rdkafka();
    const producer = new Kafka.Producer(
      producerConfig(this.o, { 'transactional.id': this.transactionalId, 'transaction.timeout.ms': 10_000, 'statistics.interval.ms': 0, dr_cb: false, 'linger.ms': 0 }) as RdKafka.ProducerGlobalConfig,
      {},
    );
    producer.on('event.error', (err) => this.logger.warn({ err }, 'kafka transactional producer error'));
    forwardDebugLog(this.o, producer, this.logger);
    try {
      await call((cb) => producer.connect({ timeout: 10_000 }, (err) => cb(err)), 10_000 + CALL_SLACK_MS);
      producer.setPollInterval(5);
      await call((cb) => producer.initTransactions(INIT_MS, (err) => cb(err)), INIT_MS + CALL_SLACK_MS);
    } catch (err) {
      this.#abandon(producer);
      throw kafkaError('cannot start the transactional producer', err);
    }
    return producer;
  }

  /**
   * Not awaited: see disconnectInBackground. The replacement's initTransactions fences this one.
   * Disconnected only once its calls have answered: librdkafka's destroy waits for a transactional
   * call in flight, which waits for librdkafka's main thread, which the destroy stops (a deadlock
   * seen in the cluster tier, holding two threads of libuv's pool for good).
   */
  #abandon(p: RdKafka.Producer): void {
    p.setPollInterval(0);
    void this.#idle(p).then(() => disconnectInBackground(p, this.logger, 'transactional producer'));
  }

  /** Calls in flight per producer instance, and who waits for none to be. */
  readonly #inflight = new WeakMap<RdKafka.Producer, { n: number; idle: Array<() => void> }>();

  /** `fn`'s native call, counted in flight on `p` until librdkafka answers (whenever that is). */
  #track<T>(p: RdKafka.Producer, fn: (cb: (err: RdKafka.LibrdKafkaError | null | undefined, value?: T) => void) => void) {
    return (cb: (err: RdKafka.LibrdKafkaError | null | undefined, value?: T) => void) => {
      const c = this.#inflight.get(p) ?? { n: 0, idle: [] };
      this.#inflight.set(p, c);
      c.n++;
      fn((err, value) => {
        if (--c.n === 0) for (const w of c.idle.splice(0)) w();
        cb(err, value);
      });
    };
  }

  #idle(p: RdKafka.Producer): Promise<void> {
    const c = this.#inflight.get(p);
    if (!c || c.n === 0) return Promise.resolve();
    return new Promise((resolve) => c.idle.push(resolve));
  }

  /** Replaces a dead instance: the new one's initTransactions fences the old epoch and aborts what it left open. */
  async #replace(): Promise<RdKafka.Producer> {
    const old = this.#producer;
    this.#producer = undefined;
    if (old) this.#abandon(old);
    const p = await this.#create();
    this.#producer = p;
    this.#broken = false;
    this.onRecovery('producer-recreated');
    this.logger.warn('transactional producer replaced under the same transactional.id');
    return p;
  }

  async commitTransaction(records: ProducerRecord[], consumer: KafkaLogConsumer, offsets: TopicPartitionOffset[]): Promise<void> {
    if (this.#closed) throw emoError('CLOSED', 'transactional producer is closed');
    const p = this.#broken || !this.#producer ? await this.#replace() : this.#producer;
    const deadline = Date.now() + TRANSACTION_BOUND_MS;
    const left = () => Math.max(1, Math.min(CALL_MS, deadline - Date.now()));
    // Each call's own timeout, and a JS deadline a little past it: a call that never answers makes
    // this producer 'stuck' (replaced before the next transaction) instead of holding the stage.
    // sendOffsetsToTransaction does hang after a node's death (librdkafka 5456/5511, see
    // CALL_SLACK_MS): before this, the aggregators waited for the 60 s ceiling and gave up.
    const within = <T>(fn: (cb: (err: RdKafka.LibrdKafkaError | null | undefined, value?: T) => void) => void, ms: number) => call<T>(this.#track(p, fn), ms + CALL_SLACK_MS);
    let begun = false;
    // Until commitTransaction is asked, this transaction cannot commit: a failure before it is an
    // abort for sure (explicit, by the fence of a replacement, or by the coordinator's timeout).
    let committing = false;
    try {
      await within((cb) => p.beginTransaction((err) => cb(err)), CALL_MS);
      begun = true;
      for (const r of records) p.produce(r.topic, r.partition ?? null, r.value, r.key, Date.now());
      // The records are in the log before the offsets are sent: while an offset commit of this
      // transaction is pending in the group coordinator, its changelog snapshot is there too, as
      // an open transaction. A reader that finds the changelog without one knows no commit of its
      // partition is pending, without asking the group coordinator (see the aggregator's restore).
      if (records.length > 0) {
        const ms = left();
        await within((cb) => p.flush(ms, (err) => cb(err)), ms);
      }
      if (offsets.length > 0) {
        // Its own shorter bound: when the coordinator it cached has died, the call does not answer
        // before our deadline whatever its timeout (librdkafka 5456/5511), and every second of that
        // deadline was a second without windows for this member's matches: with 10 s + 3 s, a
        // node's death in the cluster tier cost 12.7-16.8 s without updates.
        const ms = Math.min(left(), SEND_OFFSETS_MS);
        await call(this.#track<void>(p, (cb) => p.sendOffsetsToTransaction(offsets, consumer.raw, ms, (err) => cb(err))), ms + SEND_OFFSETS_SLACK_MS);
      }
      for (let attempt = 1; ; attempt++) {
        try {
          const ms = left();
          committing = true;
          await within((cb) => p.commitTransaction(ms, (err) => cb(err)), ms);
          return;
        } catch (err) {
          // Retriable: the commit's outcome is not known yet; asking again is how librdkafka learns it.
          if (classifyKafkaError(err) !== 'retriable' || attempt >= COMMIT_ATTEMPTS || Date.now() >= deadline) throw err;
        }
      }
    } catch (err) {
      const kind = classifyKafkaError(err);
      if (needsNewProducer(kind)) {
        this.#broken = true;
      } else if (begun) {
        try {
          await within((cb) => p.abortTransaction(CALL_MS, (e) => cb(e)), CALL_MS);
          this.onRecovery('aborted');
        } catch (abortErr) {
          // An abort that fails leaves the transaction manager in no usable state: start afresh.
          this.logger.warn({ err: abortErr }, 'abort failed; the producer will be replaced');
          this.#broken = true;
        }
      }
      const outcome = committing ? 'unknown' : 'aborted';
      this.logger.warn({ err, kafkaClass: kind, replace: this.#broken, outcome }, 'transaction failed');
      const e = kafkaError('Kafka transaction failed', err, kind);
      e.details!.outcome = outcome;
      throw e;
    }
  }

  /**
   * A new instance under the same transactional.id: its initTransactions aborts whatever
   * transaction of ours the coordinator knows to be open. A target partition also gets a
   * transaction that writes to it and aborts: the abort marker, written by the coordinator under
   * the producer id of the open transaction, ends that one too (the partition's producer state ends
   * a producer id's open transaction at its next marker, whatever epoch started it). That is the
   * way out of a hanging transaction, one the coordinator lost track of, which freezes the
   * partition's last stable offset, so read_committed readers (the aggregator's restore) never see
   * past it. Kafka's admin abort (KIP-664, `kafka-transactions abort`) ends one too, but librdkafka
   * does not offer it. Another writer's transaction is ended by a producer of our own under its id,
   * closed at once.
   */
  async fence(target?: FenceTarget): Promise<void> {
    if (this.#closed) throw emoError('CLOSED', 'transactional producer is closed');
    if (target?.writer !== undefined && target.writer !== this.transactionalId) {
      this.logger.warn({ tp: target.tp, writer: target.writer }, 'ending the transaction another member left open on the changelog');
      const other = await KafkaTransactionalProducer.connect(this.o, target.writer, this.logger.child({ fencing: target.writer }), this.onRecovery);
      try {
        await other.#abortedWrite(target.tp);
      } finally {
        await other.close();
      }
      return;
    }
    await this.#replace();
    if (target) await this.#abortedWrite(target.tp);
  }

  /** A transaction with one record on `tp`, aborted: it leaves nothing a read_committed reader sees. */
  async #abortedWrite(tp: TopicPartition): Promise<void> {
    const p = this.#producer;
    if (!p) throw emoError('CLOSED', 'transactional producer is closed');
    const within = <T>(fn: (cb: (err: RdKafka.LibrdKafkaError | null | undefined, value?: T) => void) => void) => call<T>(this.#track(p, fn), CALL_MS + CALL_SLACK_MS);
    try {
      await within((cb) => p.beginTransaction((err) => cb(err)));
      try {
        // A key no snapshot has (a reader of snapshots skips it), and the writer's name: should this
        // transaction ever be the one left open, the next fence knows whose it is.
        p.produce(tp.topic, tp.partition, Buffer.from(JSON.stringify({ writer: this.transactionalId })), 'fence', Date.now());
        await within((cb) => p.flush(CALL_MS, (err) => cb(err)));
      } finally {
        await within((cb) => p.abortTransaction(CALL_MS, (err) => cb(err)));
      }
      this.onRecovery('hanging-transaction-ended');
    } catch (err) {
      // Whatever state the transaction manager is left in, the next transaction starts afresh.
      this.#broken = true;
      throw kafkaError(`could not end the open transaction on ${tp.topic}/${tp.partition}`, err);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const p = this.#producer;
    this.#producer = undefined;
    if (!p) return;
    // A call that never answered would make the disconnect wait for ever: disconnected in the
    // background once it answers (see #abandon).
    if ((this.#inflight.get(p)?.n ?? 0) > 0) {
      this.logger.warn('transactional producer closed with a call on it unanswered: disconnected when it answers');
      this.#abandon(p);
      return;
    }
    await call((cb) => p.disconnect(5_000, (err) => cb(err)), 5_000 + CALL_SLACK_MS).catch(() => {});
  }
}
