/**
 * The event time a window is chosen by, one the server vouches for: the client's ts only while it
 * lies at most `toleranceMs` behind the API's receive time, else the receive time. A client clock
 * that runs ahead (or far behind) thus can neither advance stream time past everyone else's
 * reactions nor have its own dropped as late. Spark applies the same rule (transform.event_time).
 */
export function eventTimeOf(ts: number, receivedAt: number, toleranceMs: number): number {
  return ts <= receivedAt && ts >= receivedAt - toleranceMs ? ts : receivedAt;
}

/** Tumbling windows aligned to the Unix epoch, as Kafka Streams' TimeWindows and Spark's window(). */
export function windowStartFor(ts: number, windowMs: number): number {
  return Math.floor(ts / windowMs) * windowMs;
}

export function seqFor(windowStart: number, windowMs: number): number {
  return Math.floor(windowStart / windowMs);
}

/** What the window rules are, as far as when a window closes goes (AggregationRules carries them). */
export interface WindowTiming {
  windowMs: number;
  graceMs: number;
}

/**
 * When the window starting at `windowStart` closes: its end plus grace, by stream time (the largest
 * event time seen) or, for a quiet match, by the aggregator's clock. Reactions of a closed window
 * are late. The one statement of this rule: the aggregator closes by it, ingest acknowledges by it
 * (ackDeadline), the OpenAPI text states it, and the Spark job's watermark (grace) is the same.
 */
export function windowCloseAt(windowStart: number, t: WindowTiming): number {
  return windowStart + t.windowMs + t.graceMs;
}

/** The timing ingest acknowledges by: the window rules, ts trust, and the ack margin (ACK_CLOSE_MARGIN_MS). */
export interface AckTiming extends WindowTiming {
  tsToleranceMs: number;
  /** Room for the log's visibility lag and clock differences between API and aggregator nodes. */
  closeMarginMs: number;
}

/**
 * When the log must hold a reaction received at `receivedAt` for it to be counted: its window's
 * close (windowCloseAt) less the ack margin. A 202 given later could name a reaction the
 * aggregator has already passed by as late.
 */
export function ackDeadline(t: AckTiming, ts: number, receivedAt: number): number {
  return windowCloseAt(windowStartFor(eventTimeOf(ts, receivedAt, t.tsToleranceMs), t.windowMs), t) - t.closeMarginMs;
}

/**
 * Why a set of timings cannot hold, or undefined: a ts trusted further back than grace could place
 * a reaction in a window already closed, and one trusted back to within the ack margin of grace
 * could be received after its window stopped taking acknowledgements. The Spark job checks the
 * same (spark/emostream_spark/config.py).
 */
export function ackTimingProblems(t: AckTiming): string[] {
  const out: string[] = [];
  if (t.tsToleranceMs > 0 && t.tsToleranceMs >= t.graceMs) {
    out.push(`TS_TOLERANCE_MS (${t.tsToleranceMs}) must be smaller than GRACE_MS (${t.graceMs})`);
  }
  const slack = t.tsToleranceMs + t.closeMarginMs;
  if (slack > 0 && slack >= t.graceMs) {
    out.push(`TS_TOLERANCE_MS + ACK_CLOSE_MARGIN_MS (${t.tsToleranceMs} + ${t.closeMarginMs}) must be smaller than GRACE_MS (${t.graceMs})`);
  }
  return out;
}
