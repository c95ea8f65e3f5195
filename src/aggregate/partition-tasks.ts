import type { ReactionCodec } from '../codec/reaction-codec.js';
import type { EmojiCatalog } from '../domain/catalog.js';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.js';
import { emoError, isEmoError } from '../domain/errors.js';
import type { StageProgress } from '../stage/stage-progress.js';
import { untilAvailable } from '../stage/sink-write.js';
import { tpKey, type LogRecord, type TopicPartition } from '../ports/log.js';
import type { ResumeAt } from './partition-restore.js';
import { WindowAggregator, type WindowRules } from './window-aggregator.js';

/** One input partition's aggregation: its windows, the next offset to commit, and whether it changed. */
export interface Task {
  tp: TopicPartition;
  agg: WindowAggregator;
  offset: number;
  dirty: boolean;
}

export interface PartitionTasksOptions {
  catalog: EmojiCatalog;
  rules: WindowRules;
  reactions: ReactionCodec;
  metrics: Metrics;
  logger: Logger;
  /** The stage is closing: a record waiting for the registry is given up (not counted, not committed). */
  closing?: () => boolean;
  progress?: StageProgress | undefined;
}

/**
 * The partitions this member holds, each with its own windows: what an assignment adds and
 * removes, what a rewind resets, and the hot path that counts a polled batch into them.
 */
export class PartitionTasks {
  readonly #tasks = new Map<string, Task>();

  constructor(private readonly o: PartitionTasksOptions) {}

  /** A fresh task per assigned partition: its windows and position come back through a rewind. */
  assign(assigned: readonly TopicPartition[], revoked: readonly TopicPartition[]): void {
    for (const tp of revoked) this.#tasks.delete(tpKey(tp));
    for (const tp of assigned) this.#tasks.set(tpKey(tp), { tp, agg: this.#newAggregator(), offset: -1, dirty: false });
  }

  all(): Task[] {
    return [...this.#tasks.values()];
  }

  get partitions(): number[] {
    return this.all().map((t) => t.tp.partition);
  }

  /** Back to a committed point: the snapshot's windows (a copy: the aggregator counts into what it restores) and offset. */
  reset(t: Task, at: ResumeAt): void {
    const agg = this.#newAggregator();
    if (at.snapshot) agg.restore(structuredClone(at.snapshot));
    Object.assign(t, { agg, offset: at.offset, dirty: false });
  }

  get hasOutput(): boolean {
    for (const t of this.#tasks.values()) if (t.agg.pendingOutput > 0) return true;
    return false;
  }

  get anyDirty(): boolean {
    for (const t of this.#tasks.values()) if (t.dirty) return true;
    return false;
  }

  /** When the earliest open window of any partition may close (+Infinity: none open). */
  get nextCloseAt(): number {
    let next = Number.POSITIVE_INFINITY;
    for (const t of this.#tasks.values()) if (t.agg.nextCloseAt < next) next = t.agg.nextCloseAt;
    return next;
  }

  /**
   * The hot path, synchronous per record: a batch holds runs of one partition, so the task is
   * looked up when the partition changes, not per record, and the counter moves once per batch.
   * Only a record under a schema id not seen yet waits (for the registry).
   */
  async count(batch: readonly LogRecord[]): Promise<void> {
    let task: Task | undefined;
    let topic = '';
    let partition = -1;
    let counted = 0;
    try {
      for (const rec of batch) {
        if (rec.partition !== partition || rec.topic !== topic) {
          topic = rec.topic;
          partition = rec.partition;
          task = this.#tasks.get(tpKey(rec));
        }
        if (!task) continue; // partition revoked mid-batch: its new owner re-reads it
        try {
          // The whole record decodes before any of it counts: a poison record counts nothing.
          const agg = task.agg;
          const count = () =>
            this.o.reactions.forEach(rec.value, (r) => {
              agg.process(r);
              counted++;
            });
          const done = count();
          if (done) await done.catch((err: unknown) => this.#whenRegistryBack(err, count, rec));
        } catch (err) {
          if (isEmoError(err, 'CLOSED')) throw err;
          // A poison record must not stop the stream: count it, log it, skip it.
          this.o.metrics.recordsUndecodable.inc({ topic: rec.topic });
          this.o.logger.warn({ err, partition: rec.partition, offset: rec.offset }, 'skipping undecodable reaction record');
        }
        // Past the record only once it counted or is known to be poison: a record given up at
        // closing is not committed, and is read again.
        task.offset = rec.offset + 1;
        task.dirty = true;
      }
    } finally {
      if (counted > 0) this.o.metrics.reactionsAggregated.inc(counted);
    }
  }

  /**
   * A record whose schema id the registry cannot give now (it is away: not a poison record) waits
   * for it, and counts then: skipping it would lose acknowledged reactions, and failing the step
   * would count the batch again from the last commit each time the registry is asked (and, with
   * no changelog to rewind from, skip it after all).
   */
  async #whenRegistryBack(err: unknown, count: () => void | Promise<void>, rec: LogRecord): Promise<void> {
    if (!isEmoError(err, 'REGISTRY')) throw err;
    const wait = { dependency: 'registry', progress: this.o.progress, logger: this.o.logger, closing: this.o.closing ?? (() => false), retry: (e: unknown) => isEmoError(e, 'REGISTRY') };
    const r = await untilAvailable(async () => count(), wait, { partition: rec.partition, offset: rec.offset });
    if (!r.done) throw emoError('CLOSED', 'closing while the registry is away: the record is read again by the next owner');
  }

  #newAggregator(): WindowAggregator {
    const { metrics } = this.o;
    return new WindowAggregator(this.o.catalog, this.o.rules, (reason) => metrics.reactionsDropped.inc({ reason }));
  }
}
