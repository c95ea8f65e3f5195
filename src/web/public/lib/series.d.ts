export interface WindowUpdate {
  epoch: string;
  seq: number;
  prevSeq: number;
  windowStart: number;
  windowEnd: number;
  total: number;
  sentiment: number;
  counts: Record<string, number>;
}
export class WindowSeries {
  constructor(limit?: number);
  readonly limit: number;
  epoch: string;
  lastSeq: number;
  /** Window length of the updates seen, seconds (0 before the first). */
  windowSec: number;
  xs: number[];
  totals: Array<number | null>;
  sentiments: Array<number | null>;
  counts: Array<Record<string, number>>;
  clear(): void;
  add(u: WindowUpdate): boolean;
  readonly points: number;
  topEmojis(n?: number, k?: number): Array<[string, number]>;
}
export function timeRange(xs: ArrayLike<number>, o: { padSec?: number; minSpanSec?: number; nowSec: number }): [number, number];
