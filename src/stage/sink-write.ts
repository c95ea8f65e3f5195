import type { Logger } from 'pino';
import { isEmoError } from '../domain/errors.js';
import type { Metrics } from '../metrics/metrics.js';
import { tpKey, type LogRecord, type TopicPartitionOffset } from '../ports/log.js';
import type { StageProgress } from './stage-progress.js';
import { Backoff, sleep } from './stage-loop.js';

/**
 * The two halves every at-least-once stage of the aggregates (publisher, archive) shares around its
 * sink: reading a polled batch (the offsets to commit once the sink holds it, the values that
 * decode), and writing to a sink that may be away (tried again until it takes the write: an outage
 * delays the stage, never skips a record, and the offsets wait for it).
 */

/**
 * The batch's values, decoded, and the offsets that commit all of it. A record that does not
 * decode is counted and skipped: it would not decode on a second read either. A schema id the
 * registry cannot be asked about now is waited for (as a sink write is), not skipped: undefined
 * only when the stage closes meanwhile (the batch is then not committed).
 */
export async function decodeBatch<T>(
  batch: readonly LogRecord[],
  o: { serde: { decode(value: Buffer): Promise<T> }; metrics: Metrics; logger: Logger; progress?: StageProgress | undefined; closing: () => boolean },
): Promise<{ values: T[]; offsets: TopicPartitionOffset[] } | undefined> {
  const offsets = new Map<string, TopicPartitionOffset>();
  const values: T[] = [];
  const registry: SinkWriteOptions = { dependency: 'registry', progress: o.progress, logger: o.logger, closing: o.closing, retry: (err) => isEmoError(err, 'REGISTRY') };
  for (const rec of batch) {
    offsets.set(tpKey(rec), { topic: rec.topic, partition: rec.partition, offset: rec.offset + 1 });
    try {
      const decoded = await untilAvailable(() => o.serde.decode(rec.value), registry, { partition: rec.partition, offset: rec.offset });
      if (!decoded.done) return undefined;
      values.push(decoded.value);
    } catch (err) {
      o.metrics.recordsUndecodable.inc({ topic: rec.topic });
      o.logger.warn({ err, partition: rec.partition, offset: rec.offset }, 'skipping undecodable aggregate');
    }
  }
  return { values, offsets: [...offsets.values()] };
}

export interface SinkWriteOptions {
  /** The dependency /readyz names while it is away (redis, archive). */
  dependency: string;
  progress?: StageProgress | undefined;
  logger: Logger;
  /** True once the stage is closing: the write is given up (its batch is not committed). */
  closing: () => boolean;
  /** Which failures mean the dependency is away (tried again); others are thrown. Default: all. */
  retry?: (err: unknown) => boolean;
}

/**
 * A call to a dependency (a sink's write, the registry's schema lookup), tried again with backoff
 * (50 ms doubling to 2 s, jittered) until the dependency takes it; marks the dependency down
 * meanwhile. `{ done: false }` only when the stage is closing; a failure `retry` does not take is
 * thrown.
 */
export async function untilAvailable<T>(call: () => Promise<T>, o: SinkWriteOptions, context: Record<string, unknown>): Promise<{ done: true; value: T } | { done: false }> {
  const backoff = new Backoff(50, 2000);
  for (;;) {
    try {
      const value = await call();
      o.progress?.up(o.dependency);
      return { done: true, value };
    } catch (err) {
      if (o.retry && !o.retry(err)) throw err;
      if (o.closing()) return { done: false };
      o.progress?.down(o.dependency);
      o.logger.warn({ err, ...context }, `${o.dependency} unavailable; retrying`);
      await sleep(backoff.next());
    }
  }
}
