import { tpKey, type AssignmentChange, type LogConsumer, type TopicPartition } from '../ports/log.js';

export type InputState = 'idle' | 'waiting' | 'starved';

/**
 * Tells an idle stage from a starved one. An empty poll is progress only when nothing waits on the
 * assigned partitions: a consumer whose partitions hold records it no longer fetches (seen in the
 * chaos soak: a publisher after a frozen broker, lag 260 and growing, empty polls for minutes,
 * /healthz 200) gives empty polls too. The log is asked at most once per `checkEveryMs`; input
 * waiting for longer than `starvedAfterMs` with no record arriving is starvation.
 */
export class InputWatch {
  readonly #assigned = new Map<string, TopicPartition>();
  #lastCheck = Number.NEGATIVE_INFINITY;
  #waitingSince: number | undefined;
  #lastState: InputState = 'idle';
  /** The group's committed offsets (summed) when last asked, while this member holds no partition. */
  #groupCommitted: number | undefined;
  /** Whether the last answer held the group's offsets (see #unassigned). */
  #groupAnswered = true;

  constructor(
    private readonly o: {
      consumer: () => LogConsumer;
      now?: () => number;
      checkEveryMs?: number;
      starvedAfterMs?: number;
      /** Each assigned partition's lag as the log told it (a per-partition gauge). */
      onLag?: (tp: TopicPartition, lag: number) => void;
    },
  ) {}

  /** Follows the consumer's assignment (register with its onAssignment). */
  assignment({ assigned, revoked }: AssignmentChange): void {
    for (const tp of revoked) this.#assigned.delete(tpKey(tp));
    for (const tp of assigned) this.#assigned.set(tpKey(tp), tp);
    this.#waitingSince = undefined;
    this.#groupCommitted = undefined;
  }

  get partitions(): TopicPartition[] {
    return [...this.#assigned.values()];
  }

  /** Records arrived: whatever waited is being read. */
  received(): void {
    this.#waitingSince = undefined;
    this.#lastState = 'idle';
  }

  /**
   * After an empty poll. A partition whose lag cannot be asked now counts as waiting, but only
   * records the log says wait start the starvation clock: a log that cannot answer is an outage,
   * which the stage's recovery already handles, not a consumer to act on (and its seconds must not
   * make the first answer after it look like starvation).
   */
  async afterEmptyPoll(): Promise<InputState> {
    const now = (this.o.now ?? Date.now)();
    if (now - this.#lastCheck < (this.o.checkEveryMs ?? 1000)) return this.#lastState;
    this.#lastCheck = now;
    const consumer = this.o.consumer();
    if (this.#assigned.size === 0 && consumer.groupProgress) return this.#unassigned(consumer.groupProgress.bind(consumer), now);
    const partitions = this.partitions;
    const lags = await Promise.all(partitions.map((tp) => consumer.lag(tp).catch(() => undefined)));
    let known = false;
    for (const [i, lag] of lags.entries()) {
      if (lag === undefined) continue;
      this.o.onLag?.(partitions[i]!, lag);
      if (lag > 0) known = true;
    }
    if (lags.every((l) => l === 0)) {
      this.#waitingSince = undefined;
      this.#lastState = 'idle';
    } else if (!known) {
      this.#lastState = 'waiting';
    } else {
      this.#waitingSince ??= now;
      this.#lastState = now - this.#waitingSince >= (this.o.starvedAfterMs ?? 10_000) ? 'starved' : 'waiting';
    }
    return this.#lastState;
  }

  /**
   * Holding no partition is idleness while the group is: nothing waits, or another member commits.
   * Records waiting that no member commits (the group's committed offsets do not move) are
   * starvation too: a consumer left out of its group after a frozen broker sat like that, Kafka
   * showing no member, /healthz 200, every later window missing (chaos soak, 7 Dec). So is a
   * consumer whose own group client does not answer while the log does (committed undefined): it
   * was one that never joined again (chaos soak, 7 Dec, later). Its clock is its own: once the
   * group's offsets answer again, the clock starts afresh.
   */
  async #unassigned(progress: () => Promise<{ lag: number; committed: number | undefined }>, now: number): Promise<InputState> {
    const g = await progress().catch(() => undefined);
    if (g === undefined) {
      // An outage: the log cannot tell. Its seconds are not starvation (a rejoin follows it).
      this.#lastState = 'waiting';
      return this.#lastState;
    }
    const groupAnswered = g.committed !== undefined;
    if (groupAnswered !== this.#groupAnswered) this.#waitingSince = undefined;
    this.#groupAnswered = groupAnswered;
    const moved = g.committed !== undefined && this.#groupCommitted !== undefined && g.committed !== this.#groupCommitted;
    if (g.committed !== undefined) this.#groupCommitted = g.committed;
    if (g.lag === 0 || moved) {
      this.#waitingSince = undefined;
      this.#lastState = 'idle';
    } else {
      this.#waitingSince ??= now;
      // Twice the bound: a member joining its group holds nothing until the group's first
      // rebalance ends, which may wait out a dead member's session.
      this.#lastState = now - this.#waitingSince >= 2 * (this.o.starvedAfterMs ?? 10_000) ? 'starved' : 'waiting';
    }
    return this.#lastState;
  }

  /** Starts the starvation clock again (after a recovery action). */
  reset(): void {
    this.#waitingSince = undefined;
    this.#groupCommitted = undefined;
    this.#groupAnswered = true;
    this.#lastState = 'waiting';
    this.#lastCheck = Number.NEGATIVE_INFINITY;
  }
}
