import type { Logger } from 'pino';
import type { AvroSerde } from '../codec/serde.js';
import type { ReactionCodec } from '../codec/reaction-codec.js';
import type { EmojiCatalog } from '../domain/catalog.js';
import type { Clock } from '../ports/clock.js';
import { StageLoop } from '../stage/stage-loop.js';
import type { StageProgress } from '../stage/stage-progress.js';
import type { WindowAggregate } from '../domain/types.js';
import { transactionOutcome, type Log, type LogConsumer, type LogRecord, type ProducerRecord, type TopicPartition, type TopicPartitionOffset, type TransactionalSession } from '../ports/log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { WindowStateStore } from '../ports/window-state-store.js';
import { PartitionRestore, type ResumeAt } from './partition-restore.js';
import { WindowAggregator, type WindowRules } from './window-aggregator.js';
import { DEFAULTS } from '../config/config.js';
import { tpKey } from '../ports/log.js';

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

const IDLE_CHECK_MS = 1_000;
/** How often a busy runner lets its consumer serve the group (session.timeout.ms is 6 s). */
const PUMP_EVERY_MS = 250;
/** A phase of the loop (a poll, a restore, a commit) lasting this long is logged: each is bounded far below it. */
const PHASE_WARN_MS = 30_000;

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
  #lastIdleCheck = 0;
  #phase = { name: 'start', since: Date.now(), told: false };
  /** Bumped by every assignment change: a rewind that one overtook is done again. */
  #assignments = 0;
  /** Set by a failure or a new assignment: every task is rebuilt from the changelog before going on. */
  #needsRewind = false;
  /**
   * Each partition's state as its last committed changelog snapshot holds it (kept as each
   * transaction commits, or as the changelog gave it back). After a transaction known to be
   * aborted, the rewind starts from these instead of reading the changelog: the same state, without
   * the reads, which after a Kafka node's death cost seconds against stale partition leaders.
   */
  readonly #committed = new Map<string, ResumeAt>();
  /** The last failure was a transaction known to be aborted: the rewind may use #committed. */
  #abortedOnly = false;
  /** A commit the log refused, kept whole for the next attempt (memory log only). */
  #unsent: { records: ProducerRecord[]; offsets: Array<[string, TopicPartitionOffset]>; emitted: number } | undefined;

  readonly #stage: StageLoop;
  readonly #restore: PartitionRestore;

  constructor(private readonly o: AggregatorRunnerOptions) {
    const progress = o.progress ? { progress: o.progress } : {};
    this.#stage = new StageLoop({ stage: 'aggregator', dependency: 'kafka', giveUpMs: o.recoveryGiveUpMs ?? DEFAULTS.recoveryGiveUpMs, logger: o.logger, ...progress });
    this.#restore = new PartitionRestore({
      consumer: () => this.#consumer,
      fence: () => this.#session.fence(),
      ...(o.stateStore ? { stateStore: o.stateStore } : {}),
      logger: o.logger,
      metrics: o.metrics,
      ...progress,
    });
  }

  /** The session's own consumer: its offsets are what the session's transactions commit. */
  get #consumer(): LogConsumer {
    return this.#session.consumer;
  }

  /** Connects, joins the group and starts the loop; resolves once it runs. */
  async start(): Promise<void> {
    if (this.#loop) return;
    const o = this.o;
    // Ready once it holds its partitions (maybe none) and has restored them: before, a fresh deploy
    // answered 200 while no window could come out for the first ~18 s.
    o.progress?.pending('assignment');
    this.#session = await o.log.transactionalSession({
      transactionalId: o.transactionalId,
      groupId: o.groupId,
      topics: [o.reactionsTopic],
      onRecovery: (kind) => o.progress?.recovered(kind),
    });
    this.#consumer.onAssignment(({ assigned, revoked }) => {
      o.logger.info({ assigned: assigned.map((tp) => tp.partition), revoked: revoked.map((tp) => tp.partition) }, 'partitions reassigned');
      for (const tp of revoked) this.#tasks.delete(tpKey(tp));
      for (const tp of assigned) this.#tasks.set(tpKey(tp), { tp, agg: this.#newAggregator(), offset: -1, dirty: false });
      // Another member may have committed them meanwhile: only the changelog knows them now.
      for (const tp of [...revoked, ...assigned]) this.#committed.delete(tpKey(tp));
      // A new partition's windows and position come back through the rewind, before anything of
      // it counts (see #rewind); the session's consumer reads it only from where that seeks it.
      this.#assignments++;
      if (assigned.length > 0) {
        this.#needsRewind = true;
        o.progress?.pending('restore');
      }
      o.progress?.settled('assignment');
    });
    const watch = this.#watchPhases();
    this.#loop = this.#run().finally(() => clearInterval(watch)).catch((err) => {
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
   * from the changelog, waits with backoff and goes on (see StageLoop). Only failures lasting past
   * recoveryGiveUpMs end it, with one error saying why.
   */
  async #run(): Promise<void> {
    await this.#stage.run(
      async () => {
        if (this.#needsRewind) {
          const assignments = this.#assignments;
          this.#enter('restore');
          await this.#serving(this.#rewind());
          // A rebalance during the rewind (its callback runs at any await) replaced tasks the
          // rewind did not position: those partitions would read from wherever the consumer put
          // them. Rewind again; only a rewind that no assignment overtook settles the restore.
          if (assignments !== this.#assignments) return;
          this.#needsRewind = false;
          this.#abortedOnly = true;
          this.o.progress?.settled('restore');
          // A recovery only when it follows a failure, not the restore of newly assigned partitions.
          if (this.#stage.failing) this.o.progress?.recovered('rewind');
        }
        await this.#step();
      },
      {
        closing: () => this.#closing,
        onFailure: (err: unknown) => {
          if (this.o.stateStore) this.#needsRewind = true;
          this.#abortedOnly = this.#abortedOnly && transactionOutcome(err) === 'aborted';
        },
      },
    );
    if (!this.#needsRewind && (this.#unsent || this.#anyDirty() || this.#hasOutput())) await this.#commit();
  }

  #healthy(): void {
    this.#stage.healthy();
  }

  /**
   * Where the loop is, for a stall that logs nothing else: every call is bounded, but a stage seen
   * silent for 100 s in the chaos soak (its /healthz rightly 503) left no line saying in what. A
   * phase that lasts over PHASE_WARN_MS is logged once, at error, with its name and age.
   */
  #enter(phase: string): void {
    this.#phase = { name: phase, since: Date.now(), told: false };
  }

  #watchPhases(): NodeJS.Timeout {
    const timer = setInterval(() => {
      const p = this.#phase;
      if (this.#closing || p.told || Date.now() - p.since < PHASE_WARN_MS) return;
      p.told = true;
      this.o.logger.error({ phase: p.name, forMs: Date.now() - p.since, needsRestore: this.#needsRewind, partitions: [...this.#tasks.values()].map((t) => t.tp.partition) }, 'aggregator loop stuck in one phase');
    }, 5_000);
    timer.unref();
    return timer;
  }

  /**
   * While a restore or a commit takes its time (seconds, with a broker slow or away), the consumer
   * keeps serving the group's rebalances: eager rebalancing waits for every member to give its
   * partitions up, and a member that did not poll for a whole restore held the other one waiting
   * in turn, round after round (the chaos soak's broker freeze: minutes without a window).
   */
  async #serving<T>(work: Promise<T>): Promise<T> {
    const timer = setInterval(() => void this.#consumer.pump().catch(() => {}), PUMP_EVERY_MS);
    try {
      return await work;
    } finally {
      clearInterval(timer);
    }
  }

  async #step(): Promise<void> {
    const max = this.o.maxPollRecords ?? 5000;
    const commitEvery = this.o.commitIntervalMs ?? 100;
    this.#enter('poll');
    const batch = await this.#consumer.poll(max, this.#pollTimeout());
    this.#enter('count');
    // This poll's rebalance assigned partitions (or a failure is pending): nothing may be counted
    // before the rewind restores them.
    if (this.#needsRewind) return;
    await this.#processBatch(batch);
    // An assignment while the batch was counted (a record waiting for the registry) may have fed
    // old records to a new partition's fresh task: count nothing of it; the rewind reads it again.
    if (this.#needsRewind) return;
    // Wall-clock closing only for partitions read to their end: while a backlog replays, stream time decides.
    if (batch.length < max) {
      this.#enter('punctuate');
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
    else if (batch.length === 0 && !this.#anyDirty()) await this.#idleIfCaughtUp();
  }

  /**
   * A quiet poll is progress only when no input is waiting: a partition that cannot be read (its
   * fetch stuck, its broker away) gives empty polls too, and health must see it stalled.
   * Asked of the log at most once a second, which also refreshes the per-partition lag gauge.
   */
  async #idleIfCaughtUp(): Promise<void> {
    if (Date.now() - this.#lastIdleCheck < IDLE_CHECK_MS) return;
    this.#lastIdleCheck = Date.now();
    this.#enter('lag');
    let waiting = false;
    for (const t of [...this.#tasks.values()]) {
      const lag = await this.#consumer.lag(t.tp).catch(() => undefined);
      if (lag !== undefined) this.o.metrics.partitionLag.set({ partition: String(t.tp.partition) }, lag);
      if (lag !== 0) waiting = true;
    }
    if (!waiting) this.#healthy();
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
          task = this.#tasks.get(tpKey(rec));
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
    // Tasks replaced by an assignment the rewind has not restored yet hold no state worth a commit.
    if (this.#needsRewind) return;
    // What a refused commit left behind goes first, so windows keep their order.
    const records: ProducerRecord[] = [...(this.#unsent?.records ?? [])];
    const offsets = new Map<string, TopicPartitionOffset>(this.#unsent?.offsets ?? []);
    let emitted = this.#unsent?.emitted ?? 0;
    let open = 0;
    const written: Array<[string, ResumeAt]> = [];
    for (const t of this.#tasks.values()) {
      const out = t.agg.takeOutput();
      emitted += out.length;
      for (const a of out) records.push({ topic: this.o.aggregatesTopic, key: aggregateKey(a), value: this.o.serdes.aggregate.encode(a) });
      open += t.agg.openWindows;
      if (!t.dirty && out.length === 0) continue;
      // The snapshot names the offset it has counted up to: the one this transaction commits.
      if (this.o.stateStore) {
        // snapshot() copies the aggregator's state: what is kept here does not change with it.
        const snapshot = { ...t.agg.snapshot(), offset: t.offset };
        records.push(this.o.stateStore.record(t.tp, snapshot));
        written.push([tpKey(t.tp), { snapshot, offset: t.offset }]);
      }
      if (t.offset >= 0) offsets.set(tpKey(t.tp), { ...t.tp, offset: t.offset });
      t.dirty = false;
    }
    const committedAt = Date.now() / 1000;
    this.#unsent = undefined;
    if (records.length > 0 || offsets.size > 0) {
      try {
        this.#enter('commit');
        await this.#serving(this.#session.commit(records, [...offsets.values()]));
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
    for (const [k, at] of written) this.#committed.set(k, at);
    this.#lastCommit = Date.now();
    for (const o of offsets.values()) this.o.metrics.partitionLastCommit.set({ partition: String(o.partition) }, committedAt);
    this.#healthy();
    this.o.metrics.windowsEmitted.inc(emitted);
    this.o.metrics.openWindows.set(open);
  }

  /**
   * Back to the last commit: every task's windows and input position, from the changelog (see
   * partition-restore.ts), then the consumer seeks each partition to where it resumes.
   */
  async #rewind(): Promise<void> {
    const tasks = [...this.#tasks.values()];
    // Only aborted transactions since the last rewind, and every partition's committed state known
    // here: the changelog holds exactly that (nothing else of ours committed meanwhile).
    const known = this.#abortedOnly && tasks.every((t) => this.#committed.has(tpKey(t.tp)));
    const points = known ? tasks.map((t) => this.#committed.get(tpKey(t.tp))!) : await this.#restore.resumePoints(tasks.map((t) => t.tp));
    if (known) this.o.metrics.resumes.inc({ basis: 'memory' }, tasks.length);
    const positions: TopicPartitionOffset[] = [];
    for (const [i, t] of tasks.entries()) {
      const at = points[i]!;
      this.#committed.set(tpKey(t.tp), at);
      const agg = this.#newAggregator();
      // A copy: the aggregator counts into the arrays it restores from.
      if (at.snapshot) agg.restore(structuredClone(at.snapshot));
      Object.assign(t, { agg, offset: at.offset, dirty: false });
      positions.push({ ...t.tp, offset: at.offset });
    }
    await this.#consumer.seek(positions);
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
