import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyInfraEnv, readInfraEnv } from '../../helpers/infra-env.js';
import { readMetric } from '../../helpers/metrics.js';

const dir = mkdtempSync(path.join(tmpdir(), 'emostream-helpers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the shared test and bench helpers', () => {
  it('reads the export lines of an infra env file, quotes removed, anything else ignored', () => {
    const file = path.join(dir, 'env');
    writeFileSync(file, '# written by up.sh\nexport KAFKA_BROKERS=127.0.0.1:1\n  export REDIS_URL="redis://x"\nKAFKA_PORT=9\n');
    expect(readInfraEnv(file)).toEqual({ KAFKA_BROKERS: '127.0.0.1:1', REDIS_URL: 'redis://x' });
    const target: NodeJS.ProcessEnv = { REDIS_URL: 'mine' };
    applyInfraEnv(file, target, { keepExisting: true });
    expect(target).toEqual({ REDIS_URL: 'mine', KAFKA_BROKERS: '127.0.0.1:1' });
    applyInfraEnv(file, target);
    expect(target.REDIS_URL).toBe('redis://x');
    expect(() => readInfraEnv(path.join(dir, 'absent'))).toThrow(/did not start/);
  });

  it('reads a metric summed over matching labels and fails on a metric that is not exported', () => {
    const text = '# HELP x_total x\nx_total{reason="late"} 2\nx_total{reason="unknown-emoji"} 3\n';
    expect(readMetric(text, 'x_total')).toBe(5);
    expect(readMetric(text, 'x_total', { reason: 'late' })).toBe(2);
    expect(() => readMetric(text, 'y_total')).toThrow(/not exported/);
    expect(() => readMetric(text, 'x_total', { reason: 'other' })).toThrow(/not exported/);
  });
});
