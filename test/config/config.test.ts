import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';

describe('loadConfig', () => {
  it('reads the aggregation defaults from schemas/aggregation.json', () => {
    expect(loadConfig({}).aggregation).toEqual({ windowMs: 2000, graceMs: 500, unitScale: 1000, topN: 8, tsToleranceMs: 250 });
  });

  it('reports every bad value at once, by name', () => {
    expect(() => loadConfig({ PORT: 'x', TRUST_PROXY: 'yes', RATE_LIMIT_STORE: 'disk' })).toThrow(/PORT=.*\n.*RATE_LIMIT_STORE=.*\n.*TRUST_PROXY=/s);
  });

  it('refuses a ts tolerance at or past the grace period (a trusted ts could land in a closed window)', () => {
    expect(() => loadConfig({ TS_TOLERANCE_MS: '500', GRACE_MS: '500' })).toThrow(/TS_TOLERANCE_MS \(500\) must be smaller than GRACE_MS \(500\)/);
    expect(loadConfig({ TS_TOLERANCE_MS: '0', GRACE_MS: '0', ACK_CLOSE_MARGIN_MS: '0' }).aggregation.tsToleranceMs).toBe(0);
  });

  it('shares the rate-limit buckets in Redis when the bus is Redis, unless told otherwise', () => {
    expect(loadConfig({}).ingest.rateLimitStore).toBe('memory');
    expect(loadConfig({ BUS_ADAPTER: 'redis' }).ingest.rateLimitStore).toBe('redis');
    expect(loadConfig({ BUS_ADAPTER: 'redis', RATE_LIMIT_STORE: 'memory' }).ingest.rateLimitStore).toBe('memory');
  });

  it('needs room for a whole request in the memory log (LOG_CAPACITY_BYTES)', () => {
    expect(() => loadConfig({ LOG_CAPACITY_BYTES: '100000' })).toThrow(/LOG_CAPACITY_BYTES \(100000\) must be at least BODY_LIMIT_BYTES \(262144\)/);
    expect(loadConfig({ LOG_CAPACITY_BYTES: '262144' }).log.capacityBytes).toBe(262144);
  });

  it('needs room for a full batch in the per-client bucket', () => {
    expect(() => loadConfig({ CLIENT_BURST: '10' })).toThrow(/CLIENT_BURST \(10\) must be at least MAX_BATCH \(500\)/);
  });

  it('defaults: embedded adapters, the dev services\' addresses, durable Kafka acks, no proxy trusted', () => {
    const c = loadConfig({});
    expect(c.adapters).toEqual({ log: 'memory', registry: 'memory', bus: 'memory' });
    expect(c.kafka).toMatchObject({ brokers: '127.0.0.1:19092', ackMode: 'durable', replicationFactor: 1, retryAfterSec: 1 });
    expect(c.trustProxy).toBe(false);
    expect(c.ingest.retryAfterSec).toBe(1);
  });

  it('reads RETRY_AFTER_SEC once, for both logs, and reports a bad one once', () => {
    const c = loadConfig({ RETRY_AFTER_SEC: '7' });
    expect([c.ingest.retryAfterSec, c.kafka.retryAfterSec]).toEqual([7, 7]);
    let message = '';
    try {
      loadConfig({ RETRY_AFTER_SEC: '0' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.match(/RETRY_AFTER_SEC=/g)).toHaveLength(1);
  });

  it('TRUST_PROXY is 0 or 1', () => {
    expect(loadConfig({ TRUST_PROXY: '1' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '0' }).trustProxy).toBe(false);
    expect(() => loadConfig({ TRUST_PROXY: 'true' })).toThrow(/TRUST_PROXY="true" must be one of 0, 1/);
  });

  it('checks list entries and patterns: sentinels as host:port, brokers, topic names', () => {
    expect(loadConfig({ REDIS_SENTINELS: 'a:1, b:2' }).redis.sentinels).toEqual(['a:1', 'b:2']);
    expect(() => loadConfig({ REDIS_SENTINELS: 'a:1,b' })).toThrow(/REDIS_SENTINELS entry "b" must be host:port/);
    expect(() => loadConfig({ KAFKA_BROKERS: 'host-without-port' })).toThrow(/KAFKA_BROKERS=/);
    expect(() => loadConfig({ REACTIONS_TOPIC: 'bad topic' })).toThrow(/REACTIONS_TOPIC=/);
  });

  it('overrides merge into the loaded config, nested objects field by field', () => {
    // Overrides are checked with the rest: a test cannot run on a configuration no environment could give.
    expect(() => loadConfig({}, { aggregation: { graceMs: 300 } })).toThrow(/TS_TOLERANCE_MS \+ ACK_CLOSE_MARGIN_MS \(250 \+ 100\) must be smaller than GRACE_MS \(300\)/);
    const c = loadConfig({ KAFKA_LINGER_MS: '9' }, { kafka: { reactionsPartitions: 3 }, port: 0 });
    expect(c.kafka.lingerMs).toBe(9);
    expect(c.kafka.reactionsPartitions).toBe(3);
    expect(c.port).toBe(0);
  });

  describe('with another schemas/aggregation.json', () => {
    let dir = '';
    const saved = process.env.EMO_SCHEMAS_DIR;
    afterEach(() => {
      if (saved === undefined) delete process.env.EMO_SCHEMAS_DIR;
      else process.env.EMO_SCHEMAS_DIR = saved;
      if (dir) rmSync(dir, { recursive: true, force: true });
    });
    const withRules = (rules: object) => {
      dir = mkdtempSync(path.join(tmpdir(), 'emostream-config-'));
      writeFileSync(path.join(dir, 'aggregation.json'), JSON.stringify(rules));
      process.env.EMO_SCHEMAS_DIR = dir;
    };

    it('validates the file\'s values like set ones: a bad default is reported, not used', () => {
      withRules({ windowMs: 5, graceMs: 500, unitScale: 1000, topN: 8, tsToleranceMs: 250, ackCloseMarginMs: 100 });
      expect(() => loadConfig({})).toThrow(/WINDOW_MS's default 5 from schemas\/aggregation.json must be an integer in \[100, 3600000\]/);
      // A value set in the environment replaces the bad default.
      expect(loadConfig({ WINDOW_MS: '1000' }).aggregation.windowMs).toBe(1000);
    });

    it('takes its defaults from the file', () => {
      withRules({ windowMs: 4000, graceMs: 800, unitScale: 500, topN: 3, tsToleranceMs: 100, ackCloseMarginMs: 50 });
      expect(loadConfig({}).aggregation).toEqual({ windowMs: 4000, graceMs: 800, unitScale: 500, topN: 3, tsToleranceMs: 100 });
      expect(loadConfig({}).ingest.closeMarginMs).toBe(50);
    });

    it('has no second default for a value the file lacks: it is reported unless the environment sets it', () => {
      withRules({ windowMs: 2000, graceMs: 500, unitScale: 1000, topN: 8, tsToleranceMs: 250 });
      expect(() => loadConfig({})).toThrow(/ACK_CLOSE_MARGIN_MS's default null from schemas\/aggregation.json/);
      expect(loadConfig({ ACK_CLOSE_MARGIN_MS: '100' }).ingest.closeMarginMs).toBe(100);
    });
  });
});
