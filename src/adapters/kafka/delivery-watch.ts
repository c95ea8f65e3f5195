/**
 * Whether a producer's deliveries have stopped: a record has waited longer than `stuckMs` for its
 * delivery report, and no record was delivered meanwhile. A failed delivery is not progress, but a
 * producer with nothing left waiting (every record answered, delivered or failed) is not stuck.
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
  #waiting = 0;
  /** Since when records have waited with none delivered: the last delivery, or the first send after nothing waited. */
  #since: number | undefined;

  constructor(
    readonly stuckMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  sent(): void {
    this.#waiting++;
    this.#since ??= this.now();
  }

  answered(delivered: boolean): void {
    this.#waiting = Math.max(0, this.#waiting - 1);
    if (this.#waiting === 0) this.#since = undefined;
    else if (delivered) this.#since = this.now();
  }

  stuck(): boolean {
    return this.#waiting > 0 && this.#since !== undefined && this.now() - this.#since > this.stuckMs;
  }

  /** After a replacement, or an attempt at one: what still waits is judged afresh from now. */
  restart(): void {
    this.#since = this.#waiting > 0 ? this.now() : undefined;
  }
}
