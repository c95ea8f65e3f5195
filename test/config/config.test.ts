import { describe, expect, it } from 'vitest';
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

  it('needs room for a full batch in the per-client bucket', () => {
    expect(() => loadConfig({ CLIENT_BURST: '10' })).toThrow(/CLIENT_BURST \(10\) must be at least MAX_BATCH \(500\)/);
  });
});
