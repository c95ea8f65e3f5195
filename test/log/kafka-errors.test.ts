import { describe, expect, it } from 'vitest';
import { isEmoError } from '../../src/domain/errors.js';
import { classifyKafkaError, kafkaError, needsNewProducer } from '../../src/adapters/kafka/kafka-errors.js';
import { checkFeatures } from '../../src/adapters/kafka/rdkafka.js';
import type { KafkaOptions } from '../../src/config/kafka-options.js';

// Plain objects stand in for node-rdkafka's LibrdKafkaError: the classifier reads only its code and
// its three flags, which librdkafka sets and which cannot be provoked one by one against a broker.
describe('classifyKafkaError', () => {
  it('follows librdkafka\'s transactional recipe', () => {
    expect(classifyKafkaError({ code: 48, message: 'Producer attempted a transactional operation in an invalid state' })).toBe('invalid-state');
    expect(classifyKafkaError({ code: -144, message: 'fenced' })).toBe('fenced');
    expect(classifyKafkaError({ code: 90 })).toBe('fenced');
    expect(classifyKafkaError({ code: -1, isFatal: true })).toBe('fatal');
    expect(classifyKafkaError({ code: -1, isTxnRequiresAbort: true })).toBe('abortable');
    expect(classifyKafkaError({ code: -1, isRetriable: true })).toBe('retriable');
    expect(classifyKafkaError({ code: -180, message: 'Local: Waiting for coordinator' })).toBe('retriable');
    expect(classifyKafkaError(new Error('x'))).toBe('other');
  });

  it('replaces the producer only for fatal, fenced and invalid state', () => {
    expect(['fatal', 'fenced', 'invalid-state'].every((c) => needsNewProducer(c as never))).toBe(true);
    expect(['retriable', 'abortable', 'other'].some((c) => needsNewProducer(c as never))).toBe(false);
  });

  it('wraps the cause in EMO_ERR_LOG_UNAVAILABLE with its class', () => {
    const e = kafkaError('commit failed', { code: 48, message: 'invalid state' });
    expect(isEmoError(e, 'LOG_UNAVAILABLE')).toBe(true);
    expect(e.details).toEqual({ kafkaClass: 'invalid-state' });
  });
});

describe('checkFeatures: the built librdkafka has what the config asks for', () => {
  const options = (compression: 'lz4' | 'zstd' | 'none') => ({ compression }) as KafkaOptions;
  it('refuses zstd on a build without it with EMO_ERR_CONFIG naming the fix, not librdkafka\'s raw error at the first batch', () => {
    expect(() => checkFeatures(options('zstd'), ['gzip', 'lz4', 'ssl'])).toThrow(expect.objectContaining({ code: 'EMO_ERR_CONFIG', message: expect.stringMatching(/lacks zstd.*scripts\/install\.sh/) }));
    expect(() => checkFeatures(options('zstd'), ['gzip', 'lz4', 'zstd'])).not.toThrow();
    expect(() => checkFeatures(options('none'), [])).not.toThrow();
  });
});
