// The pages' pure helpers (plain ES modules served to browsers), tested in Node.
import { describe, expect, it } from 'vitest';
import { BurstDetector, burstSprites } from '../../src/web/public/lib/burst.js';
import { embedSnippet, overlayOptions, overlayQuery } from '../../src/web/public/lib/options.js';
import { counterRate, metricValue, parsePrometheus } from '../../src/web/public/lib/prom.js';
import { WindowSeries, type WindowUpdate } from '../../src/web/public/lib/series.js';

describe('overlay options', () => {
  it('defaults, valid values, and clamping of everything else', () => {
    expect(overlayOptions('')).toEqual({ matchId: 'demo-match', position: 'bottom-right', theme: 'dark', bg: 'theme', maxSprites: 80, spritesPerUnit: 2, size: 42, sentiment: true, burst: true, format: 'json', transport: 'ws' });
    expect(overlayOptions('?matchId=m-1&position=full&theme=light&bg=transparent&maxSprites=12&sentiment=0&burst=off')).toMatchObject({
      matchId: 'm-1', position: 'full', theme: 'light', bg: 'transparent', maxSprites: 12, sentiment: false, burst: false,
    });
    expect(overlayOptions('matchId=<script>&position=middle&theme=pink&bg=url(x)&maxSprites=99999&size=abc&spritesPerUnit=0')).toMatchObject({
      matchId: 'demo-match', position: 'bottom-right', theme: 'dark', bg: 'theme', maxSprites: 400, size: 42, spritesPerUnit: 1,
    });
    expect(overlayOptions('bg=%2300ff00').bg).toBe('#00ff00'); // chroma key
  });

  it('query and iframe snippet keep only non-defaults, HTML-escaped', () => {
    expect(overlayQuery({ matchId: 'm1', position: 'bottom-right', theme: 'dark', bg: 'transparent', maxSprites: 80 })).toBe('matchId=m1&bg=transparent');
    expect(overlayQuery({ matchId: 'm1', position: 'full', maxSprites: 20, sentiment: false })).toBe('matchId=m1&position=full&maxSprites=20&sentiment=0');
    const s = embedSnippet('http://h:1', { matchId: 'm1', bg: 'transparent', theme: 'light' }, 400, 600);
    expect(s).toBe('<iframe src="http://h:1/overlay?matchId=m1&amp;theme=light&amp;bg=transparent" width="400" height="600" style="border:0;background:transparent;color-scheme:normal" allowtransparency="true" title="EmoStream live reactions"></iframe>');
  });
});

describe('burst detector', () => {
  it('fires on a jump well above the recent mean, not on the first windows, a snapshot or noise', () => {
    const d = new BurstDetector({ history: 5, ratio: 3, minTotal: 20, minHistory: 2 });
    expect(d.push(500, true).burst).toBe(false); // a snapshot is ignored (maybe stale)
    expect(d.recent).toEqual([]);
    expect(d.push(10).burst).toBe(false);
    const r = d.push(10);
    expect(r.burst).toBe(false);
    expect(d.push(15).burst).toBe(false); // noise
    const big = d.push(400);
    expect(big.burst).toBe(true);
    expect(big.mean).toBeCloseTo((10 + 10 + 15) / 3);
    expect(d.push(420).burst).toBe(false); // the same moment, still going: one burst
    expect(d.push(900).burst).toBe(true); // an even bigger one breaks the cooldown
  });

  it('needs minTotal and clears Poisson noise on small numbers', () => {
    const d = new BurstDetector({ minHistory: 2 });
    d.push(1);
    d.push(1);
    expect(d.push(5).burst).toBe(false); // 5 x the mean but under minTotal
    const e = new BurstDetector({ minHistory: 2, minTotal: 1, ratio: 3 });
    e.push(100);
    e.push(100);
    expect(e.push(139).burst).toBe(false); // under 3 x
    expect(e.push(350).burst).toBe(true); // 3 x the mean of 100, 100, 139
  });

  it('burst size grows with the log of the jump, capped', () => {
    expect(burstSprites(1, 100)).toBe(10);
    expect(burstSprites(4, 100)).toBe(26);
    expect(burstSprites(Infinity, 100)).toBe(42);
    expect(burstSprites(1e9, 30)).toBe(30);
  });
});

describe('prometheus text', () => {
  const text = [
    '# HELP emostream_reactions_accepted_total Reactions acknowledged to clients',
    '# TYPE emostream_reactions_accepted_total counter',
    'emostream_reactions_accepted_total 1234',
    'emostream_aggregator_dropped_total{reason="late"} 7',
    'emostream_aggregator_dropped_total{reason="undecodable"} 2',
    'emostream_requests_rejected_total{code="EMO_ERR_RATE_LIMITED",route="/v1/x"} 3 1700000000000',
    'emostream_weird{label="a \\"quoted\\" one"} +Inf',
    'emostream_produce_seconds_bucket{le="0.005"} 1.5e3',
    '',
  ].join('\n');

  it('parses samples, labels, timestamps and special values', () => {
    const s = parsePrometheus(text);
    expect(s).toHaveLength(6);
    expect(s[0]).toEqual({ name: 'emostream_reactions_accepted_total', labels: {}, value: 1234 });
    expect(s[3]).toEqual({ name: 'emostream_requests_rejected_total', labels: { code: 'EMO_ERR_RATE_LIMITED', route: '/v1/x' }, value: 3 });
    expect(s[4]).toEqual({ name: 'emostream_weird', labels: { label: 'a "quoted" one' }, value: Infinity });
    expect(s[5]!.value).toBe(1500);
  });

  it('sums by name and label subset; absent is 0', () => {
    const s = parsePrometheus(text);
    expect(metricValue(s, 'emostream_aggregator_dropped_total', { reason: 'late' })).toBe(7);
    expect(metricValue(s, 'emostream_aggregator_dropped_total')).toBe(9);
    expect(metricValue(s, 'emostream_ws_messages_dropped_total')).toBe(0);
  });

  it('counter rate per second; a restart counts from zero', () => {
    expect(counterRate(undefined, { value: 10, at: 1000 })).toBe(0);
    expect(counterRate({ value: 100, at: 0 }, { value: 300, at: 2000 })).toBe(100);
    expect(counterRate({ value: 500, at: 0 }, { value: 40, at: 2000 })).toBe(20);
    expect(counterRate({ value: 1, at: 5 }, { value: 2, at: 5 })).toBe(0);
  });
});

describe('window series', () => {
  const w = 2000;
  const u = (seq: number, prevSeq: number, total: number, epoch = 'e1'): WindowUpdate => ({
    epoch, seq, prevSeq, windowStart: seq * w, windowEnd: (seq + 1) * w, total, sentiment: total / 100, counts: { '🔥': total },
  });

  it('charts quiet windows (linked by prevSeq) as 0 and missed ones as a gap; drops duplicates', () => {
    const s = new WindowSeries(100);
    expect(s.add(u(10, 9, 5))).toBe(true);
    expect(s.add(u(11, 10, 6))).toBe(true);
    expect(s.add(u(11, 10, 6))).toBe(false); // duplicate
    expect(s.add(u(14, 11, 7))).toBe(true); // 12 and 13 were quiet
    expect(s.xs).toEqual([20, 22, 24, 26, 28]);
    expect(s.totals).toEqual([5, 6, 0, 0, 7]);
    expect(s.sentiments).toEqual([0.05, 0.06, null, null, 0.07]);
    expect(s.add(u(20, 18, 1))).toBe(true); // 15..18 missed: one null breaks the line
    expect(s.totals.slice(-2)).toEqual([null, 1]);
    expect(s.xs.slice(-2)).toEqual([30, 40]);
    expect(s.windowSec).toBe(2);
    expect(s.topEmojis(3)).toEqual([['🔥', 8]]);
  });

  it('is bounded, and a new epoch starts over', () => {
    const s = new WindowSeries(3);
    for (let i = 0; i < 6; i++) s.add(u(i, i - 1, i));
    expect(s.totals).toEqual([3, 4, 5]);
    s.add(u(1000, 5, 1)); // a long quiet stretch fills at most the limit
    expect(s.points).toBe(3);
    expect(s.totals).toEqual([0, 0, 1]);
    s.add(u(3, -1, 9, 'e2'));
    expect(s.totals).toEqual([9]);
    expect(s.epoch).toBe('e2');
  });
});
