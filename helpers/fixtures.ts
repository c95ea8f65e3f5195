import { pino } from 'pino';
import { EmojiCatalog } from '../src/domain/catalog.js';
import { loadConfig, type Config, type DeepPartial } from '../src/config/config.js';

export const catalog = EmojiCatalog.load();
export const silentLogger = pino({ level: 'silent' });

/** The real config loader, over an empty environment, with test overrides. */
export function testConfig(overrides: DeepPartial<Config> = {}): Config {
  return loadConfig({}, { port: 0, ...overrides });
}

/** Index-aligned counts array from an { emoji: n } map. */
export function countsArray(counts: Record<string, number>): number[] {
  const arr = new Array<number>(catalog.size).fill(0);
  for (const [emoji, n] of Object.entries(counts)) arr[catalog.get(emoji)!.index] = n;
  return arr;
}

export function valenceCenti(emoji: string): number {
  return catalog.get(emoji)!.valenceCenti;
}
