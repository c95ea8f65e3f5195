import { describe, expect, it } from 'vitest';
import { EmojiCatalog } from '../../src/domain/catalog.js';
import { isEmoError } from '../../src/domain/errors.js';
import { catalog } from '../../helpers/fixtures.js';

describe('EmojiCatalog', () => {
  it('loads schemas/emojis.json with integer centi-valences and catalog order', () => {
    expect(catalog.size).toBeGreaterThanOrEqual(8);
    const fire = catalog.get('🔥')!;
    expect(fire.index).toBe(0);
    expect(fire.valenceCenti).toBe(Math.round(fire.valence * 100));
    expect(catalog.has('not-an-emoji')).toBe(false);
    for (const e of catalog.entries) expect(e.valence).toBeGreaterThanOrEqual(-1);
  });

  it('rejects a valence outside [-1, 1] with EMO_ERR_CONFIG', () => {
    expect(() => new EmojiCatalog([{ emoji: 'x', name: 'x', valence: 1.5 }])).toThrowError(/valence must be in/);
  });

  it('rejects a valence with more than two decimals (sentiment must stay exact)', () => {
    try {
      new EmojiCatalog([{ emoji: 'x', name: 'x', valence: 0.123 }]);
      expect.unreachable();
    } catch (err) {
      expect(isEmoError(err, 'CONFIG')).toBe(true);
      expect((err as Error).message).toMatch(/two decimals/);
    }
  });

  it('rejects duplicates', () => {
    expect(() => new EmojiCatalog([{ emoji: 'x', name: 'a', valence: 0 }, { emoji: 'x', name: 'b', valence: 0 }])).toThrowError(/duplicates/);
  });
});
