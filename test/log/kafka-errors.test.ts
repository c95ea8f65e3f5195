import { describe, expect, it, vi } from 'vitest';
import { isEmoError } from '../../src/domain/errors.js';
import { classifyKafkaError, kafkaError, needsNewProducer } from '../../src/adapters/kafka/kafka-errors.js';
import { call, checkFeatures, disconnectInBackground, isStuckCall, stuckCalls } from '../../src/adapters/kafka/rdkafka.js';
import { silentLogger } from '../../helpers/fixtures.js';
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

// A callback that never fires is what a stuck native call looks like from JS; it cannot be provoked
// on demand against a real broker (the chaos tier's frozen broker meets it by chance).
describe('a librdkafka call that never answers', () => {
  it('is rejected at its own deadline as stuck, and a stuck producer is replaced, not asked again', async () => {
    vi.useFakeTimers();
    try {
      let answer: ((err: null) => void) | undefined;
      const before = stuckCalls();
      const p = call((cb) => (answer = cb), 15_000);
      const seen = p.catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(14_999);
      let settled = false;
      void seen.then(() => (settled = true));
      await Promise.resolve();
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      const err = await seen;
      expect(isStuckCall(err)).toBe(true);
      expect(err).toMatchObject({ code: 'EMO_ERR_LOG_UNAVAILABLE' });
      expect(classifyKafkaError(err)).toBe('stuck');
      expect(needsNewProducer(classifyKafkaError(err))).toBe(true);
      // Counted as stuck (main ends the process by signal meanwhile) until the native call answers.
      expect(stuckCalls()).toBe(before + 1);
      answer!(null);
      expect(stuckCalls()).toBe(before);
      expect(isStuckCall(await call((cb) => cb({ code: -185, message: 'timed out' } as never), 15_000).catch((e: unknown) => e))).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it('an abandoned client is disconnected without the caller waiting for it', () => {
    let disconnected = false;
    const never = { disconnect: (_cb: (err: unknown) => void) => (disconnected = true) };
    // Returns at once although the disconnect never calls back.
    expect(disconnectInBackground(never, silentLogger, 'test')).toBeUndefined();
    expect(disconnected).toBe(true);
  });
});
