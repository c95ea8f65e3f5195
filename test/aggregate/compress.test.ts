import { describe, expect, it } from 'vitest';
import { compressWindow } from '../../src/aggregate/compress.js';
import { catalog, countsArray, valenceCenti } from '../../helpers/fixtures.js';

const rules = { unitScale: 1000, topN: 3 };

describe('compressWindow', () => {
  it('counts exactly, scales units with ceil for the top-N and weighs sentiment', () => {
    const counts = { '🔥': 2500, '😂': 1000, '😢': 1001, '👍': 1 };
    const a = compressWindow(catalog, rules, 'm1', 4000, 6000, countsArray(counts));
    expect(a).toEqual({
      matchId: 'm1',
      windowStart: 4000,
      windowEnd: 6000,
      counts,
      units: { '🔥': 3, '😢': 2, '😂': 1 },
      total: 4502,
      sentiment:
        (2500 * valenceCenti('🔥') + 1000 * valenceCenti('😂') + 1001 * valenceCenti('😢') + 1 * valenceCenti('👍')) / (100 * 4502),
    });
  });

  it('breaks count ties by catalog order, deterministically', () => {
    // Same count for four emojis: the three earliest in schemas/emojis.json win.
    const order = catalog.entries.slice(0, 5).map((e) => e.emoji);
    const counts = { [order[4]!]: 7, [order[2]!]: 7, [order[3]!]: 7, [order[1]!]: 7 };
    const a = compressWindow(catalog, rules, 'm', 0, 2000, countsArray(counts));
    expect(Object.keys(a.units).sort()).toEqual([order[1]!, order[2]!, order[3]!].sort());
    expect(a.units[order[4]!]).toBeUndefined();
  });

  it('keeps fewer than N units when fewer emojis were used', () => {
    const a = compressWindow(catalog, { unitScale: 10, topN: 8 }, 'm', 0, 2000, countsArray({ '🎉': 11 }));
    expect(a.units).toEqual({ '🎉': 2 });
    expect(a.sentiment).toBe(valenceCenti('🎉') / 100);
  });
});
