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
