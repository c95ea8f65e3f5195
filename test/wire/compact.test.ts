import { describe, expect, it } from 'vitest';
import { decodeCompact, encodeCompact, fromBase64, toBase64, type CompactContext } from '../../src/wire/compact.js';

const emojis = ['🔥', '😂', '😍', '👏', '🎉', '❤️', '👍', '😮', '😱', '🤔', '😢', '😡', '👎', '🤦', '🏏', '⚽'];
const index = new Map(emojis.map((e, i) => [e, i]));
const ctx = (epoch = 'e1'): CompactContext => ({ matchId: 'm', windowMs: 2000, epoch, emojis });

describe('compact codec', () => {
  it('round-trips every field the profile carries, in the units order', () => {
    const msg = { type: 'update' as const, seq: 900_123_456, prevSeq: 900_123_450, epoch: 'abc-123', units: { '⚽': 400, '🔥': 3, '😂': 1 }, total: 402_345, sentiment: -0.456789, viewers: 10_000_000 };
    for (const withEpoch of [true, false]) {
      const c = ctx(withEpoch ? 'old' : 'abc-123');
      const got = decodeCompact(encodeCompact(msg, withEpoch, index), c);
      expect(got).toEqual({ ...msg, matchId: 'm', windowStart: msg.seq * 2000, windowEnd: msg.seq * 2000 + 2000, counts: {}, sentiment: -0.46 });
      expect(Object.keys(got.units)).toEqual(['⚽', '🔥', '😂']);
      expect(c.epoch).toBe('abc-123'); // a frame that carries the epoch moves the connection's
    }
  });

  it('codes prevSeq seq-1 and -1 in the flags, and snapshots apart from updates', () => {
    const base = { epoch: 'e1', units: {}, total: 0, sentiment: 1, viewers: 0 };
    const a = encodeCompact({ ...base, type: 'snapshot', seq: 5, prevSeq: -1 }, false, index);
    const b = encodeCompact({ ...base, type: 'update', seq: 6, prevSeq: 5 }, false, index);
    expect(decodeCompact(a, ctx())).toMatchObject({ type: 'snapshot', seq: 5, prevSeq: -1, sentiment: 1 });
    expect(decodeCompact(b, ctx())).toMatchObject({ type: 'update', seq: 6, prevSeq: 5 });
    expect(b.length).toBe(5); // flags, seq, viewers, total, sentiment
  });

  it('refuses truncated frames and indexes outside the catalogue with an error, not garbage', () => {
    const full = encodeCompact({ type: 'update', seq: 900_000_000, prevSeq: 1, epoch: 'e1', units: { '🔥': 2 }, total: 300, sentiment: 0, viewers: 1 }, true, index);
    for (let n = 0; n < full.length - 2; n++) expect(() => decodeCompact(full.subarray(0, n), ctx())).toThrow(RangeError);
    expect(() => decodeCompact(full, { ...ctx(), emojis: [] })).toThrow(RangeError);
  });

  it('base64 for SSE round-trips', () => {
    const b = Uint8Array.from([0, 1, 127, 128, 255]);
    expect(fromBase64(toBase64(b))).toEqual(b);
  });
});
