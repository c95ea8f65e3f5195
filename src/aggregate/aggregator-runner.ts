import type { Logger } from 'pino';
import type { AvroSerde } from '../codec/serde.js';
import type { ReactionCodec } from '../codec/reaction-codec.js';
import type { EmojiCatalog } from '../domain/catalog.js';
import type { Clock } from '../ports/clock.js';
import { emoError } from '../domain/errors.js';
import type { StageProgress } from '../http/health-routes.js';
import type { WindowAggregate } from '../domain/types.js';
import type { Log, LogConsumer, LogRecord, ProducerRecord, TopicPartition, TopicPartitionOffset, TransactionalSession } from '../ports/log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { AggregatorSnapshot, WindowStateStore } from '../ports/window-state-store.js';
import { WindowAggregator, type WindowRules } from './window-aggregator.js';

export interface AggregatorRunnerOptions {
  log: Log;
  serdes: { reactions: ReactionCodec; aggregate: AvroSerde<WindowAggregate> };
  catalog: EmojiCatalog;
  rules: WindowRules;
  reactionsTopic: string;
  aggregatesTopic: string;
  groupId: string;
  transactionalId: string;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  punctuateMs: number;
  stateStore?: WindowStateStore;
  maxPollRecords?: number;
  commitIntervalMs?: number;
  /** Called if the loop dies (the process should exit and be restarted). */
  onFatal?: (err: unknown) => void;
  /** Progress and dependency state for /healthz, /readyz and the recovery metrics. */
  progress?: StageProgress;
  /** Recovery that keeps failing this long ends the loop (onFatal). */
  recoveryGiveUpMs?: number;
}

/** How long a rewind waits for the changelog to show the snapshot of the committed offsets. */
const SNAPSHOT_CATCH_UP_MS = 10_000;

export function aggregateKey(a: { matchId: string; windowStart: number }): string {
  return `${a.matchId}|${a.windowStart}`;
}

/** Consume reactions -> per-partition windows -> aggregates, committed with input offsets in one transaction. */
export class AggregatorRunner {
  readonly #tasks = new Map<string, Task>();
  #session!: TransactionalSession;
  #loop: Promise<void> | undefined;
  #closing = false;
  #lastCommit = 0;
  /** Set by a failure or a new assignment: every task is rebuilt from the changelog before going on. */
  #needsRewind = false;
  /** When the current run of failures began (wall time); cleared by a commit or an idle poll. */
  #failingSince: number | undefined;
  /** A commit the log refused, kept whole for the next attempt (memory log only). */
  #unsent: { records: ProducerRecord[]; offsets: Array<[string, TopicPartitionOffset]>; emitted: number } | undefined;

  constructor(private readonly o: AggregatorRunnerOptions) {}

  /** The session's own consumer: its offsets are what the session's transactions commit. */
  get #consumer(): LogConsumer {
    return this.#session.consumer;
  }

  /** Connects, joins the group and starts the loop; resolves once it runs. */
  async start(): Promise<void> {
    if (this.#loop) return;
    const o = this.o;
    this.#session = await o.log.transactionalSession({
      transactionalId: o.transactionalId,
      groupId: o.groupId,
      topics: [o.reactionsTopic],
      onRecovery: (kind) => o.progress?.recovered(kind),
    });
    this.#consumer.onAssignment(({ assigned, revoked }) => {
      o.logger.info({ assigned: assigned.map((tp) => tp.partition), revoked: revoked.map((tp) => tp.partition) }, 'partitions reassigned');
      for (const tp of revoked) this.#tasks.delete(key(tp));
      for (const tp of assigned) this.#tasks.set(key(tp), { tp, agg: this.#newAggregator(), offset: -1, dirty: false });
      // A new partition's windows come back through the rewind, before anything of it counts: its
      // committed offset first, then the snapshot written with that offset (see #rewind).
      if (o.stateStore && assigned.length > 0) this.#needsRewind = true;
    });
    this.#loop = this.#run().catch((err) => {
      this.o.logger.fatal({ err }, 'aggregator loop stopped');
      this.o.onFatal?.(err);
    });
  }

  #newAggregator(): WindowAggregator {
    const { metrics } = this.o;
    return new WindowAggregator(this.o.catalog, this.o.rules, (reason) => metrics.reactionsDropped.inc({ reason }));
  }

  /**
   * The loop heals itself: any failure (poll, commit, state load) marks every task for a rewind
   * from the changelog and the committed offsets, waits with backoff and goes on. Only failures
   * lasting past recoveryGiveUpMs end it, with one error saying why.
   */
  async #run(): Promise<void> {
    const giveUpMs = this.o.recoveryGiveUpMs ?? 60_000;
    let backoff = 100;
    while (!this.#closing) {
      try {
        if (this.#needsRewind) {
          await this.#rewind();
          this.#needsRewind = false;
          // A recovery only when it follows a failure, not the restore of newly assigned partitions.
          if (this.#failingSince !== undefined) this.o.progress?.recovered('rewind');
        }
        await this.#step();
        backoff = 100;
      } catch (err) {
        if (this.#closing) break;
        const now = Date.now();
        this.#failingSince ??= now;
        this.o.progress?.down('kafka');
        if (this.o.stateStore) this.#needsRewind = true;
        if (now - this.#failingSince > giveUpMs) {
          throw emoError('LOG_UNAVAILABLE', `aggregator gave up: Kafka recovery kept failing for ${Math.round((now - this.#failingSince) / 1000)} s (last error: ${(err as Error).message})`, { cause: err });
        }
        this.o.logger.warn({ err, failingForMs: now - this.#failingSince }, 'aggregator step failed; recovering');
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(2000, backoff * 2);
      }
    }
    if (!this.#needsRewind && (this.#unsent || this.#anyDirty() || this.#hasOutput())) await this.#commit();
  }

  #healthy(): void {
    this.#failingSince = undefined;
    this.o.progress?.up('kafka');
    this.o.progress?.progressed();
  }

  async #step(): Promise<void> {
    const max = this.o.maxPollRecords ?? 5000;
    const commitEvery = this.o.commitIntervalMs ?? 100;
    const batch = await this.#consumer.poll(max, this.#pollTimeout());
    // This poll's rebalance assigned partitions (or a failure is pending): nothing may be counted
    // before the rewind restores them.
    if (this.#needsRewind) return;
    await this.#processBatch(batch);
    // Wall-clock closing only for partitions read to their end: while a backlog replays, stream time decides.
    if (batch.length < max) {
      const now = this.o.clock.now();
      for (const t of [...this.#tasks.values()]) {
        if (!t.agg.hasDue(now) || !(await this.#consumer.caughtUp(t.tp))) continue;
        t.agg.punctuate(now);
        t.agg.evictIdle(now, 10 * 60_000);
      }
    }
    // Commit cadence is wall time, whatever clock drives the windows.
    const due = Date.now() - this.#lastCommit >= commitEvery;
    if (this.#unsent || this.#hasOutput() || (due && this.#anyDirty())) await this.#commit();
    else if (batch.length === 0 && !this.#anyDirty()) this.#healthy();
  }

  /**
   * A poll waits for input no longer than until the next window may close: a quiet match's window
   * goes out when it is due, not up to punctuateMs later (seen as ~250 ms outliers in bench:spark's
   * live latency when the input paused).
   */
  #pollTimeout(): number {
    let next = Number.POSITIVE_INFINITY;
    for (const t of this.#tasks.values()) if (t.agg.nextCloseAt < next) next = t.agg.nextCloseAt;
    const left = Math.ceil(next - this.o.clock.now());
    // At least 50 ms (the consumer's fetch.wait.max.ms): a due window whose partition is still
    // behind must not turn the loop into a spin of empty polls and caught-up queries to the broker.
    return Math.max(Math.min(50, this.o.punctuateMs), Math.min(this.o.punctuateMs, left));
  }

  /**
   * The hot path, synchronous per record: a batch holds runs of one partition, so the task is
   * looked up when the partition changes, not per record, and the counter moves once per batch.
   * Only a record under a schema id not seen yet waits (for the registry).
   */
  async #processBatch(batch: LogRecord[]): Promise<void> {
    let task: Task | undefined;
    let topic = '';
    let partition = -1;
    let counted = 0;
    try {
      for (const rec of batch) {
        if (rec.partition !== partition || rec.topic !== topic) {
          topic = rec.topic;
          partition = rec.partition;
          task = this.#tasks.get(key(rec));
        }
        if (!task) continue; // partition revoked mid-batch: its new owner re-reads it
        task.offset = rec.offset + 1;
        task.dirty = true;
        try {
          // The whole record decodes before any of it counts: a poison record counts nothing.
          const agg = task.agg;
          const done = this.o.serdes.reactions.forEach(rec.value, (r) => {
            agg.process(r);
            counted++;
          });
          if (done) await done;
        } catch (err) {
          // A poison record must not stop the stream: count it, log it, skip it.
          this.o.metrics.recordsUndecodable.inc({ topic: rec.topic });
          this.o.logger.warn({ err, partition: rec.partition, offset: rec.offset }, 'skipping undecodable reaction record');
        }
      }
    } finally {
      if (counted > 0) this.o.metrics.reactionsAggregated.inc(counted);
    }
  }

  #hasOutput(): boolean {
    for (const t of this.#tasks.values()) if (t.agg.pendingOutput > 0) return true;
    return false;
  }

  #anyDirty(): boolean {
    for (const t of this.#tasks.values()) if (t.dirty) return true;
    return false;
  }

  async #commit(): Promise<void> {
    // What a refused commit left behind goes first, so windows keep their order.
    const records: ProducerRecord[] = [...(this.#unsent?.records ?? [])];
    const offsets = new Map<string, TopicPartitionOffset>(this.#unsent?.offsets ?? []);
    let emitted = this.#unsent?.emitted ?? 0;
    let open = 0;
    for (const t of this.#tasks.values()) {
      const out = t.agg.takeOutput();
      emitted += out.length;
      for (const a of out) records.push({ topic: this.o.aggregatesTopic, key: aggregateKey(a), value: this.o.serdes.aggregate.encode(a) });
      open += t.agg.openWindows;
      if (!t.dirty && out.length === 0) continue;
      // The snapshot names the offset it has counted up to: the one this transaction commits.
      if (this.o.stateStore) records.push(this.o.stateStore.record(t.tp, { ...t.agg.snapshot(), offset: t.offset }));
      if (t.offset >= 0) offsets.set(key(t.tp), { ...t.tp, offset: t.offset });
      t.dirty = false;
    }
    this.#unsent = undefined;
    if (records.length > 0 || offsets.size > 0) {
      try {
        await this.#session.commit(records, [...offsets.values()]);
      } catch (err) {
        // Aborted: nothing of it is visible. With a changelog the loop rebuilds every task from its
        // last committed state and reads again from the committed offsets, so the retry counts each
        // reaction exactly once.
        if (this.o.stateStore) throw err;
        // No changelog to rebuild from (the memory log): keep the closed windows and offsets and
        // offer them again, e.g. once the publisher has made room in a full aggregates log.
        this.o.logger.warn({ err }, 'commit refused; keeping its windows for the next attempt');
        this.#unsent = { records, offsets: [...offsets], emitted };
        await new Promise((r) => setTimeout(r, 50));
        return;
      }
    }
    this.#lastCommit = Date.now();
    this.#healthy();
    this.o.metrics.windowsEmitted.inc(emitted);
    this.o.metrics.openWindows.set(open);
  }

  /**
   * Back to the last commit: every task's input position and its windows. Offsets first: on Kafka
   * that read waits (read_committed) for a transaction still open on them, e.g. the previous
   * owner's last commit, so the changelog read after it can hold that transaction's snapshot.
   */
  async #rewind(): Promise<void> {
    const tasks = [...this.#tasks.values()];
    const at = new Map((await this.#consumer.rewind(tasks.map((t) => t.tp))).map((p) => [key(p), p.offset]));
    for (const t of tasks) {
      const offset = at.get(key(t.tp)) ?? -1;
      const agg = this.#newAggregator();
      const snapshot = await this.#snapshotAt(t.tp, offset);
      if (snapshot) agg.restore(snapshot);
      Object.assign(t, { agg, offset, dirty: false });
    }
  }

  /**
   * The partition's snapshot written with its committed offset. Snapshot and offsets commit in one
   * transaction, but the commit's markers reach the changelog and the group's offsets separately:
   * just after a commit the offsets may be readable while the changelog still ends before the
   * snapshot. Restoring the older snapshot and reading on from the newer offset would lose the
   * reactions in between, so the load is tried again until the two agree, and fails (the loop's
   * recovery) if they never do. Snapshots written before they carried an offset are taken as is.
   */
  async #snapshotAt(tp: TopicPartition, offset: number): Promise<AggregatorSnapshot | null> {
    const store = this.o.stateStore;
    if (!store) return null;
    const deadline = Date.now() + SNAPSHOT_CATCH_UP_MS;
    for (let wait = 20; ; wait = Math.min(500, wait * 2)) {
      const s = await store.load(tp);
      // No snapshot is right only where nothing was counted yet (no commit, or the partition's start).
      const has = s ? (s.offset ?? offset) : -1;
      if (has === offset || (!s && offset <= 0)) return s;
      if (has > offset) {
        // Another member has committed this partition past our offsets: this member's assignment
        // is stale (a zombie not yet told of the rebalance; the cluster tier's node death shows
        // it). Its transactions are fenced by the group generation, so nothing it counts can
        // commit; waiting here would only keep it from polling and hearing of the revocation.
        this.o.logger.warn({ tp, snapshotOffset: has, committed: offset }, 'changelog ahead of the committed offsets: assignment looks stale');
        return s;
      }
      if (Date.now() + wait > deadline) {
        throw emoError('LOG_UNAVAILABLE', `window state of ${tp.topic}/${tp.partition} was saved at offset ${has}, but the committed offset is ${offset}; the changelog did not catch up in ${SNAPSHOT_CATCH_UP_MS} ms`);
      }
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  async close(): Promise<void> {
    this.#closing = true;
    await this.#loop;
    await this.#session?.close();
  }
}

/** One input partition's aggregation: its windows, the next offset to commit, and whether it changed. */
interface Task {
  tp: TopicPartition;
  agg: WindowAggregator;
  offset: number;
  dirty: boolean;
}

function key(tp: TopicPartition): string {
  return `${tp.topic}/${tp.partition}`;
}
