import type { EmojiCatalog } from '../domain/catalog.js';
import type { Reaction, WindowAggregate } from '../domain/types.js';
import type { AggregatorSnapshot } from '../ports/window-state-store.js';
import { compressWindow, type CompressionRules } from './compress.js';
import { eventTimeOf, windowCloseAt, windowStartFor, type WindowTiming } from '../domain/windows.js';

export interface WindowRules extends CompressionRules, WindowTiming {
  tsToleranceMs: number;
}

interface MatchWindows {
  /** windowStart -> counts by catalog index */
  open: Map<number, number[]>;
  /** Windows ending at or before this were emitted; anything for them now is late. */
  closedThrough: number;
}

export type DropReason = 'late' | 'unknown-emoji';

/**
 * The windowing processor of one partition: event-time tumbling windows per match with a grace
 * period, on the event time of eventTimeOf (server-vouched, not the raw client ts). A window
 * closes, final and once, when the partition's stream time (max event time seen)
 * passes end + grace, or when the wall clock does while the input is quiet (punctuate).
 */
export class WindowAggregator {
  readonly #matches = new Map<string, MatchWindows>();
  #output: WindowAggregate[] = [];
  #streamTime = Number.NEGATIVE_INFINITY;
  /** Earliest end + grace among open windows: skips the close scan until time reaches it. */
  #nextCloseAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly catalog: EmojiCatalog,
    private readonly rules: WindowRules,
    private readonly onDrop: (reason: DropReason, reaction: Reaction) => void = () => {},
  ) {}

  get streamTime(): number {
    return this.#streamTime;
  }

  get openWindows(): number {
    let n = 0;
    for (const m of this.#matches.values()) n += m.open.size;
    return n;
  }

  process(r: Reaction): void {
    const entry = this.catalog.get(r.emoji);
    if (!entry) {
      this.onDrop('unknown-emoji', r);
      return;
    }
    const { windowMs } = this.rules;
    const at = eventTimeOf(r.ts, r.receivedAt, this.rules.tsToleranceMs);
    const start = windowStartFor(at, windowMs);
    const end = start + windowMs;
    const closeAt = windowCloseAt(start, this.rules);
    let m = this.#matches.get(r.matchId);
    if (!m) {
      m = { open: new Map(), closedThrough: Number.NEGATIVE_INFINITY };
      this.#matches.set(r.matchId, m);
    }
    if (end <= m.closedThrough || closeAt <= this.#streamTime) {
      this.onDrop('late', r);
    } else {
      let counts = m.open.get(start);
      if (!counts) {
        counts = new Array<number>(this.catalog.size).fill(0);
        m.open.set(start, counts);
        if (closeAt < this.#nextCloseAt) this.#nextCloseAt = closeAt;
      }
      counts[entry.index]!++;
    }
    if (at > this.#streamTime) {
      this.#streamTime = at;
      if (this.#streamTime >= this.#nextCloseAt) this.#closeUpTo(this.#streamTime);
    }
  }

  /** Whether punctuate(now) would close anything: lets the runner skip the caught-up check. */
  hasDue(now: number): boolean {
    return now >= this.#nextCloseAt;
  }

  /** When the first open window may close (its end + grace); +Infinity with none open. */
  get nextCloseAt(): number {
    return this.#nextCloseAt;
  }

  /** Wall-clock close for quiet matches; the runner calls it only when its input is caught up. */
  punctuate(now: number): void {
    if (now >= this.#nextCloseAt) this.#closeUpTo(now);
  }

  /** Closes every window with end + grace <= time, in windowStart order per match. */
  #closeUpTo(time: number): void {
    const { windowMs } = this.rules;
    let next = Number.POSITIVE_INFINITY;
    for (const [matchId, m] of this.#matches) {
      const due: number[] = [];
      for (const start of m.open.keys()) {
        const closeAt = windowCloseAt(start, this.rules);
        if (closeAt <= time) due.push(start);
        else if (closeAt < next) next = closeAt;
      }
      if (due.length === 0) continue;
      due.sort((a, b) => a - b);
      for (const start of due) {
        this.#output.push(compressWindow(this.catalog, this.rules, matchId, start, start + windowMs, m.open.get(start)!));
        m.open.delete(start);
        m.closedThrough = Math.max(m.closedThrough, start + windowMs);
      }
    }
    this.#nextCloseAt = next;
  }

  get pendingOutput(): number {
    return this.#output.length;
  }

  /** Closed windows since the last call. */
  takeOutput(): WindowAggregate[] {
    const out = this.#output;
    this.#output = [];
    return out;
  }

  /**
   * Forgets matches with no open window whose last close is older than `idleMs` of stream time,
   * so memory stays bounded over a season of matches. Their late reactions then count as new.
   */
  evictIdle(now: number, idleMs: number): void {
    for (const [matchId, m] of this.#matches) {
      if (m.open.size === 0 && m.closedThrough + idleMs < now) this.#matches.delete(matchId);
    }
  }

  snapshot(): AggregatorSnapshot {
    return {
      streamTime: this.#streamTime,
      matches: [...this.#matches].map(([matchId, m]) => ({
        matchId,
        closedThrough: m.closedThrough,
        open: [...m.open].map(([s, c]) => [s, [...c]] as [number, number[]]),
      })),
    };
  }

  restore(s: AggregatorSnapshot): void {
    this.#matches.clear();
    this.#output = [];
    this.#streamTime = s.streamTime ?? Number.NEGATIVE_INFINITY;
    this.#nextCloseAt = Number.POSITIVE_INFINITY;
    for (const m of s.matches) {
      this.#matches.set(m.matchId, { closedThrough: m.closedThrough ?? Number.NEGATIVE_INFINITY, open: new Map(m.open) });
      for (const [start] of m.open) {
        const closeAt = windowCloseAt(start, this.rules);
        if (closeAt < this.#nextCloseAt) this.#nextCloseAt = closeAt;
      }
    }
  }
}
