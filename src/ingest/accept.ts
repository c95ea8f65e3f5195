import type { AvroSerde } from '../codec/serde.js';
import type { EmojiCatalog } from '../domain/catalog.js';
import type { Clock } from '../ports/clock.js';
import { emoError, isEmoError } from '../domain/errors.js';
import type { Reaction } from '../domain/types.js';
import type { LogProducer } from '../ports/log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ReactionBody } from './schemas.js';
import type { BucketCost, RateBuckets } from '../ports/rate-buckets.js';

export interface AcceptDeps {
  catalog: EmojiCatalog;
  clock: Clock;
  /** Buckets per client (API token subject, else address) and per userId: both must have room. */
  limits: { client: RateBuckets; user: RateBuckets };
  producer: LogProducer;
  serde: AvroSerde<Reaction>;
  metrics: Metrics;
  topic: string;
  pastMs: number;
  futureMs: number;
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
  const reactions: Reaction[] = new Array(items.length);
  const costByUser = new Map<string, number>();
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    const at = batch ? { details: { index: i } } : {};
    const where = batch ? `reactions[${i}]: ` : '';
    if (!deps.catalog.has(it.emoji)) {
      throw emoError('UNKNOWN_EMOJI', `${where}emoji ${JSON.stringify(it.emoji)} is not in the catalog (GET /v1/emojis)`, at);
    }
    const ts = it.ts ?? now;
    if (ts < now - deps.pastMs || ts > now + deps.futureMs) {
      throw emoError('TIMESTAMP_RANGE', `${where}ts ${ts} is outside [now-${deps.pastMs} ms, now+${deps.futureMs} ms] (now=${now})`, at);
    }
    reactions[i] = { matchId: it.matchId, userId: it.userId, emoji: it.emoji, ts, receivedAt: now };
    costByUser.set(it.userId, (costByUser.get(it.userId) ?? 0) + 1);
  }
  const clientCost: BucketCost[] = [[clientKey, items.length]];
  const userCosts: BucketCost[] = [...costByUser];
  const clientWait = await deps.limits.client.take(clientCost);
  if (clientWait > 0) throw emoError('RATE_LIMITED', 'Too many reactions from this client', { retryAfterSec: clientWait });
  const userWait = await deps.limits.user.take(userCosts);
  if (userWait > 0) {
    await deps.limits.client.refund(clientCost);
    throw emoError('RATE_LIMITED', undefined, { retryAfterSec: userWait });
  }

  const records = reactions.map((r) => ({ topic: deps.topic, key: r.matchId, value: deps.serde.encode(r) }));
  const end = deps.metrics.produceLatency.startTimer();
  try {
    await deps.producer.send(records);
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
