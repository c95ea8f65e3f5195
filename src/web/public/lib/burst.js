// Big-moment detection: a window whose total jumps well above the recent average.

export class BurstDetector {
  /**
   * @param {{ history?: number, ratio?: number, minTotal?: number, minHistory?: number, cooldown?: number }} [o]
   */
  constructor(o = {}) {
    this.size = o.history ?? 10;
    this.ratio = o.ratio ?? 3;
    this.minTotal = o.minTotal ?? 20;
    this.minHistory = o.minHistory ?? 2;
    /** Windows after a burst in which only a jump past twice its total bursts again. */
    this.cooldown = o.cooldown ?? 2;
    this.since = Infinity;
    this.lastBurst = 0;
    /** @type {number[]} */
    this.recent = [];
  }

  /** The mean of the recent windows (0 when none). */
  mean() {
    return this.recent.length ? this.recent.reduce((a, b) => a + b, 0) / this.recent.length : 0;
  }

  /**
   * Feeds one window's total (a snapshot is neither news nor baseline: ignored).
   * A burst needs enough history, a total of at least minTotal, `ratio` times the mean and, for small
   * numbers, well outside Poisson noise (mean + 4 sqrt(mean)).
   * @returns {{ burst: boolean, ratio: number, mean: number }}
   */
  push(total, isSnapshot = false) {
    const mean = this.mean();
    // A snapshot is the latest window when the page joined: possibly long ago, so not the baseline.
    if (isSnapshot) return { burst: false, ratio: mean > 0 ? total / mean : Infinity, mean };
    const enough = this.recent.length >= this.minHistory;
    const threshold = Math.max(this.minTotal, this.ratio * mean, mean + 4 * Math.sqrt(mean));
    this.since++;
    const cooling = this.since <= this.cooldown && total < 2 * this.lastBurst;
    const burst = enough && !cooling && total >= threshold;
    if (burst) {
      this.since = 0;
      this.lastBurst = total;
    }
    this.recent.push(total);
    if (this.recent.length > this.size) this.recent.shift();
    return { burst, ratio: mean > 0 ? total / mean : Infinity, mean };
  }
}

/** How many extra sprites a burst throws: grows with the log of the jump, capped. */
export function burstSprites(ratio, cap) {
  const r = Number.isFinite(ratio) ? ratio : 16;
  return Math.max(0, Math.min(cap, Math.round(10 + 8 * Math.log2(Math.max(1, r)))));
}
