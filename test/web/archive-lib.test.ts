// The pages' archive helpers (plain ES modules served to browsers), tested in Node.
import { describe, expect, it } from 'vitest';
import { chooseStep, formatOffset, loadMatch, needsSeek, parsePlayheadMessage, playheadOptions } from '../../src/web/public/lib/archive.js';

describe('archive helpers for the pages', () => {
  it('chooses a whole number of windows per point, about `target` points a match', () => {
    expect(chooseStep(12_600_000, 2000, 600)).toBe(22_000); // 3.5 h: 6300 windows, 11 a point
    expect(chooseStep(60_000, 2000, 600)).toBe(2000);
    expect(chooseStep(0, 2000)).toBe(2000);
  });

  it('formats offsets into the match as a video player does', () => {
    expect(formatOffset(4_360_000)).toBe('1:12:40');
    expect(formatOffset(1_800_000)).toBe('30:00');
    expect(formatOffset(5_000)).toBe('0:05');
    expect(formatOffset(-5)).toBe('0:00');
  });

  it('reads the playhead from the query: playhead (offset), at (epoch ms), speed clamped; live without one', () => {
    expect(playheadOptions('matchId=m')).toEqual({ replay: false, speed: 1 });
    expect(playheadOptions('playhead=4360000')).toEqual({ replay: true, speed: 1, offset: 4_360_000 });
    expect(playheadOptions('at=1800000004000&speed=2')).toEqual({ replay: true, speed: 2, at: 1_800_000_004_000 });
    expect(playheadOptions('replay=1&speed=999')).toEqual({ replay: true, speed: 64, offset: 0 });
    expect(playheadOptions('playhead=abc')).toEqual({ replay: false, speed: 1 });
    expect(playheadOptions('playhead=-5')).toMatchObject({ offset: 0 });
  });

  it('takes only well-formed playhead messages from the embedder', () => {
    expect(parsePlayheadMessage({ type: 'emostream:playhead', offset: 1000, playing: true })).toEqual({ offset: 1000, playing: true });
    expect(parsePlayheadMessage({ type: 'emostream:playhead', at: 5, offset: 7 })).toEqual({ at: 5 });
    expect(parsePlayheadMessage({ type: 'emostream:playhead', playing: false })).toEqual({ playing: false });
    for (const bad of [null, 'x', { type: 'other', offset: 1 }, { type: 'emostream:playhead' }, { type: 'emostream:playhead', offset: 'soon' }]) expect(parsePlayheadMessage(bad)).toBeNull();
  });

  it('seeks only past the drift tolerance', () => {
    expect(needsSeek(undefined, 10)).toBe(true);
    expect(needsSeek(10_000, 11_000)).toBe(false);
    expect(needsSeek(10_000, 12_000)).toBe(true);
  });

  it('loads a whole match through every timeline page, or nothing for an unarchived one', async () => {
    const calls: string[] = [];
    const reply = (status: number, body: unknown) => ({ ok: status < 400, status, json: async () => body });
    const fetchFn = async (url: string) => {
      calls.push(url);
      if (url.includes('nobody')) return reply(404, { code: 'EMO_ERR_MATCH_NOT_ARCHIVED' });
      if (url.endsWith('/summary')) return reply(200, { durationMs: 12_600_000, windowMs: 2000 });
      if (url.includes('/moments')) return reply(200, { moments: [{ offsetMs: 1 }] });
      const page = url.includes('cursor=c1') ? 2 : 1;
      return reply(200, { points: [{ t: page }], nextCursor: page === 1 ? 'c1' : null });
    };
    const m = await loadMatch(fetchFn, 'm1');
    expect(m).toMatchObject({ step: 22_000, points: [{ t: 1 }, { t: 2 }], moments: [{ offsetMs: 1 }] });
    expect(calls).toEqual(['/v1/matches/m1/summary', '/v1/matches/m1/timeline?step=22000&limit=1000', '/v1/matches/m1/timeline?step=22000&limit=1000&cursor=c1', '/v1/matches/m1/moments?top=10']);
    expect(await loadMatch(fetchFn, 'nobody')).toBeUndefined();
    expect(await loadMatch(fetchFn, 'bad id')).toBeUndefined();
  });
});
