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

/**
 * The longest any librdkafka call may keep its caller waiting when it names no shorter bound: a
 * callback that never fires (seen as a stage that went silent for minutes with no error) becomes
 * an error the stage's recovery can act on.
 */
export const CALL_CEILING_MS = 60_000;
/**
 * What a call with a timeout of its own may take beyond it before it counts as stuck. librdkafka
 * keeps its timeouts to the millisecond, except where it has a bug: send_offsets_to_transaction
 * can block past its timeout for as long as the group coordinator it cached is gone (librdkafka
 * issues 5456 and 5511, open; met in the cluster tier when a Kafka node dies).
 */
export const CALL_SLACK_MS = 3_000;

/**
 * node-rdkafka callbacks -> promises, each with a JS-side deadline (`ceilingMs`): a call that does
 * not answer by then is rejected as stuck (see isStuckCall) and its client should be abandoned, not
 * asked again. node-rdkafka runs these on libuv's pool and serialises some of them behind a
 * client's lock (a disconnect waits for every call in flight), so one stuck call can hold others.
 */
export function call<T = void>(fn: (cb: (err: RdKafka.LibrdKafkaError | null | undefined, value?: T) => void) => void, ceilingMs = CALL_CEILING_MS): Promise<T> {
  return new Promise((resolve, reject) => {
    let done = false;
    let late = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      late = true;
      stuck++;
      reject(emoError('LOG_UNAVAILABLE', `a librdkafka call did not answer in ${ceilingMs} ms`, { details: { stuckCall: true } }));
    }, ceilingMs);
    timer.unref();
    fn((err, value) => {
      if (late) stuck--;
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value as T);
    });
  });
}

let stuck = 0;

/**
 * Calls past their deadline that have not answered yet. Each holds a thread of libuv's pool, and
 * a process exits by joining that pool: while one is stuck, process.exit() blocks for ever (seen
 * in the cluster tier: an aggregator that never exited after SIGTERM). main reads this to know
 * that it must end the process by a signal instead.
 */
export function stuckCalls(): number {
  return stuck;
}

/** True for call()'s own deadline: the client did not answer at all, whatever its state. */
export function isStuckCall(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { details?: { stuckCall?: unknown } }).details?.stuckCall === true;
}

/**
 * Disconnects a client that is being replaced without waiting for it: its disconnect waits for the
 * calls still in flight on it and then for librdkafka's destroy, which can take as long as a dead
 * broker's connection attempts (the cluster tier saw a recovery wait 60 s on one). The
 * replacement does not need the old one gone (a new transactional producer fences the old epoch).
 */
export function disconnectInBackground(client: { disconnect(cb: (err: unknown) => void): unknown }, logger: Logger, what: string): void {
  const started = Date.now();
  const slow = setTimeout(() => logger.warn({ client: what, waitedMs: Date.now() - started }, 'an abandoned Kafka client is still disconnecting'), 15_000);
  slow.unref();
  call((cb) => client.disconnect((err) => cb(err as RdKafka.LibrdKafkaError | null)), 5 * 60_000)
    .catch((err: unknown) => logger.warn({ err, client: what }, 'an abandoned Kafka client did not disconnect'))
    .finally(() => clearTimeout(slow));
}

export function errCode(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? Number((err as { code: unknown }).code) : undefined;
}
