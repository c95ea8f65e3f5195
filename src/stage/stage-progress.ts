import type { Clock } from '../ports/clock.js';
import type { Metrics } from '../metrics/metrics.js';

export interface ReadinessCheck {
  name: string;
  /** /readyz: false while a dependency this stage needs is down. */
  ready(): boolean;
  /** /healthz: false when the stage is wedged (work waiting, no progress): restarting it may help. */
  alive?(): boolean;
}

/**
 * A stage's progress, for honest health. The stage calls `progressed()` after each success (a
 * commit, a publish) and `idle()` when it has nothing to do; with neither for `stallTimeoutMs` it has
 * work it cannot finish, and /healthz says so. `down(dep)` / `up(dep)` drive /readyz and count
 * reconnects.
 */
export class StageProgress implements ReadinessCheck {
  #last: number;
  readonly #down = new Set<string>();
  readonly #pending = new Set<string>();

  constructor(
    readonly name: string,
    private readonly clock: Clock,
    private readonly stallTimeoutMs: number,
    private readonly metrics?: Metrics,
  ) {
    this.#last = clock.now();
    metrics?.stageProgress.set({ stage: name }, this.#last / 1000);
  }

  progressed(): void {
    this.#last = this.clock.now();
    this.metrics?.stageProgress.set({ stage: this.name }, this.#last / 1000);
  }

  idle(): void {
    this.progressed();
  }

  sinceProgressMs(): number {
    return this.clock.now() - this.#last;
  }

  down(dependency: string): void {
    this.#down.add(dependency);
  }

  up(dependency: string): void {
    if (this.#down.delete(dependency)) this.metrics?.reconnects.inc({ stage: this.name, dependency });
  }

  /**
   * /readyz is false until `settled(what)`: work the stage must finish before it can do its job
   * (join its group, restore its partitions' state), unlike a dependency being down.
   */
  pending(what: string): void {
    this.#pending.add(what);
  }

  settled(what: string): void {
    this.#pending.delete(what);
  }

  recovered(kind: string): void {
    this.metrics?.recoveries.inc({ stage: this.name, kind });
  }

  ready(): boolean {
    return this.#down.size === 0 && this.#pending.size === 0;
  }

  alive(): boolean {
    return this.sinceProgressMs() <= this.stallTimeoutMs;
  }
}
