import type { TimerClock } from '../src/ports/clock.js';

/**
 * A clock tests (and benches) drive by hand: time moves only when told, and callbacks scheduled
 * with after() run, in time order, when set() or advance() passes their time.
 */
export class ManualClock implements TimerClock {
  #now: number;
  #timers: Array<{ at: number; seq: number; fn: () => void }> = [];
  #seq = 0;
  constructor(start = 0) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }
  /** Callbacks scheduled and not run or cancelled yet. */
  get pending(): number {
    return this.#timers.length;
  }
  /** The time of the earliest callback waiting, if any. */
  get next(): number | undefined {
    let at: number | undefined;
    for (const t of this.#timers) if (at === undefined || t.at < at) at = t.at;
    return at;
  }
  set(ms: number): void {
    // Each due callback runs with the clock at its own time; one scheduled by a callback for no
    // later than `ms` runs too.
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= ms).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = Math.max(this.#now, due.at);
      due.fn();
    }
    this.#now = ms;
  }
  advance(ms: number): void {
    this.set(this.#now + ms);
  }
  /**
   * Moves the clock `stepMs` at a time, letting the event loop turn between moves, until `work`
   * settles: what waits on this clock (backoff, pacing, ticks) runs at once in real time. Throws
   * once `maxMs` of clock time passed with `work` still running.
   */
  async drive(work: Promise<unknown>, stepMs = 10, maxMs = 60_000): Promise<void> {
    let settled = false;
    work.then(
      () => (settled = true),
      () => (settled = true),
    );
    const until = this.#now + maxMs;
    for (;;) {
      await new Promise((r) => setImmediate(r));
      if (settled) return;
      if (this.#now >= until) throw new Error(`still running after ${maxMs} ms of clock time`);
      this.advance(stepMs);
    }
  }
}
