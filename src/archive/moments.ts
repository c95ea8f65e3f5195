import type { SeriesPoint } from '../ports/window-archive.js';

/**
 * Moments: the windows whose total stands out from the match's own recent past.
 *
 * The statistic is a robust z-score against a trailing baseline:
 *   score = (total − median) / max(1.4826 · MAD, √median, 1)
 * over the `baselineWindows` windows just before (5 minutes of 2 s windows by default; a quiet
 * window counts as 0). Why this one:
 * - The match's own, trailing baseline: a crowd grows and thins over a match (ten times more
 *   viewers at the end than at the start is common), so one threshold for the whole match would
 *   mark only its loudest hour. Trailing, not centred: the score a live system would have given at
 *   that moment, and a burst's own aftermath cannot lower it.
 * - Median and MAD instead of mean and standard deviation: reactions come in bursts, and a mean
 *   and deviation taken over a window that holds a burst are pulled up by it, hiding the next
 *   wicket a minute later. The median ignores up to half of the baseline being bursts.
 * - 1.4826 · MAD estimates the standard deviation of a normal baseline; the √median floor is the
 *   Poisson noise of a count, so a steady baseline (MAD 0) does not turn +3 reactions into a moment.
 * Candidates need `minHistory` windows of baseline and a score of at least `minScore` (5: a
 * 3.5-hour match has 6,300 windows, and at 3 a noisy crowd alone crossed it about once in 700
 * windows, seen as a dozen false moments on the dashboard's test match); a burst spans
 * several windows, so a moment suppresses the others within `separationWindows` (its peak wins).
 */
export interface MomentScore {
  windowStart: number;
  total: number;
  baseline: number;
  score: number;
}

export interface MomentOptions {
  windowMs: number;
  top: number;
  baselineWindows?: number;
  minHistory?: number;
  minScore?: number;
  separationWindows?: number;
}

export function scoreMoments(series: readonly SeriesPoint[], o: MomentOptions): MomentScore[] {
  if (series.length === 0) return [];
  const K = o.baselineWindows ?? 150;
  const minHistory = o.minHistory ?? 15;
  const minScore = o.minScore ?? 5;
  const separation = o.separationWindows ?? 10;
  const first = series[0]!.windowStart;
  const last = series[series.length - 1]!.windowStart;
  const n = Math.floor((last - first) / o.windowMs) + 1;
  // Dense in time: a window with no row had no reactions.
  const totals = new Float64Array(n);
  for (const p of series) totals[Math.floor((p.windowStart - first) / o.windowMs)] = p.total;

  const sorted: number[] = [];
  const scored: MomentScore[] = [];
  for (let i = 0; i < n; i++) {
    if (sorted.length >= minHistory) {
      const med = median(sorted);
      const mad = medianAbsDeviation(sorted, med);
      const scale = Math.max(1.4826 * mad, Math.sqrt(med), 1);
      const score = (totals[i]! - med) / scale;
      if (score >= minScore) scored.push({ windowStart: first + i * o.windowMs, total: totals[i]!, baseline: med, score });
    }
    insertSorted(sorted, totals[i]!);
    if (i >= K) removeSorted(sorted, totals[i - K]!);
  }
  scored.sort((a, b) => b.score - a.score || a.windowStart - b.windowStart);
  const picked: MomentScore[] = [];
  const gap = separation * o.windowMs;
  for (const m of scored) {
    if (picked.length >= o.top) break;
    if (picked.some((p) => Math.abs(p.windowStart - m.windowStart) < gap)) continue;
    picked.push(m);
  }
  return picked;
}

function median(sorted: readonly number[]): number {
  const m = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
}

/**
 * The median of |x − med| in O(n): the deviations left and right of the median are each already
 * sorted (walking outwards), so merging the two walks finds the middle one without a sort.
 */
function medianAbsDeviation(sorted: readonly number[], med: number): number {
  const n = sorted.length;
  let hi = lowerBound(sorted, med); // first >= med: the right walk
  let lo = hi - 1; // the left walk
  // Written as one loop, not a closure per call: this runs once per window of the match.
  const m = n >> 1;
  let prev = 0;
  let cur = 0;
  for (let k = 0; k <= m; k++) {
    const dl = lo >= 0 ? med - sorted[lo]! : Infinity;
    const dr = hi < n ? sorted[hi]! - med : Infinity;
    prev = cur;
    if (dl <= dr) {
      cur = dl;
      lo--;
    } else {
      cur = dr;
      hi++;
    }
  }
  return n % 2 === 1 ? cur : (prev + cur) / 2;
}

function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(a: number[], x: number): void {
  a.splice(lowerBound(a, x), 0, x);
}

function removeSorted(a: number[], x: number): void {
  const i = lowerBound(a, x);
  if (a[i] === x) a.splice(i, 1);
}
