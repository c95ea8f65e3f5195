import { describe, expect, it } from 'vitest';
import { isLoopbackHost, parseCrowdArgs, parseDuration, UsageError, type CrowdOptions } from '../../src/crowd/args.js';
import { progressBar, RateMeter, renderStatus, emptyStats } from '../../src/crowd/stats.js';

const parse = (...argv: string[]): CrowdOptions => {
  const o = parseCrowdArgs(argv, () => 0.5);
  if (o === 'help') throw new Error('help');
  return o;
};

describe('crowd command line', () => {
  it('durations', () => {
    expect(parseDuration('60s')).toBe(60_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('30')).toBe(30_000);
    for (const bad of ['', 'abc', '-5s', '0s', '10d']) expect(() => parseDuration(bad)).toThrow(UsageError);
  });

  it('defaults and overrides', () => {
    expect(parse('--match', 'm1')).toEqual({
      match: 'm1', viewers: 1000, durationMs: 60_000, url: 'http://127.0.0.1:8080', rate: 200, maxReactions: 1_000_000,
      allowRemote: false, seed: 2 ** 30, momentEveryMs: 12_000, senders: 4, batch: 250, live: true,
    });
    const o = parse('--match', 'm1', '--viewers', '5000', '--duration', '2m', '--rate', '1500.5', '--max-reactions', '100', '--url', 'http://localhost:9000/', '--seed', '7', '--no-live', '--batch', '500');
    expect(o).toMatchObject({ viewers: 5000, durationMs: 120_000, rate: 1500.5, maxReactions: 100, url: 'http://localhost:9000', seed: 7, live: false, batch: 500 });
    expect(parse('--match', 'm', '--viewers', '50').rate).toBe(10);
    expect(parseCrowdArgs(['-h'])).toBe('help');
  });

  it('rejects bad input with a usage error', () => {
    const bad: string[][] = [
      [],
      ['--match', 'bad match'],
      ['--match', 'm', '--viewers', '0'],
      ['--match', 'm', '--viewers', '1.5'],
      ['--match', 'm', '--rate', '-1'],
      ['--match', 'm', '--batch', '501'],
      ['--match', 'm', '--url', 'ftp://127.0.0.1'],
      ['--match', 'm', '--url', 'nope'],
      ['--match', 'm', '--unknown'],
      ['--match', 'm', 'positional'],
    ];
    for (const argv of bad) expect(() => parseCrowdArgs(argv), argv.join(' ')).toThrow(UsageError);
  });

  it('loopback only unless --allow-remote', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', 'api.localhost', '[::1]', '::1']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['10.0.0.1', '128.0.0.1', 'example.com', '0.0.0.0', '127.0.0.1.example.com', '[::2]']) expect(isLoopbackHost(h), h).toBe(false);
    expect(() => parse('--match', 'm', '--url', 'http://10.1.2.3:8080')).toThrow(/--allow-remote/);
    expect(parse('--match', 'm', '--url', 'http://10.1.2.3:8080', '--allow-remote').url).toBe('http://10.1.2.3:8080');
    expect(parse('--match', 'm', '--url', 'http://[::1]:8080').url).toBe('http://[::1]:8080');
  });
});

describe('crowd status', () => {
  it('rate meter counts the last window only', () => {
    const m = new RateMeter(2000);
    m.add(100, 0);
    m.add(300, 1500);
    expect(m.perSecond(1500)).toBe(200);
    expect(m.perSecond(2500)).toBe(150); // the first 100 left the window
    expect(m.perSecond(10_000)).toBe(0);
  });

  it('progress bar and status lines', () => {
    expect(progressBar(0, 4)).toBe('[░░░░]');
    expect(progressBar(0.5, 4)).toBe('[██░░]');
    expect(progressBar(2, 4)).toBe('[████]');
    const stats = { ...emptyStats(), generated: 500, accepted: 450, retries: 3, status429: 2, status503: 1, queued: 50 };
    const [l1, l2] = renderStatus({ elapsedMs: 15_000, durationMs: 60_000, maxReactions: 1000, stats, acceptedPerSec: 1234.4, generatedPerSec: 1300, moments: ['SIX 🔥'], window: { total: 4321, viewers: 12, top: '🔥' } });
    expect(l1).toContain(' 50%'); // the count bound (500/1000) is ahead of the time bound (25%)
    expect(l1).toContain('⚡ SIX 🔥');
    expect(l2).toContain('accepted 450 (1,234/s)');
    expect(l2).toContain('retries 3 (429: 2, 503: 1, net: 0)');
    expect(l2).toContain('window: 4,321 🔥 · 12 watching');
    expect(l2).not.toContain('rejected');
  });
});
