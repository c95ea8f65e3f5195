import type { Logger } from 'pino';
import { emoError } from '../domain/errors.js';
import type { Metrics } from '../metrics/metrics.js';
import type { LogConsumer, TopicPartition } from '../ports/log.js';
import type { AggregatorSnapshot, FenceTarget, WindowStateStore } from '../ports/window-state-store.js';
import type { StageProgress } from '../stage/stage-progress.js';
import { resumeVerdict } from './resume-point.js';

/**
 * How long a partition's restore waits for a consistent resume point: past the transaction timeout
 * (10 s), after which the coordinator has aborted any transaction left open on the changelog.
 */
const RESUME_WAIT_MS = 12_000;
/** A transaction open this long on the changelog is not a commit in flight (milliseconds). */
const FENCE_AFTER_MS = 1_000;
/** The group's committed offset is a cross-check: asked with a short bound, never waited for. */
const COMMITTED_CHECK_MS = 2_000;

export interface ResumeAt {
  snapshot: AggregatorSnapshot | null;
  /** The next input offset to read; -1: the partition's start. */
  offset: number;
}

export interface PartitionRestoreOptions {
  consumer: () => LogConsumer;
  /** Ends an open transaction on the changelog (TransactionalSession.fence). */
  fence: (target?: FenceTarget) => Promise<void>;
  stateStore?: WindowStateStore;
  logger: Logger;
  metrics: Metrics;
  progress?: StageProgress;
}

/**
 * Where each partition's aggregation resumes: the changelog decides (resume-point.ts), with the
 * group's committed offsets as a bounded cross-check. Partitions are restored side by side, so
 * one waiting out an open transaction does not add its wait to every other's.
 */
export class PartitionRestore {
  /** Fences one at a time: two at once under our own id would replace our producer twice over. */
  #fencing: Promise<void> = Promise.resolve();

  constructor(private readonly o: PartitionRestoreOptions) {}

  async resumePoints(tps: TopicPartition[]): Promise<ResumeAt[]> {
    // Each partition asked on its own: a partition whose offset fetch hangs does not hold back the others' answers.
    const committed = await Promise.all(
      tps.map((tp) =>
        this.o.consumer().committed([tp], COMMITTED_CHECK_MS).then(
          ([c]) => c?.offset,
          (err: unknown) => {
            this.o.logger.warn({ tp, err: (err as Error).message }, 'committed offset not known in time: the changelog decides');
            return undefined;
          },
        ),
      ),
    );
    return Promise.all(tps.map((tp, i) => this.#resumePoint(tp, committed[i])));
  }

  /**
   * Loads the partition's changelog until it gives a consistent resume point. While it is not
   * (the last commit's snapshot not visible yet, or a transaction open on the changelog) the load
   * is tried again. A transaction still open after FENCE_AFTER_MS is not a commit in flight: it is
   * ended by a fence of its writer (ours, or a previous owner's, which it fences), whether or not
   * Kafka's coordinator still knows of it (see TransactionalSession.fence). One that outlives that
   * fails the restore (the loop's recovery, ended by RECOVERY_GIVE_UP_MS).
   */
  async #resumePoint(tp: TopicPartition, committed: number | undefined): Promise<ResumeAt> {
    const store = this.o.stateStore;
    if (!store) {
      if (committed === undefined) throw emoError('LOG_UNAVAILABLE', `committed offset of ${tp.topic}/${tp.partition} not known, and no changelog to resume from`);
      return { snapshot: null, offset: committed };
    }
    const started = Date.now();
    let fenced = false;
    for (let wait = 20; ; wait = Math.min(500, wait * 2)) {
      const state = await store.load(tp);
      const v = resumeVerdict(state, committed);
      if (v.resume) {
        if (v.basis !== 'agreed') this.o.logger.warn({ tp, basis: v.basis, snapshotOffset: state.snapshot?.offset, committed }, 'resuming from the changelog without the group offset agreeing');
        this.o.metrics.resumes.inc({ basis: v.basis });
        return v;
      }
      const waited = Date.now() - started;
      // Waiting for the last commit's snapshot ('changelog-behind') is waiting for that open
      // transaction too: the snapshot is behind it. A hanging one never ends by itself.
      if (state.openTransaction && !fenced && waited >= FENCE_AFTER_MS) {
        fenced = true;
        await this.#fence(tp, store, v.waitFor);
      }
      if (waited + wait > RESUME_WAIT_MS) {
        throw emoError('LOG_UNAVAILABLE', `no consistent resume point for ${tp.topic}/${tp.partition} in ${RESUME_WAIT_MS} ms (${v.waitFor}; snapshot offset ${state.snapshot?.offset ?? 'none'}, committed ${committed ?? 'unknown'})`);
      }
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /**
   * In turn with the other partitions' fences, and on a fresh load: a member killed mid-transaction
   * leaves one open on each of its partitions, and the first fence of its id ends them all.
   */
  #fence(tp: TopicPartition, store: WindowStateStore, waitFor: string): Promise<void> {
    const run = this.#fencing.then(async () => {
      const state = await store.load(tp);
      if (!state.openTransaction) return;
      this.o.logger.warn({ tp, waitFor, openAt: state.openAt, snapshotOffset: state.snapshot?.offset }, 'changelog transaction still open: ending it');
      await this.o.fence(state.openAt);
      this.o.progress?.recovered('fenced');
    });
    this.#fencing = run.catch(() => {});
    return run;
  }
}
