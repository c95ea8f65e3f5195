// Per-window series for the dashboard charts, from the live updates of one match.

export class WindowSeries {
  constructor(limit = 300) {
    this.limit = limit;
    this.clear();
  }

  clear() {
    this.epoch = '';
    this.lastSeq = -1;
    this.windowSec = 0;
    /** @type {number[]} x: window start, seconds */
    this.xs = [];
    /** @type {(number|null)[]} */
    this.totals = [];
    /** @type {(number|null)[]} */
    this.sentiments = [];
    /** @type {Array<Record<string, number>>} */
    this.counts = [];
  }

  #push(x, total, sentiment, counts) {
    this.xs.push(x);
    this.totals.push(total);
    this.sentiments.push(sentiment);
    this.counts.push(counts);
    const extra = this.xs.length - this.limit;
    if (extra > 0) for (const a of [this.xs, this.totals, this.sentiments, this.counts]) a.splice(0, extra);
  }

  /**
   * Adds one update. Windows between prevSeq and seq were quiet (no reactions, so no update): they
   * are charted as 0. A seq jump without that link (something missed) leaves a gap (null).
   * @returns {boolean} whether the series changed
   */
  add(u) {
    if (u.epoch !== this.epoch) {
      if (this.epoch !== '') this.clear();
      this.epoch = u.epoch;
    }
    if (u.seq <= this.lastSeq) return false;
    const windowSec = (u.windowEnd - u.windowStart) / 1000;
    this.windowSec = windowSec;
    if (this.lastSeq >= 0 && u.seq > this.lastSeq + 1) {
      if (u.prevSeq === this.lastSeq) {
        const from = Math.max(this.lastSeq + 1, u.seq - this.limit);
        for (let s = from; s < u.seq; s++) this.#push(s * windowSec, 0, null, {});
      } else {
        this.#push((this.lastSeq + 1) * windowSec, null, null, {});
      }
    }
    this.lastSeq = u.seq;
    this.#push(u.windowStart / 1000, u.total, u.sentiment, u.counts);
    return true;
  }

  get points() {
    return this.xs.length;
  }

  /** Summed counts over the last `n` windows, biggest first. */
  topEmojis(n = 30, k = 8) {
    const sum = new Map();
    for (const c of this.counts.slice(-n)) for (const [e, v] of Object.entries(c)) sum.set(e, (sum.get(e) ?? 0) + v);
    return [...sum.entries()].sort((a, b) => b[1] - a[1]).slice(0, k);
  }
}

/**
 * The x range (seconds) of a time chart, from its own points. uPlot's auto range is not used for
 * these: with a single point (or equal ones) it widens a time scale to 86400 / ms = 86.4 M seconds,
 * 2.7 years of axis around the first window. The span is at least `minSpanSec`, ending at the last
 * point + `padSec` (room for the last window's bar); with no points, the minute up to now.
 * @param {ArrayLike<number>} xs ascending x values, seconds
 * @param {{ padSec?: number, minSpanSec?: number, nowSec: number }} o
 * @returns {[number, number]}
 */
export function timeRange(xs, o) {
  const pad = o.padSec ?? 0;
  const minSpan = o.minSpanSec ?? 60;
  if (xs.length === 0) return [o.nowSec - minSpan, o.nowSec];
  const hi = xs[xs.length - 1] + pad;
  return [Math.min(xs[0], hi - minSpan), hi];
}
