import { describe, expect, it } from 'vitest';
import { baselineSampler } from '../../src/crowd/distribution.js';
import { ReactionPlanner } from '../../src/crowd/planner.js';
import { seededRandom } from '../../src/crowd/rng.js';
import { buildSchedule, CRICKET_MOMENTS, envelope, intensityAt, type Moment } from '../../src/crowd/schedule.js';

const catalog = ['🔥', '😂', '😍', '👏', '🎉', '❤️', '👍', '😮', '😱', '🤔', '😢', '😡', '👎', '🤦', '🏏', '⚽'];
const six: Moment = { kind: 'SIX', emoji: '🔥', atMs: 10_000, durationMs: 4000, intensity: 6 };

describe('burst schedule', () => {
  it('moments are sorted, start inside the run, after minFirstMs, and use catalog emojis', () => {
    const s = buildSchedule({ durationMs: 600_000, meanGapMs: 12_000, random: seededRandom(1), catalog, minFirstMs: 3000 });
    expect(s.length).toBeGreaterThan(20);
    expect(s[0]!.atMs).toBeGreaterThanOrEqual(3000);
    for (let i = 0; i < s.length; i++) {
      const m = s[i]!;
      expect(m.atMs).toBeLessThan(600_000);
      expect(catalog).toContain(m.emoji);
      const kind = CRICKET_MOMENTS.find((k) => k.name === m.kind)!;
      expect(m.intensity).toBeGreaterThanOrEqual(kind.intensity[0]);
      expect(m.intensity).toBeLessThanOrEqual(kind.intensity[1]);
      expect(m.durationMs).toBeGreaterThanOrEqual(kind.durationMs[0]);
      expect(m.durationMs).toBeLessThanOrEqual(kind.durationMs[1]);
      if (i > 0) expect(m.atMs).toBeGreaterThan(s[i - 1]!.atMs);
    }
    // A mean gap of 12 s over 10 minutes: roughly 50 moments (each also waits out most of the last one).
    expect(s.length).toBeLessThan(70);
    expect(new Set(s.map((m) => m.kind)).size).toBeGreaterThanOrEqual(4);
  });

  it('is repeatable by seed and skips kinds whose emojis the server does not have', () => {
    const a = buildSchedule({ durationMs: 60_000, meanGapMs: 5000, random: seededRandom(9), catalog });
    expect(buildSchedule({ durationMs: 60_000, meanGapMs: 5000, random: seededRandom(9), catalog })).toEqual(a);
    const onlyFire = buildSchedule({ durationMs: 120_000, meanGapMs: 5000, random: seededRandom(9), catalog: ['🔥'] });
    expect(onlyFire.length).toBeGreaterThan(0);
    expect(onlyFire.every((m) => m.kind === 'SIX' && m.emoji === '🔥')).toBe(true);
    expect(buildSchedule({ durationMs: 60_000, meanGapMs: 5000, random: seededRandom(9), catalog: ['⚽'] })).toEqual([]);
    expect(() => buildSchedule({ durationMs: 1000, meanGapMs: 0, random: seededRandom(1) })).toThrow(RangeError);
  });

  it('a moment rises fast, holds, fades to nothing, and is zero outside', () => {
    expect(envelope(six, 9_999)).toBe(0);
    expect(envelope(six, 10_000)).toBe(0);
    expect(envelope(six, 10_200)).toBeCloseTo(0.5);
    expect(envelope(six, 10_400)).toBe(1);
    expect(envelope(six, 11_000)).toBe(1);
    const fading = [11_500, 12_000, 12_500, 13_000, 13_500, 13_999].map((t) => envelope(six, t));
    for (let i = 1; i < fading.length; i++) expect(fading[i]!).toBeLessThan(fading[i - 1]!);
    expect(fading.at(-1)!).toBeLessThan(0.05);
    expect(envelope(six, 14_000)).toBe(0);
  });

  it('intensity adds overlapping moments on top of the baseline', () => {
    const wicket: Moment = { kind: 'WICKET', emoji: '😱', atMs: 10_500, durationMs: 4000, intensity: 3 };
    expect(intensityAt([six, wicket], 5000)).toEqual({ multiplier: 1, spikes: [] });
    const both = intensityAt([six, wicket], 11_000);
    expect(both.spikes.map((s) => s.emoji)).toEqual(['🔥', '😱']);
    expect(both.multiplier).toBeCloseTo(1 + 5 * 1 + 2 * 1);
  });
});

describe('reaction planner', () => {
  const baseline = baselineSampler(catalog);

  it('sends the baseline rate, carrying fractions so low rates are not lost', () => {
    const p = new ReactionPlanner({ baseRatePerSec: 7, schedule: [], baseline, random: seededRandom(3) });
    let n = 0;
    for (let t = 50; t <= 10_000; t += 50) n += p.next(t, 50).length;
    expect(n).toBe(70);
  });

  it('a six makes a spike of its emoji: rate x intensity at the peak, mostly the spiking emoji', () => {
    const p = new ReactionPlanner({ baseRatePerSec: 1000, schedule: [six], baseline, random: seededRandom(5) });
    const quiet = p.next(5000, 1000);
    expect(quiet).toHaveLength(1000);
    const peak = p.next(11_000, 1000); // held at intensity 6
    expect(peak).toHaveLength(6000);
    const fire = peak.filter((e) => e === '🔥').length;
    // 5 extra baselines of 🔥 plus 🔥's Zipf share of the baseline one.
    const share = baseline.probabilities()[0]![1];
    expect(fire / 6000).toBeGreaterThan((5 + share) / 6 - 0.02);
    expect(fire / 6000).toBeLessThan((5 + share) / 6 + 0.02);
    expect(quiet.filter((e) => e === '🔥').length / 1000).toBeLessThan(share + 0.05);
    expect(p.next(20_000, 1000)).toHaveLength(1000); // over
  });

  it('rejects a negative rate', () => {
    expect(() => new ReactionPlanner({ baseRatePerSec: -1, schedule: [], baseline, random: Math.random })).toThrow(RangeError);
  });
});
