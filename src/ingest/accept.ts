import type { ReactionCodec } from '../codec/reaction-codec.js';
import type { EmojiCatalog } from '../domain/catalog.js';
import type { Clock } from '../ports/clock.js';
import { emoError, isEmoError } from '../domain/errors.js';
import type { Reaction } from '../domain/types.js';
import { ackDeadline, type AckTiming } from '../domain/windows.js';
import type { LogProducer } from '../ports/log.js';
import type { Metrics } from '../metrics/metrics.js';
import { acceptedTsRange, type ReactionBody } from './schemas.js';
import type { BucketCost, RateBuckets } from '../ports/rate-buckets.js';

export interface AcceptDeps {
  catalog: EmojiCatalog;
  clock: Clock;
  /** Buckets per client (API token subject, else address) and per userId: both must have room. */
  limits: { client: RateBuckets; user: RateBuckets };
  producer: LogProducer;
  /** Reactions to records in the configured format (one per reaction, or one per match). */
  codec: ReactionCodec;
  metrics: Metrics;
  topic: string;
  pastMs: number;
  futureMs: number;
  /** The window rules, to know when each reaction's window stops taking it (see ackDeadline). */
  closing: AckTiming;
  retryAfterSec: number;
}

/**
 * The ingest path after schema validation: catalog and time checks, the per-client and per-user
 * limits, then the log. The promise resolves only once the log holds every reaction: that is when
 * 202 may be sent. Tokens spent on a request the log then refuses are given back, so the client's
 * retry of a 503 is not met by a 429.
 *
 * `ts` is the client's clock: kept as data, and trusted for the window only close behind the
 * receive time (see eventTimeOf), so it is checked here only for plausibility (a unit mistake).
 */
export async function acceptReactions(deps: AcceptDeps, items: ReactionBody[], batch: boolean, clientKey: string): Promise<number> {
  const now = deps.clock.now();
  const range = acceptedTsRange(now, deps.pastMs, deps.futureMs);
  const reactions: Reaction[] = new Array(items.length);
  let deadline = Number.POSITIVE_INFINITY;
  // Per user only for a batch: a single reaction's cost is its user's 1, without a Map per request.
  const costByUser = items.length > 1 ? new Map<string, number>() : undefined;
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    if (!deps.catalog.has(it.emoji)) {
      throw emoError('UNKNOWN_EMOJI', `${where(batch, i)}emoji ${JSON.stringify(it.emoji)} is not in the catalog (GET /v1/emojis)`, at(batch, i));
    }
    const ts = it.ts ?? now;
    if (ts < range.min || ts > range.max) {
      throw emoError('TIMESTAMP_RANGE', `${where(batch, i)}ts ${ts} is outside [${range.min}, ${range.max}] (now=${now}; ±${deps.pastMs}/${deps.futureMs} ms around this hour)`, at(batch, i));
    }
    reactions[i] = { matchId: it.matchId, userId: it.userId, emoji: it.emoji, ts, receivedAt: now };
    deadline = Math.min(deadline, ackDeadline(deps.closing, ts, now));
    costByUser?.set(it.userId, (costByUser.get(it.userId) ?? 0) + 1);
  }
  const clientCost: BucketCost[] = [[clientKey, items.length]];
  const userCosts: BucketCost[] = costByUser ? [...costByUser] : items.map((it) => [it.userId, 1] as const);
  const clientWait = await deps.limits.client.take(clientCost);
  if (clientWait > 0) throw emoError('RATE_LIMITED', 'Too many reactions from this client', { retryAfterSec: clientWait });
  const userWait = await deps.limits.user.take(userCosts);
  if (userWait > 0) {
    await deps.limits.client.refund(clientCost);
    throw emoError('RATE_LIMITED', undefined, { retryAfterSec: userWait });
  }

  if (deadline <= deps.clock.now()) {
    // The limiter's own wait (a shared Redis) ate the window's remaining time: store nothing.
    await Promise.all([deps.limits.client.refund(clientCost), deps.limits.user.refund(userCosts)]);
    throw emoError('LOG_UNAVAILABLE', 'the reactions arrived too late for their window; retry', { retryAfterSec: deps.retryAfterSec });
  }
  const records = deps.codec.records(deps.topic, reactions);
  const end = deps.metrics.produceLatency.startTimer();
  try {
    await beforeDeadline(deps.producer.send(records), deadline - deps.clock.now(), deps.retryAfterSec);
  } catch (err) {
    await Promise.all([deps.limits.client.refund(clientCost), deps.limits.user.refund(userCosts)]);
    // Whatever went wrong in the log, the client must hear "not stored, retry": never a 202, never a 500.
    if (isEmoError(err) && err.retryable) throw err;
    throw emoError('LOG_UNAVAILABLE', undefined, { cause: err, retryAfterSec: deps.retryAfterSec });
  } finally {
    end();
  }
  deps.metrics.reactionsAccepted.inc(reactions.length);
  return reactions.length;
}

// Built only for an error: the loop above runs once per reaction.
const where = (batch: boolean, i: number) => (batch ? `reactions[${i}]: ` : '');
const at = (batch: boolean, i: number) => (batch ? { details: { index: i } } : {});

/**
 * Timers of one duration share a list in Node, so adding and clearing one is O(1); every distinct
 * millisecond gets a list of its own (and a place in the timer heap). A per-request deadline to the
 * millisecond made this timer the costliest step of a single POST: 19.7k -> 23.1k requests/s
 * without it. Rounded down to this step, concurrent requests share a few lists, and the 503 can
 * only come earlier, never after the deadline.
 */
const DEADLINE_STEP_MS = 50;

/**
 * The log's acknowledgement, if it comes in time. If not, the client hears 503: the reactions
 * may still land and be counted (an unknown outcome, as any 503 after a write began), but a 202
 * is never given for one its window may no longer take.
 */
function beforeDeadline(send: Promise<void>, remainingMs: number, retryAfterSec: number): Promise<void> {
  if (remainingMs === Number.POSITIVE_INFINITY) return send;
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(emoError('LOG_UNAVAILABLE', 'the log did not acknowledge the reactions before their window closes', { retryAfterSec })),
      Math.max(0, Math.floor(remainingMs / DEADLINE_STEP_MS) * DEADLINE_STEP_MS),
    );
    // Both outcomes are handled here, so a send that fails after the timeout is no unhandled rejection.
    send.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
