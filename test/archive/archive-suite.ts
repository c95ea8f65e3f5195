import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WindowAggregate } from '../../src/domain/types.js';
import type { WindowArchive } from '../../src/ports/window-archive.js';

export interface ArchiveFactory {
  /** An archive on the adapter's backend; tests use match ids of their own, so one database serves all. */
  open(): Promise<WindowArchive>;
  /** A unique match id. */
  match(prefix: string): string;
}

const T0 = 1_800_000_000_000;
export function win(matchId: string, i: number, counts: Record<string, number>, t0 = T0): WindowAggregate {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const valence: Record<string, number> = { '🔥': 80, '😂': 70, '😢': -60, '😡': -80, '🏏': 30 };
  const sentiment = total === 0 ? 0 : Object.entries(counts).reduce((a, [e, n]) => a + n * (valence[e] ?? 0), 0) / (100 * total);
  const units = Object.fromEntries(Object.entries(counts).map(([e, n]) => [e, Math.ceil(n / 1000)]));
  return { matchId, windowStart: t0 + i * 2000, windowEnd: t0 + i * 2000 + 2000, counts, units, total, sentiment };
}

/**
 * One suite, every adapter: PGlite (embedded) and PostgreSQL must answer the same, since the same
 * routes and the same archive stage run on both.
 */
export function archiveContract(name: string, factory: ArchiveFactory): void {
  describe(`WindowArchive contract: ${name}`, () => {
    let archive: WindowArchive;
    beforeAll(async () => {
      archive = await factory.open();
    });
    afterAll(async () => {
      await archive?.close();
    });

    it('keeps one row per match and window whatever is written again, and reads windows back as written', async () => {
      const m = factory.match('upsert');
      const ws = [win(m, 0, { '🔥': 3, '😂': 1 }), win(m, 1, { '😢': 2 }), win(m, 2, { '🏏': 5 })];
      await archive.upsert(ws);
      // A replay of the same windows, and a batch that holds one window twice.
      await archive.upsert([ws[1]!, ws[0]!, ws[2]!, ws[0]!]);
      await archive.upsert(ws);
      expect(await archive.windows(m, 0, 100)).toEqual(ws);
      expect((await archive.series(m)).map((p) => p.total)).toEqual([4, 2, 5]);
      expect(await archive.windowsAt(m, [ws[2]!.windowStart, ws[0]!.windowStart, 42])).toEqual([ws[0], ws[2]]);
      expect(await archive.windowBefore(m, ws[1]!.windowStart + 1999)).toEqual(ws[1]);
      expect(await archive.windowBefore(m, ws[0]!.windowStart - 1)).toBeUndefined();
      expect(await archive.windows(m, ws[1]!.windowStart, 1)).toEqual([ws[1]]);
    });

    it('bumps the version on every write and retention, never reusing one', async () => {
      const m = factory.match('version');
      expect(await archive.version(m)).toBe(0);
      await archive.upsert([win(m, 0, { '🔥': 1 })]);
      const v1 = await archive.version(m);
      expect(v1).toBeGreaterThan(0);
      await archive.upsert([win(m, 1, { '🔥': 1 })]);
      const v2 = await archive.version(m);
      expect(v2).toBeGreaterThan(v1);
      await archive.upsert([win(factory.match('other'), 0, { '🔥': 1 })]);
      expect(await archive.version(m)).toBe(v2);
    });

    it('downsamples the timeline in the database: counts, totals and total-weighted sentiment per step, paged by `after`', async () => {
      const m = factory.match('timeline');
      const ws = Array.from({ length: 10 }, (_, i) => win(m, i, i % 2 === 0 ? { '🔥': i + 1 } : { '😢': i, '😂': 1 }));
      await archive.upsert(ws);
      const step = 6000; // three windows a step (T0 is a multiple of 6000)
      const points = await archive.timeline(m, { step, limit: 100 });
      expect(points.map((p) => p.t)).toEqual([T0, T0 + 6000, T0 + 12000, T0 + 18000]);
      const expected = [0, 1, 2, 3].map((k) => {
        const part = ws.slice(k * 3, k * 3 + 3);
        const counts: Record<string, number> = {};
        for (const w of part) for (const [e, n] of Object.entries(w.counts)) counts[e] = (counts[e] ?? 0) + n;
        const total = part.reduce((a, w) => a + w.total, 0);
        return { t: T0 + k * step, windows: part.length, total, counts, sentiment: part.reduce((a, w) => a + w.sentiment * w.total, 0) / total };
      });
      for (let k = 0; k < 4; k++) {
        const { sentiment, ...rest } = points[k]!;
        const { sentiment: want, ...wantRest } = expected[k]!;
        expect(rest).toEqual(wantRest);
        expect(sentiment).toBeCloseTo(want, 12);
      }
      const page1 = await archive.timeline(m, { step, limit: 2 });
      const page2 = await archive.timeline(m, { step, limit: 2, after: page1.at(-1)!.t });
      expect([...page1, ...page2]).toEqual(points);
      const ranged = await archive.timeline(m, { step: 2000, from: T0 + 4000, to: T0 + 8000, limit: 100 });
      expect(ranged.map((p) => p.total)).toEqual([ws[2]!.total, ws[3]!.total]);
    });

    it('sums the whole match: windows, span, totals, counts, sentiment and the peak', async () => {
      const m = factory.match('totals');
      expect(await archive.totals(m)).toBeUndefined();
      const ws = [win(m, 0, { '🔥': 2 }), win(m, 5, { '🔥': 10, '😡': 4 }), win(m, 9, { '😂': 14 })];
      await archive.upsert(ws);
      const t = (await archive.totals(m))!;
      expect(t).toMatchObject({ matchId: m, windows: 3, firstWindowStart: T0, lastWindowEnd: T0 + 9 * 2000 + 2000, total: 30, counts: { '🔥': 12, '😡': 4, '😂': 14 } });
      // Equal totals: the earliest is the peak.
      expect(t.peak).toEqual(ws[1]);
      expect(t.sentiment).toBeCloseTo((12 * 80 - 4 * 80 + 14 * 70) / 100 / 30, 12);
    });

    it('learns an emoji it has not stored before', async () => {
      const m = factory.match('emoji');
      const w = win(m, 0, { '⚽': 7, '🤦': 2 });
      await archive.upsert([w]);
      expect(await archive.windows(m, 0, 10)).toEqual([w]);
      expect((await archive.timeline(m, { step: 2000, limit: 10 }))[0]!.counts).toEqual({ '⚽': 7, '🤦': 2 });
    });

    it('retention deletes whole matches whose last window ended before the cutoff, and nothing else', async () => {
      const old = factory.match('old');
      const live = factory.match('live');
      await archive.upsert([win(old, 0, { '🔥': 1 }, 1_000_000_000_000), win(old, 1, { '🔥': 1 }, 1_000_000_000_000)]);
      await archive.upsert([win(live, 0, { '🔥': 1 }, 1_000_000_000_000), win(live, 1, { '🔥': 1 })]);
      const deleted = await archive.deleteMatchesEndedBefore(1_500_000_000_000);
      expect(deleted).toBeGreaterThanOrEqual(2);
      expect(await archive.series(old)).toEqual([]);
      expect(await archive.version(old)).toBe(0);
      expect(await archive.series(live)).toHaveLength(2);
    });
  });
}
