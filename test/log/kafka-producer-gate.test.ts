import { describe, expect, it } from 'vitest';
import { anyBrokerUp, isAllBrokersDown } from '../../src/adapters/kafka/kafka-producer.js';

// The shapes below are librdkafka's statistics JSON (the `brokers` object), trimmed to what the gate reads.
const stats = (brokers: Record<string, { nodeid: number; state: string }>) => JSON.stringify({ name: 'p#producer-1', brokers });

describe('the ingest producer gate', () => {
  it('counts the bootstrap connection: after a broker restart it is often the only one up', () => {
    // The state seen in the broker-outage test's stuck runs: the leader's connection stays in INIT
    // until something is produced, so gating on it alone refused every write for good.
    expect(anyBrokerUp(stats({ '127.0.0.1:19192/bootstrap': { nodeid: -1, state: 'UP' }, '127.0.0.1:19192/1': { nodeid: 1, state: 'INIT' } }))).toBe(true);
    expect(anyBrokerUp(stats({ '127.0.0.1:19192/bootstrap': { nodeid: -1, state: 'INIT' }, '127.0.0.1:19192/1': { nodeid: 1, state: 'UP' } }))).toBe(true);
  });

  it('is closed while every connection is down', () => {
    expect(anyBrokerUp(stats({ '127.0.0.1:19192/bootstrap': { nodeid: -1, state: 'DOWN' }, '127.0.0.1:19192/1': { nodeid: 1, state: 'TRY_CONNECT' } }))).toBe(false);
    expect(anyBrokerUp(JSON.stringify({ name: 'p' }))).toBe(false);
  });

  it('knows "all brokers down" by code or, as node-rdkafka reports it on error events, by message', () => {
    expect(isAllBrokersDown({ code: -187, message: 'x' })).toBe(true);
    expect(isAllBrokersDown({ code: -1, message: 'all broker connections are down' })).toBe(true);
    expect(isAllBrokersDown({ code: -1, message: 'broker transport failure' })).toBe(false);
    expect(isAllBrokersDown(undefined)).toBe(false);
  });
});
