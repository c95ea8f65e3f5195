import type { Logger } from 'pino';

/** A phase of the loop (a poll, a restore, a commit) lasting this long is logged: each is bounded far below it. */
const PHASE_WARN_MS = 30_000;

/**
 * Where the loop is, for a stall that logs nothing else: every call is bounded, but a stage seen
 * silent for 100 s in the chaos soak (its /healthz rightly 503) left no line saying in what. A
 * phase that lasts over PHASE_WARN_MS is logged once, at error, with its name, age and context.
 */
export class PhaseWatch {
  #phase = { name: 'start', since: Date.now(), told: false };
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: { stage: string; logger: Logger; context?: () => object; quiet?: () => boolean; warnAfterMs?: number }) {}

  enter(name: string): void {
    this.#phase = { name, since: Date.now(), told: false };
  }

  start(): void {
    const warnAfter = this.o.warnAfterMs ?? PHASE_WARN_MS;
    this.#timer ??= setInterval(() => {
      const p = this.#phase;
      if (this.o.quiet?.() || p.told || Date.now() - p.since < warnAfter) return;
      p.told = true;
      this.o.logger.error({ phase: p.name, forMs: Date.now() - p.since, ...this.o.context?.() }, `${this.o.stage} loop stuck in one phase`);
    }, 5_000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
