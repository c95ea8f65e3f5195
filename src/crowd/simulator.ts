import { EventEmitter } from 'eventemitter3';
// The crowd is an SDK client: its clock is the SDK's timer type.
import { ReactionSender, systemTimers, type SenderTimers } from '@emostream/sdk';
import { baselineSampler } from './distribution.js';
import { ReactionPlanner } from './planner.js';
import { seededRandom, type Random } from './rng.js';
import { buildSchedule, intensityAt, type Moment } from './schedule.js';
import { emptyStats, RateMeter, type CrowdStats } from './stats.js';

export interface SimulatorOptions {
  baseUrl: string;
  matchId: string;
  viewers: number;
  durationMs: number;
  ratePerSec: number;
  maxReactions: number;
  seed: number;
  momentEveryMs: number;
  /** The server's catalog, most popular first (the Zipf order). */
  emojis: readonly string[];
  senders?: number;
  batchSize?: number;
  tickMs?: number;
  /** Per-sender queue bound; react() is refused past it (counted, never dropped silently). */
  maxQueue?: number;
  flushTimeoutMs?: number;
  fetch?: typeof fetch;
  /** Elapsed time and reaction timestamps; `clock.now` when not given. */
  now?: () => number;
  /** Times the ticks and the senders' batching and backoff (default: Date.now and setTimeout). */
  clock?: SenderTimers;
}

export interface SimulatorEvents {
  moment: (m: Moment) => void;
  done: (stats: CrowdStats) => void;
}

/**
 * Many simulated viewers through the SDK's ReactionSender. A client per viewer would be far too heavy
 * for thousands, and a client has one userId; the batch endpoint takes reactions of many users, and
 * the server's rate limit is per userId, so a few senders carry every viewer's reactions.
 */
export class CrowdSimulator extends EventEmitter<SimulatorEvents> {
  readonly stats: CrowdStats = emptyStats();
  readonly schedule: Moment[];
  readonly accepted = new RateMeter(2000);
  readonly offered = new RateMeter(2000);
  readonly #senders: ReactionSender[];
  readonly #planner: ReactionPlanner;
  readonly #random: Random;
  readonly #now: () => number;
  readonly #runId: string;
  #startedAt = 0;
  #lastT = 0;
  #next = 0;
  #nextMoment = 0;
  readonly #clock: SenderTimers;
  /** Cancels the next tick. */
  #timer: (() => void) | undefined;
  #stopping: Promise<CrowdStats> | undefined;
  #resolveDone: ((s: CrowdStats) => void) | undefined;

  constructor(private readonly o: SimulatorOptions) {
    super();
    this.#random = seededRandom(o.seed);
    this.#clock = o.clock ?? systemTimers;
    this.#now = o.now ?? (() => this.#clock.now());
    this.#runId = o.seed.toString(36);
    this.schedule = buildSchedule({ durationMs: o.durationMs, meanGapMs: o.momentEveryMs, random: this.#random, catalog: o.emojis });
    this.#planner = new ReactionPlanner({ baseRatePerSec: o.ratePerSec, schedule: this.schedule, baseline: baselineSampler(o.emojis), random: this.#random });
    const f = o.fetch ?? globalThis.fetch.bind(globalThis);
    this.#senders = Array.from({ length: o.senders ?? 4 }, () => {
      const s = new ReactionSender({
        baseUrl: o.baseUrl,
        fetch: f,
        batchSize: o.batchSize ?? 250,
        flushMs: 100,
        maxQueue: o.maxQueue ?? 50_000,
        retryBaseMs: 200,
        retryMaxMs: 5_000,
        random: Math.random,
        ...(o.clock ? { timers: o.clock } : {}),
      });
      s.on('sent', (n) => {
        this.stats.accepted += n;
        this.accepted.add(n, this.#now());
      });
      s.on('rejected', (_err, batch) => (this.stats.rejected += batch.length));
      s.on('retry', ({ status }) => {
        this.stats.retries++;
        if (status === 429) this.stats.status429++;
        else if (status === 503) this.stats.status503++;
        else if (status === 'network') this.stats.network++;
      });
      return s;
    });
  }

  get elapsedMs(): number {
    return this.#startedAt ? this.#now() - this.#startedAt : 0;
  }

  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  /** Moments live right now, e.g. ["SIX 🔥"]. */
  liveMoments(): string[] {
    return intensityAt(this.schedule, this.elapsedMs).spikes.map((s) => `${s.kind} ${s.emoji}`);
  }

  /** Starts generating; resolves with the final stats once stopped (time, count or stop()) and flushed. */
  run(): Promise<CrowdStats> {
    this.#startedAt = this.#now();
    const done = new Promise<CrowdStats>((resolve) => (this.#resolveDone = resolve));
    const every = this.o.tickMs ?? 50;
    const tick = () => {
      this.#timer = this.#clock.after(every, tick);
      this.#tick();
    };
    this.#timer = this.#clock.after(every, tick);
    return done;
  }

  #tick(): void {
    const t = Math.min(this.elapsedMs, this.o.durationMs);
    while (this.#nextMoment < this.schedule.length && this.schedule[this.#nextMoment]!.atMs <= t) this.emit('moment', this.schedule[this.#nextMoment++]!);
    const due = this.#planner.next(t, t - this.#lastT);
    this.#lastT = t;
    const ts = this.#now();
    for (const emoji of due) {
      if (this.stats.generated >= this.o.maxReactions) break;
      const viewer = Math.floor(this.#random() * this.o.viewers);
      const sender = this.#senders[this.#next++ % this.#senders.length]!;
      if (sender.enqueue({ matchId: this.o.matchId, userId: `crowd-${this.#runId}-${viewer}`, emoji, ts })) {
        this.stats.generated++;
        this.offered.add(1, ts);
      } else {
        this.stats.refused++;
      }
    }
    this.stats.queued = this.#senders.reduce((s, x) => s + x.pending, 0);
    if (t >= this.o.durationMs || this.stats.generated >= this.o.maxReactions) void this.stop();
  }

  /** Stops generating, flushes what is queued (bounded by flushTimeoutMs) and resolves run(). */
  stop(): Promise<CrowdStats> {
    this.#stopping ??= (async () => {
      this.#timer?.();
      const timeout = this.o.flushTimeoutMs ?? 10_000;
      await Promise.all(this.#senders.map((s) => s.close(timeout)));
      this.stats.queued = this.#senders.reduce((s, x) => s + x.pending, 0);
      this.emit('done', this.stats);
      this.#resolveDone?.(this.stats);
      return this.stats;
    })();
    return this.#stopping;
  }
}
