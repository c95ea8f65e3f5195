import type { WindowAggregate } from '../domain/types.js';

/**
 * The window archive: every closed window of every match, kept in a database after the fan-out's
 * bounded history forgets it. Two adapters (src/adapters/postgres): PostgreSQL for the distributed
 * mode, PGlite (PostgreSQL compiled to WebAssembly, in process) for the embedded one; the same SQL
 * and one contract suite (test/archive/archive-suite.ts) over both.
 */

/** One step of a match's timeline: the windows whose start falls in [t, t + step). */
export interface TimelinePoint {
  /** Start of the step, ms since the epoch (aligned to the epoch, like the windows). */
  t: number;
  /** Windows archived in the step (a quiet window has none). */
  windows: number;
  total: number;
  /** Exact count per emoji over the step (emojis with a count only). */
  counts: Record<string, number>;
  /** The windows' sentiment weighted by their totals: the same formula as one window's, over the step; 0 when total is 0. */
  sentiment: number;
}

export interface TimelineQuery {
  /** Windows starting at or after (ms since the epoch); default: the match's first. */
  from?: number;
  /** Windows starting before; default: after the match's last. */
  to?: number;
  /** Step in ms (a multiple of nothing in particular: windows are bucketed by their start). */
  step: number;
  /** Steps starting after this one only (cursor paging). */
  after?: number;
  /** Most steps in one answer. */
  limit: number;
}

/** A window's total against the match's own recent past (the score is the caller's, see src/archive/moments.ts). */
export interface SeriesPoint {
  windowStart: number;
  total: number;
}

export interface MatchTotals {
  matchId: string;
  windows: number;
  firstWindowStart: number;
  lastWindowEnd: number;
  total: number;
  counts: Record<string, number>;
  sentiment: number;
  /** The window with the largest total (the earliest of equals). */
  peak: WindowAggregate;
}

export interface WindowArchive {
  /** Creates the tables when missing; idempotent, safe for several processes at once. */
  init(): Promise<void>;
  /**
   * Writes windows, one row per (matchId, windowStart) whatever is written again: a redelivered or
   * replayed window replaces its row with itself. Resolves once the database holds them.
   */
  upsert(windows: readonly WindowAggregate[]): Promise<void>;
  /**
   * Changes whenever the match's rows change (a write or the retention sweep): the validator of
   * every cached answer about the match. 0 for a match with no rows.
   */
  version(matchId: string): Promise<number>;
  /** Steps of the match in time order, downsampled in the database. */
  timeline(matchId: string, q: TimelineQuery): Promise<TimelinePoint[]>;
  /** Every window's total, in time order (the input of the moments statistic). */
  series(matchId: string): Promise<SeriesPoint[]>;
  /** Whole windows, in time order, starting at or after `fromStart`; at most `limit`. */
  windows(matchId: string, fromStart: number, limit: number): Promise<WindowAggregate[]>;
  /** The windows starting at the given starts (those that exist), in time order. */
  windowsAt(matchId: string, starts: readonly number[]): Promise<WindowAggregate[]>;
  /** The last window starting at or before `at`, or undefined. */
  windowBefore(matchId: string, at: number): Promise<WindowAggregate | undefined>;
  /** Totals over the match, or undefined when nothing of it is archived. */
  totals(matchId: string): Promise<MatchTotals | undefined>;
  /** Deletes every match whose last window ended before `cutoff` (ms since the epoch); says how many windows went. */
  deleteMatchesEndedBefore(cutoff: number): Promise<number>;
  close(): Promise<void>;
}
