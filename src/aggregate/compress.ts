import type { EmojiCatalog } from '../domain/catalog.js';
import type { WindowAggregate } from '../domain/types.js';

export interface CompressionRules {
  unitScale: number;
  topN: number;
}

/**
 * Turns exact per-emoji counts (indexed by catalog position) into the broadcast form: counts,
 * units = ceil(count / scale) for the top-N by count (ties: catalog order), total and sentiment.
 * Sentiment is one division of two exact integers, so Spark and JS produce the same double.
 */
export function compressWindow(
  catalog: EmojiCatalog,
  rules: CompressionRules,
  matchId: string,
  windowStart: number,
  windowEnd: number,
  countsByIndex: ArrayLike<number>,
): WindowAggregate {
  const counts: Record<string, number> = {};
  const present: number[] = [];
  let total = 0;
  let sentimentCenti = 0;
  for (let i = 0; i < catalog.entries.length; i++) {
    const c = countsByIndex[i] ?? 0;
    if (c <= 0) continue;
    const entry = catalog.entries[i]!;
    counts[entry.emoji] = c;
    present.push(i);
    total += c;
    sentimentCenti += c * entry.valenceCenti;
  }
  present.sort((a, b) => (countsByIndex[b]! - countsByIndex[a]!) || a - b);
  const units: Record<string, number> = {};
  for (const i of present.slice(0, rules.topN)) {
    units[catalog.entries[i]!.emoji] = Math.ceil(countsByIndex[i]! / rules.unitScale);
  }
  return {
    matchId,
    windowStart,
    windowEnd,
    counts,
    units,
    total,
    sentiment: total === 0 ? 0 : sentimentCenti / (100 * total),
  };
}
