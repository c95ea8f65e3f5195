// The one place node-rdkafka is imported: a CommonJS native addon, loaded lazily so embedded mode
// never needs it built.
import { createRequire } from 'node:module';
import type * as RdKafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { KafkaOptions } from '../../config/kafka-options.js';
import { emoError } from '../../domain/errors.js';

export type { RdKafka };

let cached: typeof RdKafka | undefined;

export function rdkafka(): typeof RdKafka {
  if (!cached) {
    try {
      cached = createRequire(import.meta.url)('node-rdkafka') as typeof RdKafka;
    } catch (cause) {
      throw emoError('CONFIG', 'node-rdkafka is not installed or not built (npm ci builds it; see README: Kafka)', { cause });
    }
  }
  return cached;
}

/**
 * The built librdkafka has what the config asks for: zstd exists only when libzstd-dev was
 * installed before node-rdkafka was built (scripts/install.sh does both, in that order), and
 * without it every producer dies at its first batch with librdkafka's own `Unsupported value
 * "zstd"`. Checked when the Kafka adapter is created, so a role fails at start with the fix named.
 */
export function checkFeatures(o: KafkaOptions, features: readonly string[] = rdkafka().features): void {
  const needed = o.compression === 'none' ? [] : [o.compression];
  const missing = needed.filter((f) => !features.includes(f));
  if (missing.length > 0) {
    throw emoError('CONFIG', `KAFKA_COMPRESSION=${o.compression}, but this build of librdkafka lacks ${missing.join(', ')} (it has ${features.join(', ')}); run scripts/install.sh, which installs the system libraries and then rebuilds node-rdkafka, or choose another KAFKA_COMPRESSION`);
  }
}

/**
 * librdkafka's own debug output (KAFKA_DEBUG: cgrp, eos, broker, fetch...) for a fault that the
 * project's logs do not explain: set in a client's config and forwarded to the role's logger.
 */
export function debugConfig(o: KafkaOptions): Record<string, string> {
  return o.debug ? { debug: o.debug } : {};
}

export function forwardDebugLog(o: KafkaOptions, client: { on(event: 'event.log', cb: (e: { severity: number; fac: string; message: string }) => void): unknown }, logger: Logger): void {
  if (!o.debug) return;
  client.on('event.log', (e) => logger.info({ librdkafka: e.fac, severity: e.severity }, e.message));
}

/** node-rdkafka callbacks -> promises. */
/**
 * The longest any librdkafka call may keep its caller waiting, whatever timeout it was given: a
 * callback that never fires (seen as a stage that went silent for minutes with no error) becomes
 * an error the stage's recovery can act on. Every call here has a shorter timeout of its own.
 */
export const CALL_CEILING_MS = 60_000;

export function call<T = void>(fn: (cb: (err: RdKafka.LibrdKafkaError | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      reject(emoError('LOG_UNAVAILABLE', `a librdkafka call did not answer in ${CALL_CEILING_MS} ms`));
    }, CALL_CEILING_MS);
    timer.unref();
    fn((err, value) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value as T);
    });
  });
}

export function errCode(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? Number((err as { code: unknown }).code) : undefined;
}
