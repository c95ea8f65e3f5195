import { describe, expect, it } from 'vitest';
import { timeRange } from '../../src/web/public/lib/series.js';

describe('timeRange (dashboard x scale, seconds)', () => {
  const nowSec = 1_795_597_754;
  it('one window: a short span ending after it, never uPlot\'s 86.4 M seconds', () => {
    expect(timeRange([nowSec], { padSec: 2, minSpanSec: 20, nowSec })).toEqual([nowSec + 2 - 20, nowSec + 2]);
  });
  it('many windows: from the first to the end of the last', () => {
    const xs = Array.from({ length: 30 }, (_, i) => nowSec - 58 + 2 * i);
    expect(timeRange(xs, { padSec: 2, minSpanSec: 20, nowSec })).toEqual([nowSec - 58, nowSec + 2]);
  });
  it('no points: the minute up to now', () => {
    expect(timeRange([], { nowSec })).toEqual([nowSec - 60, nowSec]);
  });
});
