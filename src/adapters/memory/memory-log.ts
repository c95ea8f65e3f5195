import { emoError } from '../../domain/errors.js';
import { partitionFor } from './partitioner.js';
import { DEFAULTS } from '../../config/config.js';
import { tpKey } from '../../ports/log.js';
import type {
  AssignmentChange,
  GroupProgress,
  Log,
  LogConsumer,
  LogProducer,
  LogRecord,
  ProducerRecord,
  TopicPartition,
  TopicPartitionOffset,
  TopicSpec,
  TransactionalSession,
} from '../../ports/log.js';

interface Partition {
  /** Offset of records[0]. */
  base: number;
  records: LogRecord[];
  /** Bytes of key and value the records hold. */
  bytes: number;
}

function sizeOf(r: { key: string | null; value: Buffer }): number {
  return r.value.length + (r.key?.length ?? 0);
}

interface Topic {
  partitions: Partition[];
  /** Records and bytes retained over all partitions (kept as they change: read per append). */
  records: number;
  bytes: number;
  /** Records appended since the last trim: consumed records are dropped in runs, not per append. */
  sinceTrim: number;
}

/** Consumed records are trimmed once this many were appended since the last trim (or when full). */
const TRIM_EVERY = 1024;

interface Waiter {
  topics: ReadonlySet<string> | undefined;
  done: () => void;
}

export interface MemoryLogOptions {
  /** Records a topic may retain unread by some group before producers get EMO_ERR_BACKPRESSURE. */
  capacity: number;
  /**
   * Bytes (keys and values) a topic may retain so. Records differ in size by two orders (a packed
   * record holds a whole request's reactions), so a count alone does not bound the memory.
   */
  capacityBytes: number;
  retryAfterSec: number;
  defaultPartitions: number;
}

/**
 * The embedded log: Kafka's model (topics, partitions, offsets, committed group offsets) in memory.
 * A group here has one member, which owns every partition: embedded mode runs one of each stage.
 */
export class MemoryLog implements Log {
  readonly #topics = new Map<string, Topic>();
  /** group -> "topic/partition" -> committed offset */
  readonly #groups = new Map<string, Map<string, number>>();
  readonly #waiters = new Set<Waiter>();
  readonly opts: MemoryLogOptions;
  #closed = false;

  constructor(opts: Partial<MemoryLogOptions> = {}) {
    this.opts = { capacity: DEFAULTS.logCapacity, capacityBytes: DEFAULTS.logCapacityBytes, retryAfterSec: DEFAULTS.retryAfterSec, defaultPartitions: DEFAULTS.logPartitions, ...opts };
  }

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    for (const t of topics) this.#topic(t.name, t.partitions);
  }

  #topic(name: string, partitions = this.opts.defaultPartitions): Topic {
    let topic = this.#topics.get(name);
    if (!topic) {
      topic = { partitions: Array.from({ length: partitions }, () => ({ base: 0, records: [], bytes: 0 })), records: 0, bytes: 0, sinceTrim: 0 };
      this.#topics.set(name, topic);
    }
    return topic;
  }

  /**
   * Records retained in the topic: those not yet read and committed by every group, and up to
   * TRIM_EVERY already read ones awaiting the next trim.
   */
  retained(name: string): number {
    return this.#topics.get(name)?.records ?? 0;
  }

  /** Bytes of the records retained in the topic. */
  retainedBytes(name: string): number {
    return this.#topics.get(name)?.bytes ?? 0;
  }

  append(records: ProducerRecord[]): void {
    if (this.#closed) throw emoError('LOG_UNAVAILABLE', 'log is closed');
    const byTopic = new Map<string, { n: number; bytes: number }>();
    const sizes = records.map(sizeOf);
    records.forEach((r, i) => {
      const t = byTopic.get(r.topic) ?? { n: 0, bytes: 0 };
      t.n++;
      t.bytes += sizes[i]!;
      byTopic.set(r.topic, t);
    });
    // All-or-nothing: check every topic's room before storing anything.
    for (const [name, { n, bytes }] of byTopic) {
      const topic = this.#topic(name);
      const full = () => topic.records + n > this.opts.capacity || topic.bytes + bytes > this.opts.capacityBytes;
      if (topic.sinceTrim >= TRIM_EVERY || full()) this.#trim(name, topic);
      if (full()) throw emoError('BACKPRESSURE', undefined, { retryAfterSec: this.opts.retryAfterSec });
    }
    const now = Date.now();
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const topic = this.#topic(r.topic);
      const partition = r.partition ?? partitionFor(r.key, topic.partitions.length);
      const p = topic.partitions[partition]!;
      p.records.push({ topic: r.topic, partition, offset: p.base + p.records.length, key: r.key, value: r.value, timestamp: now });
      const size = sizes[i]!;
      p.bytes += size;
      topic.records++;
      topic.bytes += size;
      topic.sinceTrim++;
    }
    this.#wake(byTopic);
  }

  #trim(name: string, topic: Topic): void {
    topic.sinceTrim = 0;
    const groups = [...this.#groups.values()].filter((g) => g.has(`${name}/0`));
    // With no group reading the topic nothing is consumed: it fills up to capacity, then refuses.
    if (groups.length === 0) return;
    topic.partitions.forEach((p, i) => {
      const upTo = Math.min(...groups.map((g) => g.get(tpKey({ topic: name, partition: i })) ?? 0));
      const drop = Math.min(Math.max(0, upTo - p.base), p.records.length);
      if (drop > 0) {
        let bytes = 0;
        for (let i = 0; i < drop; i++) bytes += sizeOf(p.records[i]!);
        p.bytes -= bytes;
        topic.bytes -= bytes;
        topic.records -= drop;
        p.records.splice(0, drop);
        p.base += drop;
      }
    });
  }

  /** Wakes the waiters on any of these topics (every waiter when none are given: closing). */
  #wake(topics?: ReadonlyMap<string, unknown>): void {
    for (const w of [...this.#waiters]) {
      if (!topics || !w.topics || [...topics.keys()].some((t) => w.topics!.has(t))) w.done();
    }
  }

  /** Wakes every waiting reader (they look again and wait on): a closing reader returns at once. */
  interrupt(): void {
    this.#wake();
  }

  /** Resolves when records are appended to one of `topics` (any topic if not given), or after the timeout. */
  waitForData(timeoutMs: number, topics?: ReadonlySet<string>): Promise<void> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        topics,
        done: () => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.done, timeoutMs);
      timer.unref?.();
      this.#waiters.add(waiter);
    });
  }

  read(topic: string, partition: number, from: number, max: number): LogRecord[] {
    const p = this.#topic(topic).partitions[partition];
    if (!p) return [];
    const start = Math.max(from, p.base) - p.base;
    return p.records.slice(start, start + max);
  }

  endOffset(topic: string, partition: number): number {
    const p = this.#topic(topic).partitions[partition];
    return p ? p.base + p.records.length : 0;
  }

  partitionCount(topic: string): number {
    return this.#topic(topic).partitions.length;
  }

  /** The group's committed offset, `none` (0: read from the start) where it has committed none. */
  committed(groupId: string, topic: string, partition: number, none = 0): number {
    const offset = this.#groups.get(groupId)?.get(tpKey({ topic, partition }));
    return offset === undefined || offset < 0 ? none : offset;
  }

  commit(groupId: string, offsets: TopicPartitionOffset[]): void {
    const group = this.#group(groupId);
    for (const o of offsets) group.set(tpKey(o), o.offset);
  }

  #group(groupId: string): Map<string, number> {
    let g = this.#groups.get(groupId);
    if (!g) {
      g = new Map();
      this.#groups.set(groupId, g);
    }
    return g;
  }

  joinGroup(groupId: string, topics: string[]): void {
    const group = this.#group(groupId);
    for (const t of topics) {
      this.#topic(t).partitions.forEach((_, i) => {
        const key = tpKey({ topic: t, partition: i });
        // Joined, nothing committed (-1): the topic keeps what this group has not read yet.
        if (!group.has(key)) group.set(key, -1);
      });
    }
  }

  async producer(): Promise<LogProducer> {
    return new MemoryProducer(this);
  }

  async consumer(opts: { groupId: string; topics: string[] }): Promise<LogConsumer> {
    return new MemoryConsumer(this, opts.groupId, opts.topics);
  }

  async transactionalSession(opts: { transactionalId: string; groupId: string; topics: string[] }): Promise<TransactionalSession> {
    const consumer = new MemoryConsumer(this, opts.groupId, opts.topics);
    return {
      consumer,
      commit: async (records, offsets) => {
        // Synchronous append + commit: nothing can observe one without the other.
        if (records.length > 0) this.append(records);
        this.commit(consumer.groupId, offsets);
      },
      // Its commits are synchronous: no transaction is ever left open.
      fence: async () => {},
      close: () => consumer.close(),
    };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The memory log lives and dies with the process: nothing to restore from. */
  windowStateStore(): undefined {
    return undefined;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#wake();
  }
}

class MemoryProducer implements LogProducer {
  constructor(private readonly log: MemoryLog) {}
  async send(records: ProducerRecord[]): Promise<void> {
    this.log.append(records);
  }
  ready(): boolean {
    return !this.log.closed;
  }
  async close(): Promise<void> {}
}

interface Position {
  topic: string;
  partition: number;
  /** The next offset to read. */
  next: number;
}

class MemoryConsumer implements LogConsumer {
  /** "topic/partition" -> position; #order holds the same objects for the round-robin read. */
  readonly #positions = new Map<string, Position>();
  #order: Position[] = [];
  readonly #topicSet: ReadonlySet<string>;
  readonly #listeners: Array<(c: AssignmentChange) => void | Promise<void>> = [];
  #assigned = false;
  #closed = false;
  #next = 0;

  constructor(
    private readonly log: MemoryLog,
    readonly groupId: string,
    private readonly topics: string[],
  ) {
    log.joinGroup(groupId, topics);
    this.#topicSet = new Set(topics);
  }

  onAssignment(listener: (change: AssignmentChange) => void | Promise<void>): void {
    this.#listeners.push(listener);
  }

  async groupProgress(): Promise<GroupProgress> {
    let lag = 0;
    let committed = 0;
    for (const topic of this.topics) {
      for (let p = 0; p < this.log.partitionCount(topic); p++) {
        const at = this.log.committed(this.groupId, topic, p);
        lag += Math.max(0, this.log.endOffset(topic, p) - at);
        committed += at;
      }
    }
    return { lag, committed };
  }

  async #assign(): Promise<void> {
    this.#assigned = true;
    const assigned = this.topics.flatMap((topic) =>
      Array.from({ length: this.log.partitionCount(topic) }, (_, partition) => ({ topic, partition })),
    );
    for (const tp of assigned) this.#positions.set(tpKey(tp), { ...tp, next: this.log.committed(this.groupId, tp.topic, tp.partition) });
    this.#order = [...this.#positions.values()];
    for (const l of this.#listeners) await l({ assigned, revoked: [] });
  }

  async poll(maxRecords: number, timeoutMs: number): Promise<LogRecord[]> {
    if (!this.#assigned) await this.#assign();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#closed || this.log.closed) return [];
      const out = this.#collect(maxRecords);
      if (out.length > 0) return out;
      const left = deadline - Date.now();
      if (left <= 0) return [];
      await this.log.waitForData(left, this.#topicSet);
      // Woken by one append: let the rest of this turn's requests append too, then read them as one
      // batch (under a flood of single reactions, one poll per loop turn instead of per request).
      await new Promise((r) => setImmediate(r));
    }
  }

  #collect(max: number): LogRecord[] {
    const order = this.#order;
    const out: LogRecord[] = [];
    // Round-robin start so one busy partition cannot starve the rest.
    for (let i = 0; i < order.length && out.length < max; i++) {
      const pos = order[(this.#next + i) % order.length]!;
      const records = this.log.read(pos.topic, pos.partition, pos.next, max - out.length);
      if (records.length > 0) {
        pos.next = records[records.length - 1]!.offset + 1;
        for (const r of records) out.push(r);
      }
    }
    this.#next = (this.#next + 1) % Math.max(1, order.length);
    return out;
  }

  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    this.log.commit(this.groupId, offsets);
  }

  async caughtUp(tp: TopicPartition): Promise<boolean> {
    return (await this.lag(tp)) === 0;
  }

  async lag(tp: TopicPartition): Promise<number> {
    return Math.max(0, this.log.endOffset(tp.topic, tp.partition) - (this.#positions.get(tpKey(tp))?.next ?? 0));
  }

  async rewind(partitions: TopicPartition[]): Promise<TopicPartitionOffset[]> {
    return partitions.map((tp) => {
      const offset = this.log.committed(this.groupId, tp.topic, tp.partition, -1);
      const pos = this.#positions.get(tpKey(tp));
      if (pos) pos.next = Math.max(0, offset);
      return { ...tp, offset };
    });
  }

  async committed(partitions: TopicPartition[]): Promise<TopicPartitionOffset[]> {
    return partitions.map((tp) => ({ ...tp, offset: this.log.committed(this.groupId, tp.topic, tp.partition, -1) }));
  }

  /** Nothing to serve: the memory log has no group protocol to keep up with. */
  async pump(): Promise<void> {}

  async seek(positions: TopicPartitionOffset[]): Promise<void> {
    for (const p of positions) {
      const pos = this.#positions.get(tpKey(p));
      if (pos) pos.next = Math.max(0, p.offset);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    // A poll waiting for data returns now rather than at its timeout.
    this.log.interrupt();
  }
}

