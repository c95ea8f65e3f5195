import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/domain/errors.js';

const root = path.resolve(import.meta.dirname, '../..');
const dir = path.join(root, 'deploy/prometheus');

/** promtool comes with Debian's prometheus package (scripts/infra/apt-deps.sh); without it this fails, never skips. */
function promtool(...args: string[]): string {
  const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool not runnable (${r.error.message}); install it with scripts/infra/apt-deps.sh`);
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) throw new Error(`promtool ${args.join(' ')} failed:\n${out}`);
  return out;
}

describe('deploy/prometheus', () => {
  it('configs and rules pass promtool check', () => {
    expect(promtool('check', 'config', 'prometheus.yml')).toMatch(/SUCCESS/);
    expect(promtool('check', 'config', 'prometheus-embedded.yml')).toMatch(/SUCCESS/);
    expect(promtool('check', 'rules', 'rules/recording.yml', 'rules/alerts.yml')).toMatch(/SUCCESS: 15 rules found/);
  });

  it('every alert is unit-tested and the unit tests pass (promtool test rules)', () => {
    const alerts = [...readFileSync(path.join(dir, 'rules/alerts.yml'), 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    const tested = new Set([...readFileSync(path.join(dir, 'tests/alerts.test.yml'), 'utf8').matchAll(/alertname: (\w+)[\s\S]*?exp_alerts:\s*(\[\s*\]|\S)/g)]
      .filter((m) => m[2] !== '[]' && !m[2]!.startsWith('[ ]'))
      .map((m) => m[1]));
    expect(alerts.length).toBeGreaterThan(10);
    // Each alert has a case where it fires, not only cases where it stays quiet.
    expect(alerts.filter((a) => !tested.has(a))).toEqual([]);
    expect(promtool('test', 'rules', 'tests/alerts.test.yml')).toMatch(/SUCCESS/);
  });

  it('the 5xx and 503 code lists of the rules are exactly the catalogue\'s', () => {
    const recording = readFileSync(path.join(dir, 'rules/recording.yml'), 'utf8');
    const codesOf = (record: string) => {
      const block = recording.slice(recording.indexOf(`record: ${record}`));
      const m = /code=~"EMO_ERR_\(([A-Z_|]+)\)"/.exec(block)!;
      return m[1]!.split('|').map((c) => `EMO_ERR_${c}`).sort();
    };
    const catalogue = (pred: (s: number) => boolean) => Object.values(ErrorCodes).filter((d) => pred(d.statusCode)).map((d) => d.code).sort();
    expect(codesOf('role:emostream_requests_5xx:rate5m')).toEqual(catalogue((s) => s >= 500));
    expect(codesOf('role:emostream_requests_503:rate5m')).toEqual(catalogue((s) => s === 503));
  });

  it('promtool is the Prometheus 2.x this config is written for', () => {
    expect(execFileSync('promtool', ['--version'], { encoding: 'utf8' })).toMatch(/version 2\./);
  });
});
