import { tpKey, type AssignmentChange, type GroupProgress, type LogConsumer, type TopicPartition } from '../ports/log.js';

export type InputState = 'idle' | 'waiting' | 'starved';

/** What the starvation clock measures: the assigned partitions' lag, or the group's view (see #byGroup). */
type Clock = 'lags' | 'group' | 'group-unanswered' | 'client-away';

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
  /** The group's committed offsets (summed) when last asked (see #byGroup). */
  #groupCommitted: number | undefined;
  /** Which clock #waitingSince runs on (see #judge). */
  #clock: Clock = 'lags';

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
   * make the first answer after it look like starvation). When no partition's lag answers, the
   * group's view decides (see #byGroup): the consumer's own client may be the one that cannot reach
   * the log, while the log is there.
   */
  async afterEmptyPoll(): Promise<InputState> {
    const now = (this.o.now ?? Date.now)();
    if (now - this.#lastCheck < (this.o.checkEveryMs ?? 1000)) return this.#lastState;
    this.#lastCheck = now;
    const consumer = this.o.consumer();
    const progress = consumer.groupProgress?.bind(consumer);
    const partitions = this.partitions;
    if (partitions.length === 0) return progress ? this.#byGroup(progress, now) : this.#judge('lags', false, now);
    const lags = await Promise.all(partitions.map((tp) => consumer.lag(tp).catch(() => undefined)));
    if (progress && lags.every((l) => l === undefined)) return this.#byGroup(progress, now);
    let known = false;
    for (const [i, lag] of lags.entries()) {
      if (lag === undefined) continue;
      this.o.onLag?.(partitions[i]!, lag);
      if (lag > 0) known = true;
    }
    if (lags.every((l) => l === 0)) return this.#judge('lags', false, now);
    if (!known) {
      this.#lastState = 'waiting';
      return this.#lastState;
    }
    return this.#judge('lags', true, now);
  }

  /**
   * Idle when nothing waits; otherwise waiting, then starved once input has waited past the bound
   * on this clock. The lag clock and the group clock (#byGroup) are separate: a consumer moving from
   * one to the other starts afresh.
   */
  #judge(clock: Clock, waiting: boolean, now: number): InputState {
    if (clock !== this.#clock) this.#waitingSince = undefined;
    this.#clock = clock;
    if (!waiting) {
      this.#waitingSince = undefined;
      this.#lastState = 'idle';
      return this.#lastState;
    }
    this.#waitingSince ??= now;
    // On the group's clocks, twice the bound: a member joining its group holds nothing until the
    // group's first rebalance ends, which may wait out a dead member's session. A client that cannot
    // reach the log while a fresh one can is not joining anything: the bound.
    const bound = (this.o.starvedAfterMs ?? 10_000) * (clock === 'lags' || clock === 'client-away' ? 1 : 2);
    this.#lastState = now - this.#waitingSince >= bound ? 'starved' : 'waiting';
    return this.#lastState;
  }

  /**
   * The group's view: idleness while nothing waits, or while another member commits. Records
   * waiting that no member commits (the group's committed offsets do not move) are starvation: a
   * consumer left out of its group after a frozen broker sat like that, Kafka showing no member,
   * /healthz 200, every later window missing (chaos soak, 7 Dec). So is a consumer whose group
   * offsets do not answer while the log does (committed undefined), on a clock of its own: one
   * that never joined again. The Kafka adapter answers through a fresh client when the consumer's
   * own cannot reach the log (ownClientAway), so a client that never reconnects (chaos soak and CI,
   * 7 Dec: its every call failing while every other client of the broker was fine) reads as what it
   * is, not as an outage, on a clock of its own too. An outage is only when nobody can ask.
   */
  async #byGroup(progress: () => Promise<GroupProgress>, now: number): Promise<InputState> {
    const g = await progress().catch(() => undefined);
    if (g === undefined) {
      // An outage: the log cannot tell. Its seconds are not starvation (a rejoin follows it).
      this.#lastState = 'waiting';
      return this.#lastState;
    }
    const moved = g.committed !== undefined && this.#groupCommitted !== undefined && g.committed !== this.#groupCommitted;
    if (g.committed !== undefined) this.#groupCommitted = g.committed;
    const clock = g.ownClientAway ? 'client-away' : g.committed === undefined ? 'group-unanswered' : 'group';
    return this.#judge(clock, g.lag !== 0 && !moved, now);
  }

  /** Starts the starvation clock again (after a recovery action). */
  reset(): void {
    this.#waitingSince = undefined;
    this.#groupCommitted = undefined;
    this.#lastState = 'waiting';
    this.#lastCheck = Number.NEGATIVE_INFINITY;
  }
}
