import type { Logger } from 'pino';
import { emoError } from '../domain/errors.js';
import type { StageProgress } from './stage-progress.js';
import { sleepOn, systemTimerClock, type TimerClock } from '../ports/clock.js';

/**
 * Exponential backoff with jitter (half fixed, half random): members that failed together (two
 * aggregators after one broker outage) do not retry against the broker in step.
 */
export class Backoff {
  #next: number;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {
    this.#next = initialMs;
  }

  /** The delay to wait now; the one after is twice as long, up to maxMs. */
  next(): number {
    const base = this.#next;
    this.#next = Math.min(this.maxMs, this.#next * 2);
    return base / 2 + this.random() * (base / 2);
  }

  reset(): void {
    this.#next = this.initialMs;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface StageLoopOptions {
  /** The stage, as errors and logs name it. */
  stage: string;
  /** The dependency a failing step is blamed on in /readyz (the log, for every loop today). */
  dependency: string;
  /** Failures lasting this long end the loop with EMO_ERR_LOG_UNAVAILABLE (the process exits, a supervisor restarts it). */
  giveUpMs: number;
  logger: Logger;
  progress?: StageProgress;
  backoff?: Backoff;
  /** Times the run of failures and the backoff between steps (default: Date.now and setTimeout). */
  clock?: TimerClock;
}

/**
 * The one loop every stage runs: a step, and on its failure mark the dependency down, let the
 * stage prepare its recovery, back off with jitter and go on; give up only after giveUpMs of
 * failing. A run of failures ends when the stage says it is healthy again (`healthy()`), which is
 * the stage's own evidence (a commit, a quiet partition read to its end), not merely a step that
 * did not throw: a poll that returns nothing because nothing can be read is no recovery.
 */
export class StageLoop {
  #failingSince: number | undefined;
  readonly #backoff: Backoff;
  readonly #clock: TimerClock;

  constructor(private readonly o: StageLoopOptions) {
    this.#backoff = o.backoff ?? new Backoff(100, 2000);
    this.#clock = o.clock ?? systemTimerClock;
  }

  /** In a run of failures that no healthy() has ended yet. */
  get failing(): boolean {
    return this.#failingSince !== undefined;
  }

  healthy(): void {
    this.#failingSince = undefined;
    this.o.progress?.up(this.o.dependency);
    this.o.progress?.progressed();
  }

  /**
   * Runs `step` until `closing()`. `onFailure` prepares the recovery of a failed step (e.g. rewind
   * to the last commit before the next); it runs before the backoff.
   */
  async run(step: () => Promise<void>, hooks: { closing: () => boolean; onFailure?: (err: unknown) => void }): Promise<void> {
    while (!hooks.closing()) {
      try {
        await step();
        this.#backoff.reset();
      } catch (err) {
        if (hooks.closing()) break;
        const now = this.#clock.now();
        this.#failingSince ??= now;
        this.o.progress?.down(this.o.dependency);
        hooks.onFailure?.(err);
        const failingForMs = now - this.#failingSince;
        if (failingForMs > this.o.giveUpMs) {
          throw emoError('LOG_UNAVAILABLE', `${this.o.stage} gave up: recovery kept failing for ${Math.round(failingForMs / 1000)} s (last error: ${(err as Error).message})`, { cause: err });
        }
        this.o.logger.warn({ err, failingForMs }, `${this.o.stage} step failed; recovering`);
        await sleepOn(this.#clock, this.#backoff.next());
      }
    }
  }
}
