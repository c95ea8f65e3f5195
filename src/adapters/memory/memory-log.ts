import { emoError } from '../../domain/errors.js';
import { partitionFor } from './partitioner.js';
import type {
  AssignmentChange,
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
  readonly #waiters = new Set<() => void>();
  readonly opts: MemoryLogOptions;
  #closed = false;

  constructor(opts: Partial<MemoryLogOptions> = {}) {
    this.opts = { capacity: 1_000_000, capacityBytes: 256 * 1024 * 1024, retryAfterSec: 1, defaultPartitions: 12, ...opts };
  }

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    for (const t of topics) this.#topic(t.name, t.partitions);
  }

  #topic(name: string, partitions = this.opts.defaultPartitions): Topic {
    let topic = this.#topics.get(name);
    if (!topic) {
      topic = { partitions: Array.from({ length: partitions }, () => ({ base: 0, records: [], bytes: 0 })) };
      this.#topics.set(name, topic);
    }
    return topic;
  }

  /** Records retained in the topic (not yet read and committed by every group). */
  retained(name: string): number {
    const topic = this.#topics.get(name);
    return topic ? topic.partitions.reduce((n, p) => n + p.records.length, 0) : 0;
  }

  /** Bytes of the records retained in the topic. */
  retainedBytes(name: string): number {
    const topic = this.#topics.get(name);
    return topic ? topic.partitions.reduce((n, p) => n + p.bytes, 0) : 0;
  }

  append(records: ProducerRecord[]): void {
    if (this.#closed) throw emoError('LOG_UNAVAILABLE', 'log is closed');
    const byTopic = new Map<string, { n: number; bytes: number }>();
    for (const r of records) {
      const t = byTopic.get(r.topic) ?? { n: 0, bytes: 0 };
      t.n++;
      t.bytes += sizeOf(r);
      byTopic.set(r.topic, t);
    }
    // All-or-nothing: check every topic's room before storing anything.
    for (const [name, { n, bytes }] of byTopic) {
      this.#trim(name);
      if (this.retained(name) + n > this.opts.capacity || this.retainedBytes(name) + bytes > this.opts.capacityBytes) {
        throw emoError('BACKPRESSURE', undefined, { retryAfterSec: this.opts.retryAfterSec });
      }
    }
    const now = Date.now();
    for (const r of records) {
      const topic = this.#topic(r.topic);
      const partition = r.partition ?? partitionFor(r.key, topic.partitions.length);
      const p = topic.partitions[partition]!;
      p.records.push({ topic: r.topic, partition, offset: p.base + p.records.length, key: r.key, value: r.value, timestamp: now });
      p.bytes += sizeOf(r);
    }
    this.#wake();
  }

  #trim(name: string): void {
    const topic = this.#topics.get(name);
    if (!topic) return;
    const groups = [...this.#groups.values()].filter((g) => g.has(`${name}/0`));
    // With no group reading the topic nothing is consumed: it fills up to capacity, then refuses.
    if (groups.length === 0) return;
    topic.partitions.forEach((p, i) => {
      const upTo = Math.min(...groups.map((g) => g.get(`${name}/${i}`) ?? 0));
      const drop = Math.min(Math.max(0, upTo - p.base), p.records.length);
      if (drop > 0) {
        for (let i = 0; i < drop; i++) p.bytes -= sizeOf(p.records[i]!);
        p.records.splice(0, drop);
        p.base += drop;
      }
    });
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  waitForData(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      timer.unref?.();
      this.#waiters.add(done);
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

  committed(groupId: string, topic: string, partition: number): number {
    return this.#groups.get(groupId)?.get(`${topic}/${partition}`) ?? 0;
  }

  commit(groupId: string, offsets: TopicPartitionOffset[]): void {
    const group = this.#group(groupId);
    for (const o of offsets) group.set(`${o.topic}/${o.partition}`, o.offset);
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
        const key = `${t}/${i}`;
        if (!group.has(key)) group.set(key, 0);
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

class MemoryConsumer implements LogConsumer {
  readonly #positions = new Map<string, number>();
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
  }

  onAssignment(listener: (change: AssignmentChange) => void | Promise<void>): void {
    this.#listeners.push(listener);
  }

  async #assign(): Promise<void> {
    this.#assigned = true;
    const assigned = this.topics.flatMap((topic) =>
      Array.from({ length: this.log.partitionCount(topic) }, (_, partition) => ({ topic, partition })),
    );
    for (const tp of assigned) this.#positions.set(`${tp.topic}/${tp.partition}`, this.log.committed(this.groupId, tp.topic, tp.partition));
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
      await this.log.waitForData(left);
    }
  }

  #collect(max: number): LogRecord[] {
    const keys = [...this.#positions.keys()];
    const out: LogRecord[] = [];
    // Round-robin start so one busy partition cannot starve the rest.
    for (let i = 0; i < keys.length && out.length < max; i++) {
      const key = keys[(this.#next + i) % keys.length]!;
      const [topic, p] = splitKey(key);
      const records = this.log.read(topic, p, this.#positions.get(key)!, max - out.length);
      if (records.length > 0) {
        this.#positions.set(key, records[records.length - 1]!.offset + 1);
        out.push(...records);
      }
    }
    this.#next = (this.#next + 1) % Math.max(1, keys.length);
    return out;
  }

  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    this.log.commit(this.groupId, offsets);
  }

  async caughtUp(tp: TopicPartition): Promise<boolean> {
    return (this.#positions.get(`${tp.topic}/${tp.partition}`) ?? 0) >= this.log.endOffset(tp.topic, tp.partition);
  }

  async rewind(partitions: TopicPartition[]): Promise<void> {
    for (const tp of partitions) this.#positions.set(`${tp.topic}/${tp.partition}`, this.log.committed(this.groupId, tp.topic, tp.partition));
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

function splitKey(key: string): [string, number] {
  const i = key.lastIndexOf('/');
  return [key.slice(0, i), Number(key.slice(i + 1))];
}
