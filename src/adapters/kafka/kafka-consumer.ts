import type { Logger } from 'pino';
import type { AssignmentChange, GroupProgress, LogConsumer, LogRecord, TopicPartition, TopicPartitionOffset } from '../../ports/log.js';
import type { KafkaOptions } from '../../config/kafka-options.js';
import { emoError } from '../../domain/errors.js';
import { classifyKafkaError, kafkaError } from './kafka-errors.js';
import { call, CALL_SLACK_MS, debugConfig, disconnectInBackground, errCode, forwardDebugLog, rdkafka, type RdKafka } from './rdkafka.js';
import { tpKey } from '../../ports/log.js';

const COMMIT_RETRY_MS = 10_000;
const TOPIC_WAIT_MS = 120_000;
/** Bounds of the group coordinator's answers (a stable fetch can wait on a pending commit for ever). */
const REWIND_COMMITTED_MS = 10_000;
const CAUGHT_UP_COMMITTED_MS = 5_000;
/**
 * What every client of a consumer group here shares (the consumer and its fresh-client probe):
 * commits are the stage's own, and only committed transactions are read.
 */
function groupClientConfig(o: KafkaOptions, groupId: string, suffix: string): Record<string, string | number | boolean> {
  return {
    'bootstrap.servers': o.brokers,
    'client.id': `${o.clientId}-${groupId}${suffix}`,
    'group.id': groupId,
    'enable.auto.commit': false,
    'isolation.level': 'read_committed',
    ...debugConfig(o),
  };
}

/** A seek waits for the partition's fetcher to start after an assignment; both are local to librdkafka. */
const SEEK_BOUND_MS = 10_000;
const SEEK_CALL_MS = 1_000;
/** librdkafka's logical offsets and the errors of a seek on a partition not started yet. */
const OFFSET_END = -1;
const OFFSET_BEGINNING = -2;
const ERR_STATE = -172;
const ERR_PREV_IN_PROGRESS = -177;
/** A fresh client asks for the group's progress when the consumer's own cannot, at most this often. */
const PROBE_EVERY_MS = 5_000;
const PROBE_CONNECT_MS = 5_000;
/** A pump's consume(): short, so the stage's own poll never waits long behind it. */
const PUMP_WAIT_MS = 10;
const PUMP_MAX_RECORDS = 1000;

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
  /** A consume() in flight, from poll() or pump(). */
  #consuming: Promise<unknown> | undefined;
  /** Bumped by every seek(): records fetched before it are not returned after it. */
  #seeks = 0;
  /** Seeks in progress: no pump meanwhile. */
  #seeking = 0;
  /** Records a pump fetched, for the next poll, with the assignment and positions they were read under. */
  #held: { generation: number; seeks: number; messages: RdKafka.Message[] } | undefined;
  /** Next offset to read per partition, from what poll() returned; cleared on every (re)assignment. */
  readonly #next = new Map<string, number>();
  /**
   * Where librdkafka's fetch last reached a partition's end (its end-of-partition event), under the
   * assignment and positions it was read under. On a transactional topic the end lies past offsets
   * no record is returned for (commit markers, aborted transactions' records), so the last record
   * read says "behind" for ever once input pauses: a quiet match's publisher looked starved.
   */
  readonly #ends = new Map<string, { offset: number; generation: number; seeks: number }>();
  #closed = false;
  /** The subscribed topics (groupProgress reads the whole group's position on them). */
  #topics: string[] = [];
  /** When a fresh client last asked for the group's progress (see groupProgress). */
  #lastProbe = Number.NEGATIVE_INFINITY;
  /** Where poll() is waiting, for a stuck-phase log (see diagnostics()). */
  #where = 'idle';

  private readonly options: KafkaOptions;

  private constructor(
    o: KafkaOptions,
    private readonly groupId: string,
    private readonly logger: Logger,
    sessionTimeoutMs: number,
    /**
     * committed: a newly assigned partition starts at the group's committed offset (librdkafka
     * fetches it). caller: the stage says where (seek), from its own state; until then the
     * partition sits at its end, and no committed offset is ever fetched for it, so a fetch that
     * hangs (a pending transactional commit the broker never resolves) cannot stall it, and no
     * late answer of one can move it after the stage's seek (librdkafka issue 5345).
     */
    private readonly start: 'committed' | 'caller' = 'committed',
  ) {
    this.options = o;
    const Kafka = rdkafka();
    const self = this;
    this.raw = new Kafka.KafkaConsumer(
      {
        ...groupClientConfig(o, groupId, ''),
        'enable.auto.offset.store': false,
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
          // librdkafka calls this from its own thread's queue: an exception here is uncaught and
          // ends the process. assign() throws "Erroneous state" when the callback comes while the
          // consumer is closing (seen in tests that close a session during a rebalance).
          const apply = (what: () => void) => {
            try {
              what();
              return true;
            } catch (e) {
              if (!self.#closed) logger.warn({ err: e, groupId }, 'rebalance: could not apply the assignment');
              return false;
            }
          };
          if (err.code === Kafka.CODES.ERRORS.ERR__ASSIGN_PARTITIONS) {
            const at = start === 'caller' ? assignment.map((a) => ({ topic: a.topic, partition: a.partition, offset: OFFSET_END })) : assignment;
            if (apply(() => this.assign(at))) self.#notify({ assigned: tps, revoked: [] });
          } else if (err.code === Kafka.CODES.ERRORS.ERR__REVOKE_PARTITIONS) {
            self.#notify({ assigned: [], revoked: tps });
            apply(() => this.unassign());
          } else {
            logger.error({ err }, 'rebalance error');
          }
        },
      } as RdKafka.ConsumerGlobalConfig,
      { 'auto.offset.reset': 'earliest' },
    );
    this.raw.on('event.error', (err) => logger.warn({ err, groupId }, 'kafka consumer error'));
    this.raw.on('partition.eof', (e: { topic: string; partition: number; offset: number }) => {
      this.#ends.set(tpKey(e), { offset: e.offset, generation: this.#generation, seeks: this.#seeks });
    });
    forwardDebugLog(o, this.raw, logger);
  }

  static async connect(o: KafkaOptions, opts: { groupId: string; topics: string[]; logger: Logger; sessionTimeoutMs?: number; topicWaitMs?: number; start?: 'committed' | 'caller' }): Promise<KafkaLogConsumer> {
    const c = new KafkaLogConsumer(o, opts.groupId, opts.logger, opts.sessionTimeoutMs ?? 6000, opts.start);
    await call((cb) => c.raw.connect({ timeout: 10_000 }, (err) => cb(err)), 10_000 + CALL_SLACK_MS);
    await c.#awaitTopics(opts.topics, opts.topicWaitMs ?? TOPIC_WAIT_MS);
    c.raw.subscribe(opts.topics);
    c.#topics = opts.topics;
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
    throw emoError('LOG_UNAVAILABLE', `topics ${missing.join(', ')} do not exist on ${this.options.brokers} after ${waitMs} ms (created by the api or aggregator role at start)`);
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

  /**
   * One consume() at a time (poll or pump): two in flight would split the records between them.
   * `#consuming` is the native call's own end, not the caller's deadline: a consume given up on
   * (call()'s ceiling) still takes records when it returns, and a seek or a consume started before
   * then would lose the records it took (the chaos tier's frozen broker lost 5,644 reactions so,
   * with a 3 s ceiling). The ceiling is the long default: librdkafka returns a consume by itself.
   */
  async #consume(max: number, timeoutMs: number): Promise<RdKafka.Message[]> {
    while (this.#consuming) await this.#consuming.catch(() => {});
    this.raw.setDefaultConsumeTimeout(timeoutMs);
    let ended!: () => void;
    const native = new Promise<void>((resolve) => (ended = resolve));
    this.#consuming = native;
    void native.then(() => {
      if (this.#consuming === native) this.#consuming = undefined;
    });
    const p = call<RdKafka.Message[]>((cb) =>
      this.raw.consume(max, (err, msgs) => {
        ended();
        cb(err, msgs);
      }),
    );
    return (await p) ?? [];
  }

  /** What a stuck-phase log shows of this consumer: where poll() waits, and its assignment. */
  diagnostics(): Record<string, unknown> {
    let assignment: string[] = [];
    try {
      assignment = this.raw.assignments().map((a) => tpKey(a));
    } catch {
      // not connected
    }
    return { pollWaits: this.#where, consuming: this.#consuming !== undefined, generation: this.#generation, assignment };
  }

  async pump(): Promise<void> {
    if (this.#closed || this.#consuming || this.#seeking > 0) return;
    const generation = this.#generation;
    const seeks = this.#seeks;
    const messages = await this.#consume(PUMP_MAX_RECORDS, PUMP_WAIT_MS).catch(() => [] as RdKafka.Message[]);
    await this.#pending;
    // Fetched for an assignment or a position that no longer holds: dropped, read again from there.
    if (messages.length === 0 || generation !== this.#generation || seeks !== this.#seeks) return;
    if (this.#held && (this.#held.generation !== generation || this.#held.seeks !== seeks)) this.#held = undefined;
    this.#held ??= { generation, seeks, messages: [] };
    this.#held.messages.push(...messages);
  }

  /** What pumps fetched for the current assignment and positions, up to `max`, oldest first. */
  #takeHeld(max: number): RdKafka.Message[] {
    const held = this.#held;
    if (!held) return [];
    if (held.generation !== this.#generation || held.seeks !== this.#seeks) {
      this.#held = undefined;
      return [];
    }
    const out = held.messages.splice(0, max);
    if (held.messages.length === 0) this.#held = undefined;
    return out;
  }

  async poll(maxRecords: number, timeoutMs: number): Promise<LogRecord[]> {
    if (this.#closed) return [];
    this.#where = 'listeners';
    await this.#pending;
    this.#where = 'previous consume';
    while (this.#consuming) await this.#consuming.catch(() => {});
    this.#where = 'listeners';
    await this.#pending;
    const generation = this.#generation;
    const held = this.#takeHeld(maxRecords);
    this.#where = 'consume';
    const messages = held.length > 0 ? held : await this.#consume(maxRecords, timeoutMs).catch((err: unknown) => {
      this.#where = 'idle';
      throw kafkaError('poll failed', err);
    });
    // A rebalance inside consume() may have queued listeners (state loading) for these partitions.
    this.#where = 'listeners after consume';
    await this.#pending;
    this.#where = 'idle';
    let kept = messages;
    if (generation !== this.#generation) {
      // A rebalance came while this batch was fetched: records of before it may sit beside the new
      // assignment's. A stage that positions its partitions itself (start: caller, the exactly-once
      // aggregator) would count them twice once it seeks: drop the batch; it seeks next.
      this.#next.clear();
      if (this.start === 'caller') return [];
      // The at-least-once stages (their sinks keep a record once, whatever comes twice) keep the
      // records of partitions they still hold, in order; librdkafka restarts each reassigned
      // partition at its committed offset by itself. It used to be told so by an assign() here,
      // outside the rebalance callback, which librdkafka's group state machine does not expect
      // there: in the chaos soak a publisher whose group rebalanced after a frozen broker stayed
      // out of its group for good (no member, lag growing, empty polls, /healthz 200).
      const held = new Set(this.raw.assignments().map((a) => tpKey(a)));
      kept = messages.filter((m) => held.has(tpKey(m)));
    }
    for (const m of kept) this.#next.set(tpKey(m), m.offset + 1);
    return kept.map((m) => ({
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
    try {
      return (await this.lag(tp)) === 0;
    } catch (err) {
      this.logger.debug({ err, tp }, 'caught-up check failed');
      return false;
    }
  }

  async lag(tp: TopicPartition): Promise<number> {
    const key = tpKey(tp);
    // Asked of the broker, not librdkafka's cache: a wrong "caught up" would close windows early.
    // (read_committed: the high offset is the last stable offset, so commit markers are no lag.)
    const wm = await call<RdKafka.WatermarkOffsets>((cb) => this.raw.queryWatermarkOffsets(tp.topic, tp.partition, 2000, (err, w) => cb(err, w)), 2000 + CALL_SLACK_MS).catch((err: unknown) => {
      throw kafkaError(`watermarks of ${key} not known`, err);
    });
    let next = this.#next.get(key);
    if (next === undefined) {
      // Nothing read or sought since the assignment: we stand at the committed offset.
      const [c] = await this.committed([tp], CAUGHT_UP_COMMITTED_MS);
      next = c && c.offset >= 0 ? c.offset : wm.lowOffset;
    } else if (next < 0) {
      next = wm.lowOffset; // sought to the start of the partition
    }
    const end = this.#ends.get(key);
    // Not while a pump holds records poll() has not returned yet: the end lies past them.
    const holding = (this.#held?.messages.length ?? 0) > 0;
    if (end && !holding && end.generation === this.#generation && end.seeks === this.#seeks && end.offset > next) next = end.offset;
    return Math.max(0, wm.highOffset - next);
  }

  /**
   * The whole group's lag and committed offsets on the subscribed topics, asked of this consumer's
   * own client and, when that cannot reach the log, of a fresh one (at most every PROBE_EVERY_MS).
   * The chaos soak and the CI met a consumer whose client never reconnected after a frozen broker
   * and a coordinator reload: every call of it failing for minutes (Kafka showing the group empty)
   * while every other client of the broker was fine. Asked of that client only, that read as an
   * outage and the consumer was never replaced. A fresh client that answers says the log is there.
   */
  async groupProgress(): Promise<GroupProgress> {
    try {
      return await this.#progressOf(this.raw);
    } catch (own) {
      if (this.#closed || Date.now() - this.#lastProbe < PROBE_EVERY_MS) throw own;
      this.#lastProbe = Date.now();
      const fresh = await this.#probe();
      if (!fresh) throw own;
      this.logger.warn({ err: own, groupId: this.groupId, lag: fresh.lag }, 'this consumer\'s client cannot reach the log, a fresh client can');
      return { ...fresh, ownClientAway: true };
    }
  }

  /** A short-lived client of the same group that never joins it (committed offsets are the coordinator's). */
  async #probe(): Promise<GroupProgress | undefined> {
    const Kafka = rdkafka();
    const probe = new Kafka.KafkaConsumer(groupClientConfig(this.options, this.groupId, '-probe') as RdKafka.ConsumerGlobalConfig, {});
    probe.on('event.error', () => {}); // its errors are the answer (undefined), not news
    forwardDebugLog(this.options, probe, this.logger);
    try {
      await call((cb) => probe.connect({ timeout: PROBE_CONNECT_MS }, (err) => cb(err)), PROBE_CONNECT_MS + CALL_SLACK_MS);
      return await this.#progressOf(probe);
    } catch (err) {
      this.logger.debug({ err, groupId: this.groupId }, 'a fresh client cannot reach the log either');
      return undefined;
    } finally {
      disconnectInBackground(probe, this.logger, `${this.groupId} probe`);
    }
  }

  /**
   * The log's side first (metadata, every partition's watermarks): when that fails the log is away
   * for this client. The group's committed offsets are asked after it: a failure there, with the
   * log answering, is the group's machinery stuck (committed: undefined; see InputWatch).
   */
  async #progressOf(client: RdKafka.KafkaConsumer): Promise<GroupProgress> {
    const meta = await call<RdKafka.Metadata>((cb) => client.getMetadata({ timeout: 2000 }, (err, m) => cb(err, m)), 2000 + CALL_SLACK_MS).catch((err: unknown) => {
      throw kafkaError('metadata not known', err);
    });
    const tps = meta.topics.filter((t) => this.#topics.includes(t.name)).flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.id })));
    if (tps.length === 0) return { lag: 0, committed: 0 };
    const marks = await Promise.all(
      tps.map((tp) =>
        call<RdKafka.WatermarkOffsets>((cb) => client.queryWatermarkOffsets(tp.topic, tp.partition, 2000, (err, w) => cb(err, w)), 2000 + CALL_SLACK_MS).catch((err: unknown) => {
          throw kafkaError(`watermarks of ${tpKey(tp)} not known`, err);
        }),
      ),
    );
    const committed = await this.#committedOf(client, tps, CAUGHT_UP_COMMITTED_MS).catch((err: unknown) => {
      this.logger.warn({ err }, 'the group\'s committed offsets not known while the log answers');
      return undefined;
    });
    let lag = 0;
    let sum = 0;
    for (const [i, wm] of marks.entries()) {
      const c = committed?.[i];
      const at = c !== undefined && c.offset >= 0 ? c.offset : wm.lowOffset;
      lag += Math.max(0, wm.highOffset - at);
      sum += Math.max(0, at);
    }
    return { lag, committed: committed === undefined ? undefined : sum };
  }

  async rewind(partitions: TopicPartition[]): Promise<TopicPartitionOffset[]> {
    if (partitions.length === 0) return [];
    const at = await this.committed(partitions, REWIND_COMMITTED_MS);
    await this.seek(at);
    return at;
  }

  committed(partitions: TopicPartition[], timeoutMs: number): Promise<TopicPartitionOffset[]> {
    return this.#committedOf(this.raw, partitions, timeoutMs);
  }

  async #committedOf(client: RdKafka.KafkaConsumer, partitions: TopicPartition[], timeoutMs: number): Promise<TopicPartitionOffset[]> {
    if (partitions.length === 0) return [];
    const tps = partitions.map((p) => ({ topic: p.topic, partition: p.partition }));
    const got = await call<RdKafka.TopicPartitionOffset[]>((cb) => client.committed(tps, timeoutMs, (err, r) => cb(err, r)), timeoutMs + CALL_SLACK_MS).catch((err: unknown) => {
      throw kafkaError(`committed offsets of ${tps.map((p) => tpKey(p)).join(', ')} not known in ${timeoutMs} ms`, err);
    });
    const byKey = new Map(got.map((tp) => [tpKey(tp), tp.offset]));
    return tps.map((p) => {
      const off = byKey.get(tpKey(p));
      return { ...p, offset: off !== undefined && off >= 0 ? off : -1 };
    });
  }

  async seek(positions: TopicPartitionOffset[]): Promise<void> {
    if (positions.length === 0) return;
    // No pump while the partitions move one by one (it would read some from their old place), and
    // whatever one fetched before was read from the old positions: the count moves on at the end.
    this.#seeking++;
    try {
      while (this.#consuming) await this.#consuming.catch(() => {});
      this.#held = undefined;
      await this.#seekAll(positions);
    } finally {
      this.#seeks++;
      this.#seeking--;
    }
  }

  async #seekAll(positions: TopicPartitionOffset[]): Promise<void> {
    const assigned = new Set(this.raw.assignments().map((a) => tpKey(a)));
    const deadline = Date.now() + SEEK_BOUND_MS;
    for (const p of positions) {
      const k = tpKey(p);
      if (!assigned.has(k)) continue;
      // A seek, not a new assign(): re-assigning stops every partition's fetcher and starts it
      // again, and two such removals close together trip an assertion in librdkafka 2.12 that
      // ends the process (rd_kafka_assignment_partition_stopped; librdkafka issue 5573, seen in
      // the chaos soak). -1 is the start of the partition (OFFSET_BEGINNING for librdkafka).
      await this.#seekOne({ topic: p.topic, partition: p.partition, offset: p.offset >= 0 ? p.offset : OFFSET_BEGINNING }, deadline);
      this.#next.set(k, p.offset >= 0 ? p.offset : -1);
    }
  }

  /** librdkafka seeks only a partition whose fetcher has started: just after an assignment, wait for it (bounded). */
  async #seekOne(tp: TopicPartitionOffset, deadline: number): Promise<void> {
    for (let wait = 10; ; wait = Math.min(200, wait * 2)) {
      try {
        await call((cb) => this.raw.seek(tp, SEEK_CALL_MS, (err) => cb(err)), SEEK_CALL_MS + CALL_SLACK_MS);
        return;
      } catch (err) {
        const code = errCode(err);
        const notStarted = code === ERR_STATE || code === ERR_PREV_IN_PROGRESS;
        if (!notStarted || this.#closed || Date.now() + wait > deadline) throw kafkaError(`seek of ${tp.topic}/${tp.partition} to ${tp.offset} failed`, err);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await call((cb) => this.raw.disconnect((err) => cb(err))).catch(() => {});
  }
}
