import { readFileSync } from 'node:fs';
import path from 'node:path';
import { emoError } from './errors.js';
import { schemasDir } from './schemas-dir.js';

export interface CatalogEntry {
  emoji: string;
  name: string;
  /** In [-1, 1], at most two decimals. */
  valence: number;
  /** round(valence * 100): sentiment is summed in exact integers so every aggregator gets the same double. */
  valenceCenti: number;
  /** Position in schemas/emojis.json; breaks ties in top-N. */
  index: number;
}

export class EmojiCatalog {
  readonly entries: readonly CatalogEntry[];
  readonly #byEmoji: Map<string, CatalogEntry>;

  constructor(raw: ReadonlyArray<{ emoji: string; name: string; valence: number }>) {
    const seen = new Set<string>();
    this.entries = raw.map((e, index) => {
      if (typeof e.emoji !== 'string' || e.emoji.length === 0 || typeof e.name !== 'string') {
        throw emoError('CONFIG', `emoji catalog entry ${index} needs an emoji and a name`);
      }
      if (typeof e.valence !== 'number' || !(e.valence >= -1 && e.valence <= 1)) {
        throw emoError('CONFIG', `emoji catalog entry ${index} (${e.name}): valence must be in [-1, 1]`);
      }
      const valenceCenti = Math.round(e.valence * 100);
      if (Math.abs(valenceCenti / 100 - e.valence) > 1e-9) {
        throw emoError('CONFIG', `emoji catalog entry ${index} (${e.name}): valence has more than two decimals`);
      }
      if (seen.has(e.emoji)) throw emoError('CONFIG', `emoji catalog entry ${index} duplicates ${e.emoji}`);
      seen.add(e.emoji);
      return Object.freeze({ emoji: e.emoji, name: e.name, valence: e.valence, valenceCenti, index });
    });
    this.#byEmoji = new Map(this.entries.map((e) => [e.emoji, e]));
  }

  get(emoji: string): CatalogEntry | undefined {
    return this.#byEmoji.get(emoji);
  }

  has(emoji: string): boolean {
    return this.#byEmoji.has(emoji);
  }

  get size(): number {
    return this.entries.length;
  }

  static load(file = path.join(schemasDir(), 'emojis.json')): EmojiCatalog {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (cause) {
      throw emoError('CONFIG', `cannot read emoji catalog ${file}`, { cause });
    }
    const emojis = (parsed as { emojis?: unknown }).emojis;
    if (!Array.isArray(emojis)) throw emoError('CONFIG', `${file}: "emojis" must be an array`);
    return new EmojiCatalog(emojis);
  }
}
