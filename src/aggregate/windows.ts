/** Tumbling windows aligned to the Unix epoch, as Kafka Streams' TimeWindows and Spark's window(). */
export function windowStartFor(ts: number, windowMs: number): number {
  return Math.floor(ts / windowMs) * windowMs;
}

export function seqFor(windowStart: number, windowMs: number): number {
  return Math.floor(windowStart / windowMs);
}
