import { exponential, type Random } from './rng.js';

/** A kind of big moment: what the crowd shouts and how hard. */
export interface MomentKind {
  name: string;
  /** One of these is the spike's emoji. */
  emojis: readonly string[];
  /** Peak rate as a multiple of the baseline rate, [min, max]. */
  intensity: readonly [number, number];
  /** How long the spike lasts, ms, [min, max]. */
  durationMs: readonly [number, number];
  /** Relative frequency among kinds. */
  weight: number;
}

/** Cricket by default (the catalog has 🏏): sixes and wickets are the big ones. */
export const CRICKET_MOMENTS: readonly MomentKind[] = [
  { name: 'SIX', emojis: ['🔥', '🎉'], intensity: [4, 8], durationMs: [3000, 6000], weight: 3 },
  { name: 'FOUR', emojis: ['👏'], intensity: [2, 4], durationMs: [2000, 4000], weight: 4 },
  { name: 'WICKET', emojis: ['😱', '😮'], intensity: [5, 10], durationMs: [3000, 7000], weight: 2 },
  { name: 'DROPPED CATCH', emojis: ['🤦'], intensity: [3, 5], durationMs: [2000, 4000], weight: 1 },
  { name: 'UMPIRE REVIEW', emojis: ['🤔', '😡'], intensity: [2, 3], durationMs: [3000, 5000], weight: 1 },
];

/** One scheduled spike. */
export interface Moment {
  kind: string;
  emoji: string;
  atMs: number;
  durationMs: number;
  /** Peak multiple of the baseline rate (the spike adds intensity - 1 baselines of `emoji`). */
  intensity: number;
}

export interface ScheduleOptions {
  durationMs: number;
  /** Mean gap between moments (a Poisson process), ms. */
  meanGapMs: number;
  random: Random;
  kinds?: readonly MomentKind[];
  /** The first moment comes no sooner than this (let the baseline show first). */
  minFirstMs?: number;
  /** Only emojis the server knows: kinds' emojis outside this set are skipped. */
  catalog?: readonly string[];
}

const between = (random: Random, [lo, hi]: readonly [number, number]): number => lo + (hi - lo) * random();

/** The run's big moments, sorted by time, all starting within [0, durationMs). Pure given `random`. */
export function buildSchedule(o: ScheduleOptions): Moment[] {
  if (!(o.meanGapMs > 0)) throw new RangeError('meanGapMs must be > 0');
  const known = o.catalog ? new Set(o.catalog) : undefined;
  const kinds = (o.kinds ?? CRICKET_MOMENTS)
    .map((k) => ({ ...k, emojis: k.emojis.filter((e) => !known || known.has(e)) }))
    .filter((k) => k.emojis.length > 0 && k.weight > 0);
  if (kinds.length === 0) return [];
  const totalWeight = kinds.reduce((s, k) => s + k.weight, 0);
  const out: Moment[] = [];
  let t = Math.max(o.minFirstMs ?? 2000, 0) + exponential(o.random, o.meanGapMs) / 2;
  while (t < o.durationMs) {
    let u = o.random() * totalWeight;
    const kind = kinds.find((k) => (u -= k.weight) < 0) ?? kinds[kinds.length - 1]!;
    const emoji = kind.emojis[Math.floor(o.random() * kind.emojis.length)]!;
    const durationMs = Math.round(between(o.random, kind.durationMs));
    out.push({ kind: kind.name, emoji, atMs: Math.round(t), durationMs, intensity: Math.round(between(o.random, kind.intensity) * 10) / 10 });
    // Next moment after this one has mostly died down.
    t += durationMs * 0.6 + exponential(o.random, o.meanGapMs);
  }
  return out;
}

const ATTACK_MS = 400;

/**
 * A moment's shape in [0, 1]: a fast rise (the ball goes over the rope), a short hold, then an
 * exponential fade to nothing at the end of the moment. 0 outside it.
 */
export function envelope(m: Moment, tMs: number): number {
  const dt = tMs - m.atMs;
  if (dt < 0 || dt >= m.durationMs) return 0;
  const attack = Math.min(ATTACK_MS, m.durationMs / 4);
  if (dt < attack) return dt / attack;
  const hold = attack + (m.durationMs - attack) * 0.25;
  if (dt < hold) return 1;
  const fade = (dt - hold) / (m.durationMs - hold); // 0..1
  return Math.exp(-4 * fade) * (1 - fade);
}

export interface Intensity {
  /** Total rate as a multiple of the baseline. */
  multiplier: number;
  /** Extra rate per spiking emoji, in baselines. */
  spikes: Array<{ emoji: string; extra: number; kind: string }>;
}

/** Which moments are live at `tMs`, and how strongly. */
export function intensityAt(schedule: readonly Moment[], tMs: number): Intensity {
  const spikes: Intensity['spikes'] = [];
  for (const m of schedule) {
    if (m.atMs > tMs) break;
    const e = envelope(m, tMs);
    if (e > 0) spikes.push({ emoji: m.emoji, extra: (m.intensity - 1) * e, kind: m.kind });
  }
  return { multiplier: 1 + spikes.reduce((s, x) => s + x.extra, 0), spikes };
}
