import { emoError, type EmoError } from '../../domain/errors.js';
import { errCode, isStuckCall } from './rdkafka.js';

/**
 * What a Kafka error means for whoever must recover from it (librdkafka's transactional recipe):
 * - retriable: call the same operation again;
 * - abortable: abort the transaction, rewind to the last commit, go on;
 * - fatal / fenced / invalid-state: this producer instance is finished: dispose of it, create a new
 *   one under the same transactional.id (initTransactions fences the old epoch), rewind;
 * - stuck: the client did not answer a call by its deadline: abandoned and replaced, like fatal;
 * - other: anything else (a broker away, a timeout): treated like abortable by the runners.
 */
export type KafkaErrorClass = 'retriable' | 'abortable' | 'fatal' | 'fenced' | 'invalid-state' | 'stuck' | 'other';

const FENCED = new Set([-144 /* ERR__FENCED */, 90 /* ERR_PRODUCER_FENCED */, 47 /* ERR_INVALID_PRODUCER_EPOCH */]);
const INVALID_STATE = new Set([48 /* ERR_INVALID_TXN_STATE */, -172 /* ERR__STATE */]);
/** Group coordinator moving or loading, a rebalance, a broker away: a commit may simply be tried again. */
const COORDINATOR = new Set([-180, -195, -187, -185, 14, 15, 16, 27, 51]);

export function classifyKafkaError(err: unknown): KafkaErrorClass {
  const e = (err ?? {}) as { isFatal?: boolean; isRetriable?: boolean; isTxnRequiresAbort?: boolean };
  if (isStuckCall(err)) return 'stuck';
  const code = errCode(err);
  if (code !== undefined && FENCED.has(code)) return 'fenced';
  if (e.isFatal) return 'fatal';
  if (code !== undefined && INVALID_STATE.has(code)) return 'invalid-state';
  if (e.isTxnRequiresAbort) return 'abortable';
  if (e.isRetriable) return 'retriable';
  if (code !== undefined && COORDINATOR.has(code)) return 'retriable';
  return 'other';
}

/** True when the producer instance must be replaced before another transaction can succeed. */
export function needsNewProducer(c: KafkaErrorClass): boolean {
  return c === 'fatal' || c === 'fenced' || c === 'invalid-state' || c === 'stuck';
}

/** The typed error the runners see: EMO_ERR_LOG_UNAVAILABLE, with the Kafka class in `details.kafkaClass`. */
export function kafkaError(message: string, cause: unknown, kafkaClass = classifyKafkaError(cause)): EmoError {
  return emoError('LOG_UNAVAILABLE', `${message}: ${(cause as Error)?.message ?? String(cause)} [${kafkaClass}]`, { cause, details: { kafkaClass } });
}
