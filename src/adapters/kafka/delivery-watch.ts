/**
 * Whether a producer's deliveries have stopped: a record has waited longer than `stuckMs` for its
 * delivery, and no record was delivered meanwhile. Failed deliveries do not count as progress.
 *
 * librdkafka can be left that way by a broker that was frozen long enough to be fenced by its
 * controller: the partitions' leaders go to none and back within ~100 ms, and a producer that saw
 * "no leader" in that moment never asks again (librdkafka issue 5430, unreleased fix 5431). The
 * chaos tier met it: every record timed out for the next 11 minutes while every other client
 * of the same broker was fine. A new producer instance reads fresh metadata and delivers.
 * Partitions are not told apart (the partitioner runs inside librdkafka): a producer with one
 * partition stuck and others delivering is not seen as stuck.
 */
export class DeliveryWatch {
  /** When the oldest record sent since the last delivery was sent; undefined: none waits. */
  #waitingSince: number | undefined;

  constructor(
    readonly stuckMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  sent(): void {
    this.#waitingSince ??= this.now();
  }

  delivered(): void {
    this.#waitingSince = undefined;
  }

  stuck(): boolean {
    return this.#waitingSince !== undefined && this.now() - this.#waitingSince > this.stuckMs;
  }

  /** After a replacement, or an attempt at one: judged afresh from now. */
  restart(): void {
    if (this.#waitingSince !== undefined) this.#waitingSince = this.now();
  }
}
