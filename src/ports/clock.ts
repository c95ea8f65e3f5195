/** Time is injected everywhere windows or rate limits depend on it, so tests move time instead of sleeping. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * A clock that also calls back after a delay of its own time: what backs off or paces takes one,
 * so a test moves the clock (helpers/manual-clock.ts) instead of waiting real time.
 */
export interface TimerClock extends Clock {
  /** Calls `fn` once `ms` of this clock's time has passed; returns the function that cancels it. */
  after(ms: number, fn: () => void): () => void;
}

/** Date.now and setTimeout. */
export const systemTimerClock: TimerClock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** Date.now and an unref'd setTimeout: for pacing that must not keep the process alive on its own. */
export const backgroundTimerClock: TimerClock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

/** Resolves once `ms` of `clock`'s time has passed. */
export function sleepOn(clock: TimerClock, ms: number): Promise<void> {
  return new Promise((r) => clock.after(ms, r));
}
