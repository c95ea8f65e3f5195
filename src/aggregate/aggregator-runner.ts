import type { Logger } from 'pino';
import type { AvroSerde } from '../codec/serde.js';
import type { ReactionCodec } from '../codec/reaction-codec.js';
import type { EmojiCatalog } from '../domain/catalog.js';
import type { Clock } from '../ports/clock.js';
import { StageLoop } from '../stage/stage-loop.js';
import type { StageProgress } from '../stage/stage-progress.js';
import type { WindowAggregate } from '../domain/types.js';
import { transactionOutcome, type Log, type LogConsumer, type TopicPartitionOffset, type TransactionalSession } from '../ports/log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { WindowStateStore } from '../ports/window-state-store.js';
import { PartitionRestore, type ResumeAt } from './partition-restore.js';
import type { WindowRules } from './window-aggregator.js';
import { DEFAULTS } from '../config/config.js';
import { tpKey } from '../ports/log.js';
import { PartitionTasks } from './partition-tasks.js';
import { PhaseWatch } from '../stage/phase-watch.js';
import { InputWatch } from '../stage/input-watch.js';
import { collectCommit, type CarriedBatch } from './commit-batch.js';

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
  /** Reactions waiting this long on its partitions with none arriving: a new session (default 10 s). */
  starvedAfterMs?: number;
}

/** How often a quiet runner asks the log whether input waits (InputWatch). */
const IDLE_CHECK_MS = 1_000;
/** Reactions waiting this long on our partitions with none arriving: starved (see #unstarve). */
const STARVED_AFTER_MS = 10_000;
/** How often a busy runner lets its consumer serve the group (session.timeout.ms is 6 s). */
const PUMP_EVERY_MS = 250;

export { aggregateKey } from './commit-batch.js';

/** Consume reactions -> per-partition windows -> aggregates, committed with input offsets in one transaction. */
export class AggregatorRunner {
  readonly #tasks: PartitionTasks;
  readonly #phases: PhaseWatch;
  #session!: TransactionalSession;
  #loop: Promise<void> | undefined;
  #closing = false;
  #lastCommit = 0;
  /** Idle or starved: the lag of the partitions the tasks hold, or the group's progress when none. */
  readonly #input: InputWatch;
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
  #unsent: CarriedBatch | undefined;

  readonly #stage: StageLoop;
  readonly #restore: PartitionRestore;

  constructor(private readonly o: AggregatorRunnerOptions) {
    this.#input = new InputWatch({
      consumer: () => this.#consumer,
      checkEveryMs: IDLE_CHECK_MS,
      starvedAfterMs: o.starvedAfterMs ?? STARVED_AFTER_MS,
      onLag: (tp, lag) => o.metrics.partitionLag.set({ partition: String(tp.partition) }, lag),
    });
    this.#tasks = new PartitionTasks({ catalog: o.catalog, rules: o.rules, reactions: o.serdes.reactions, metrics: o.metrics, logger: o.logger, closing: () => this.#closing, progress: o.progress });
    this.#phases = new PhaseWatch({ stage: 'aggregator', logger: o.logger, context: () => ({ needsRestore: this.#needsRewind, partitions: this.#tasks.partitions, consumer: this.#session?.consumer.diagnostics?.() }), quiet: () => this.#closing });
    const progress = o.progress ? { progress: o.progress } : {};
    this.#stage = new StageLoop({ stage: 'aggregator', dependency: 'kafka', giveUpMs: o.recoveryGiveUpMs ?? DEFAULTS.recoveryGiveUpMs, logger: o.logger, ...progress });
    this.#restore = new PartitionRestore({
      consumer: () => this.#consumer,
      fence: (target) => this.#session.fence(target),
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

  /**
   * The transactional session (consumer and producer under our transactional id), its assignment
   * followed by the tasks. A session may be replaced (see #unstarve): the listener acts only for
   * the session in use.
   */
  async #openSession(): Promise<TransactionalSession> {
    const session = await this.o.log.transactionalSession({
      transactionalId: this.o.transactionalId,
      groupId: this.o.groupId,
      topics: [this.o.reactionsTopic],
      onRecovery: (kind) => this.o.progress?.recovered(kind),
    });
    session.consumer.onAssignment(({ assigned, revoked }) => {
      if (this.#session !== undefined && session !== this.#session) return;
      this.o.logger.info({ assigned: assigned.map((tp) => tp.partition), revoked: revoked.map((tp) => tp.partition) }, 'partitions reassigned');
      this.#tasks.assign(assigned, revoked);
      this.#input.assignment({ assigned, revoked });
      // Another member may have committed them meanwhile: only the changelog knows them now.
      for (const tp of [...revoked, ...assigned]) this.#committed.delete(tpKey(tp));
      // A new partition's windows and position come back through the rewind, before anything of
      // it counts (see #rewind); the session's consumer reads it only from where that seeks it.
      this.#assignments++;
      if (assigned.length > 0) {
        this.#needsRewind = true;
        this.o.progress?.pending('restore');
      }
      this.o.progress?.settled('assignment');
    });
    return session;
  }

  /** Connects, joins the group and starts the loop; resolves once it runs. */
  async start(): Promise<void> {
    if (this.#loop) return;
    const o = this.o;
    // Ready once it holds its partitions (maybe none) and has restored them: before, a fresh deploy
    // answered 200 while no window could come out for the first ~18 s.
    o.progress?.pending('assignment');
    this.#session = await this.#openSession();
    this.#phases.start();
    this.#loop = this.#run().finally(() => this.#phases.stop()).catch((err) => {
      this.o.logger.fatal({ err }, 'aggregator loop stopped');
      this.o.onFatal?.(err);
    });
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
          this.#phases.enter('restore');
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
    if (!this.#needsRewind && (this.#unsent || this.#tasks.anyDirty || this.#tasks.hasOutput)) await this.#commit();
  }

  #healthy(): void {
    this.#stage.healthy();
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
    this.#phases.enter('poll');
    const batch = await this.#consumer.poll(max, this.#pollTimeout());
    this.#phases.enter('count');
    // This poll's rebalance assigned partitions (or a failure is pending): nothing may be counted
    // before the rewind restores them.
    if (this.#needsRewind) return;
    if (batch.length > 0) this.#input.received();
    await this.#tasks.count(batch);
    // An assignment while the batch was counted (a record waiting for the registry) may have fed
    // old records to a new partition's fresh task: count nothing of it; the rewind reads it again.
    if (this.#needsRewind) return;
    // Wall-clock closing only for partitions read to their end: while a backlog replays, stream time decides.
    if (batch.length < max) {
      this.#phases.enter('punctuate');
      const now = this.o.clock.now();
      // Asked side by side: against a partition leader that just died each answer can take seconds.
      const due = this.#tasks.all().filter((t) => t.agg.hasDue(now));
      const caughtUp = await Promise.all(due.map((t) => this.#consumer.caughtUp(t.tp)));
      for (const [i, t] of due.entries()) {
        if (!caughtUp[i]) continue;
        t.agg.punctuate(now);
        t.agg.evictIdle(now, 10 * 60_000);
      }
    }
    // Commit cadence is wall time, whatever clock drives the windows.
    const due = Date.now() - this.#lastCommit >= commitEvery;
    if (this.#unsent || this.#tasks.hasOutput || (due && this.#tasks.anyDirty)) await this.#commit();
    else if (batch.length === 0 && !this.#tasks.anyDirty) await this.#idleIfCaughtUp();
  }

  /**
   * A quiet poll is progress only when no input is waiting: a partition that cannot be read (its
   * fetch stuck, its broker away) gives empty polls too, and health must see it stalled. Starved
   * (reactions the log says wait, none arriving; or, holding no partition, reactions no member of
   * the group commits) is cured by a new session. The chaos tier met both after a frozen broker:
   * consumers out of their group, Kafka showing no member, lag in the thousands, polling nothing
   * for good.
   */
  async #idleIfCaughtUp(): Promise<void> {
    this.#phases.enter('lag');
    const state = await this.#input.afterEmptyPoll();
    if (state === 'idle') this.#healthy();
    else if (state === 'starved') await this.#unstarve();
  }

  /**
   * A new session replaces this one: a new consumer (a new member of the group, assigned afresh,
   * its partitions restored from the changelog) and a producer under the same transactional id,
   * which fences the old one. The old session closes in the background. (A rewind alone, the
   * publisher's first cure, does not bring back a consumer that left its group.)
   */
  async #unstarve(): Promise<void> {
    const held = this.#tasks.all().map((t) => t.tp);
    const why = held.length > 0 ? 'reactions wait but none arrive' : 'reactions wait that no member of the group counts, and this one holds no partition';
    this.o.logger.warn({ partitions: this.#tasks.partitions, consumer: this.#consumer.diagnostics?.() }, `${why}; a new session (consumer and producer) replaces this one`);
    this.o.progress?.recovered('starved-new-session');
    const old = this.#session;
    this.#tasks.assign([], held);
    this.#input.assignment({ assigned: [], revoked: held });
    this.#committed.clear();
    this.#assignments++;
    this.o.progress?.pending('assignment');
    this.#session = await this.#openSession();
    void old.close().catch((err: unknown) => this.o.logger.warn({ err }, 'the replaced session did not close'));
  }

  /**
   * A poll waits for input no longer than until the next window may close: a quiet match's window
   * goes out when it is due, not up to punctuateMs later (seen as ~250 ms outliers in bench:spark's
   * live latency when the input paused).
   */
  #pollTimeout(): number {
    const left = Math.ceil(this.#tasks.nextCloseAt - this.o.clock.now());
    // At least 50 ms (the consumer's fetch.wait.max.ms): a due window whose partition is still
    // behind must not turn the loop into a spin of empty polls and caught-up queries to the broker.
    return Math.max(Math.min(50, this.o.punctuateMs), Math.min(this.o.punctuateMs, left));
  }

  async #commit(): Promise<void> {
    // Tasks replaced by an assignment the rewind has not restored yet hold no state worth a commit.
    if (this.#needsRewind) return;
    // What a refused commit left behind goes first, so windows keep their order.
    const { records, offsets, written, emitted, open } = collectCommit(this.#tasks.all(), { aggregatesTopic: this.o.aggregatesTopic, aggregate: this.o.serdes.aggregate, stateStore: this.o.stateStore, writer: this.o.transactionalId }, this.#unsent);
    const committedAt = Date.now() / 1000;
    this.#unsent = undefined;
    if (records.length > 0 || offsets.size > 0) {
      try {
        this.#phases.enter('commit');
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
    const tasks = this.#tasks.all();
    // Only aborted transactions since the last rewind, and every partition's committed state known
    // here: the changelog holds exactly that (nothing else of ours committed meanwhile).
    const known = this.#abortedOnly && tasks.every((t) => this.#committed.has(tpKey(t.tp)));
    const points = known ? tasks.map((t) => this.#committed.get(tpKey(t.tp))!) : await this.#restore.resumePoints(tasks.map((t) => t.tp));
    if (known) this.o.metrics.resumes.inc({ basis: 'memory' }, tasks.length);
    const positions: TopicPartitionOffset[] = [];
    for (const [i, t] of tasks.entries()) {
      const at = points[i]!;
      this.#committed.set(tpKey(t.tp), at);
      this.#tasks.reset(t, at);
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
