// The compact profile of the live protocol (/v1/live?format=compact, /v1/live/events?format=compact).
//
// Binary, not compact JSON, because it is measured smaller where it counts (bench:fanout, the
// realistic mix of 2-16 emojis per window): an update is 14-24 bytes of payload (p50 ~20) against
// 45-75 for the tightest JSON array form ([flags,seq,viewers,total,sentiment,[i,u,...]]), and a
// binary frame needs no escaping or number formatting. Over SSE the same bytes travel base64'd.
//
// What the client already knows is not sent: the matchId (it asked for it), the window size and the
// catalogue (a `hello` text message, once per connection), the epoch (sent in a frame only when it
// differs from the last one the client was told), windowStart/windowEnd (seq * windowMs), prevSeq
// when it is seq - 1 (the usual case), and the exact counts (the profile carries the units the
// overlay draws, the total and the sentiment in hundredths: what the pages and dashboard show).
//
// Layout (varint = unsigned LEB128):
//   byte 0   flags: bit0 snapshot (else update); bit1 epoch follows; bits 2-3 prevSeq:
//            0 = seq - 1, 1 = -1 (first of its epoch), 2 = seq - varint
//   varint   seq
//   [varint  seq - prevSeq]                         when bits 2-3 = 2
//   [u8 n, n ASCII bytes]                           the epoch, when bit1
//   varint   viewers
//   varint   total
//   i8       round(sentiment * 100)
//   varint*  units * emojis + index, one per emoji with units, in the order of the JSON `units`
//            (index into the catalogue order of the hello message, which is GET /v1/emojis's)
import type { LiveMessage } from './types.js';

/** Sent once, first, on a compact connection: what decoding the binary updates needs. */
export interface HelloMessage {
  type: 'hello';
  format: 'compact';
  windowMs: number;
  epoch: string;
  /** The catalogue order the updates' indexes refer to. */
  emojis: string[];
}

/** What the decoder of one connection knows; `epoch` follows the frames that carry one. */
export interface CompactContext {
  matchId: string;
  windowMs: number;
  epoch: string;
  emojis: readonly string[];
}

const SNAPSHOT = 1;
const HAS_EPOCH = 2;
const PREV_FOLLOWS = 1;
const PREV_NONE = 1 << 2;
const PREV_DELTA = 2 << 2;
const PREV_MASK = 3 << 2;

export interface CompactInput {
  type: 'snapshot' | 'update';
  seq: number;
  prevSeq: number;
  epoch: string;
  units: Record<string, number>;
  total: number;
  sentiment: number;
  viewers: number;
}

/** The server's side: `emojiIndex` maps an emoji to its catalogue position. */
export function encodeCompact(m: CompactInput, withEpoch: boolean, emojiIndex: ReadonlyMap<string, number>): Uint8Array {
  const out: number[] = [];
  let flags = m.type === 'snapshot' ? SNAPSHOT : 0;
  if (withEpoch) flags |= HAS_EPOCH;
  if (m.prevSeq < 0) flags |= PREV_NONE;
  else if (m.prevSeq !== m.seq - 1) flags |= PREV_DELTA;
  out.push(flags);
  varint(out, m.seq);
  if ((flags & PREV_MASK) === PREV_DELTA) varint(out, m.seq - m.prevSeq);
  if (withEpoch) {
    out.push(m.epoch.length);
    for (let i = 0; i < m.epoch.length; i++) out.push(m.epoch.charCodeAt(i) & 0x7f);
  }
  varint(out, m.viewers);
  varint(out, m.total);
  out.push(Math.max(-100, Math.min(100, Math.round(m.sentiment * 100))) & 0xff);
  const n = emojiIndex.size;
  for (const [emoji, units] of Object.entries(m.units)) {
    const i = emojiIndex.get(emoji);
    if (i === undefined || !(units > 0)) continue;
    varint(out, units * n + i);
  }
  return Uint8Array.from(out);
}

/** The client's side: the same LiveMessage the JSON profile gives, but `counts` is empty (not sent). */
export function decodeCompact(bytes: Uint8Array, ctx: CompactContext): LiveMessage {
  let p = 0;
  const read = (): number => {
    let x = 0;
    let mul = 1;
    for (;;) {
      if (p >= bytes.length) throw new RangeError('compact frame truncated');
      const b = bytes[p++]!;
      x += (b & 0x7f) * mul;
      if (b < 0x80) return x;
      mul *= 128;
      if (mul > 2 ** 56) throw new RangeError('compact varint too long');
    }
  };
  if (bytes.length === 0) throw new RangeError('empty compact frame');
  const flags = bytes[p++]!;
  const seq = read();
  const prev = flags & PREV_MASK;
  const prevSeq = prev === PREV_NONE ? -1 : prev === PREV_DELTA ? seq - read() : seq - 1;
  if (flags & HAS_EPOCH) {
    const len = bytes[p++] ?? 0;
    if (p + len > bytes.length) throw new RangeError('compact frame truncated');
    let e = '';
    for (let i = 0; i < len; i++) e += String.fromCharCode(bytes[p + i]!);
    p += len;
    ctx.epoch = e;
  }
  const viewers = read();
  const total = read();
  if (p >= bytes.length) throw new RangeError('compact frame truncated');
  const s = bytes[p++]!;
  const sentiment = (s > 127 ? s - 256 : s) / 100;
  const units: Record<string, number> = {};
  const n = ctx.emojis.length;
  while (p < bytes.length) {
    const v = read();
    const emoji = ctx.emojis[v % n];
    if (emoji === undefined) throw new RangeError('compact emoji index outside the catalogue');
    units[emoji] = Math.floor(v / n);
  }
  const windowStart = seq * ctx.windowMs;
  return {
    type: flags & SNAPSHOT ? 'snapshot' : 'update',
    matchId: ctx.matchId,
    seq,
    prevSeq,
    epoch: ctx.epoch,
    windowStart,
    windowEnd: windowStart + ctx.windowMs,
    counts: {},
    units,
    total,
    sentiment,
    viewers,
  };
}

function varint(out: number[], x: number): void {
  if (!Number.isSafeInteger(x) || x < 0) throw new RangeError(`not a varint: ${x}`);
  while (x >= 0x80) {
    out.push((x % 128) | 0x80);
    x = Math.floor(x / 128);
  }
  out.push(x);
}

/** Base64 of bytes (SSE carries the compact frames as text), in browsers and Node alike. */
export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return btoa(s);
}

export function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
