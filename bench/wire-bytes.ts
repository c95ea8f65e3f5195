// Bytes on the wire per live update per client, for each profile (json, compact, and each with
// permessage-deflate as it would be negotiated for compress-once: server_no_context_takeover) and
// transport (ws, sse), over a realistic mix of 2 to 16 emojis per window. Every figure is the
// bytes the fan-out's own encoders produce (EncodedUpdate: the shared WebSocket frame, the SSE
// event), plus for SSE the chunked transfer coding Node adds to each write. TCP/IP headers are not
// counted (the same per write for every profile). Run alone: `node --import tsx bench/wire-bytes.ts`.
import { deflateRawSync, constants as zlib } from 'node:zlib';
import { EmojiCatalog } from '../src/domain/catalog.js';
import { EmojiIndex, EncodedUpdate, type LiveFormat } from '../src/fanout/session.js';
import type { LiveUpdate } from '../src/domain/types.js';

export const MATCH_HOURS = 3.5;
export const UPDATE_EVERY_SEC = 2;
const UPDATES_PER_MATCH = (MATCH_HOURS * 3600) / UPDATE_EVERY_SEC;

/** A small deterministic generator, so every run measures the same mix. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Windows as the aggregator emits them: 2-16 distinct emojis (uniform), counts falling off as a
 * power law from the favourite, totals log-uniform between 50 and 200k reactions per window, units
 * for the top 8 (unitScale 1000, as schemas/aggregation.json), the sentiment a full double, viewers
 * log-uniform up to 2M, consecutive seqs near today's (900M+).
 */
export function windowMix(n = 2000, seed = 42): LiveUpdate[] {
  const rnd = lcg(seed);
  const catalog = EmojiCatalog.load();
  const out: LiveUpdate[] = [];
  const seq0 = 900_000_000;
  for (let w = 0; w < n; w++) {
    const k = 2 + Math.floor(rnd() * 15);
    const pool = [...catalog.entries];
    const picked = Array.from({ length: k }, () => pool.splice(Math.floor(rnd() * pool.length), 1)[0]!);
    const total0 = Math.round(50 * Math.exp(rnd() * Math.log(200_000 / 50)));
    const weights = picked.map((_, i) => 1 / (i + 1) ** 1.2);
    const wsum = weights.reduce((a, b) => a + b, 0);
    const counts: Record<string, number> = {};
    let total = 0;
    let valence = 0;
    picked.forEach((e, i) => {
      const c = Math.max(1, Math.round((total0 * weights[i]!) / wsum));
      counts[e.emoji] = c;
      total += c;
      valence += c * e.valenceCenti;
    });
    const units: Record<string, number> = {};
    for (const [e, c] of Object.entries(counts).sort((a, b) => b[1] - a[1]).slice(0, 8)) units[e] = Math.ceil(c / 1000);
    const seq = seq0 + w;
    out.push({ matchId: 'match-2026-final', seq, prevSeq: seq - 1, epoch: '3f2a9c1d', windowStart: seq * 2000, windowEnd: seq * 2000 + 2000, counts, units, total, sentiment: valence / total / 100 });
  }
  return out;
}

/** permessage-deflate of one message without context takeover: deflate, sync flush, drop 00 00 ff ff (RFC 7692). */
function deflated(payload: Buffer): number {
  const z = deflateRawSync(payload, { finishFlush: zlib.Z_SYNC_FLUSH });
  return z.length - 4;
}
const wsHeader = (len: number) => (len < 126 ? 2 : len < 65536 ? 4 : 10);
/** Node's chunked transfer coding around each res.write: hex length, CRLF, data, CRLF. */
const chunked = (len: number) => len.toString(16).length + 4 + len;

export interface WireRow {
  profile: string;
  transport: 'ws' | 'sse';
  payloadP50: number;
  wireP50: number;
  wireMax: number;
  wireMean: number;
  mbPerViewerPerMatch: number;
  vsJsonWs: number;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

export function wireBytes(n = 2000): { rows: WireRow[]; windows: number } {
  const catalog = EmojiCatalog.load();
  const index = new EmojiIndex(catalog.entries.map((e) => e.emoji));
  const mix = windowMix(n);
  type Case = { profile: string; transport: 'ws' | 'sse'; sizes: (e: EncodedUpdate) => [payload: number, wire: number] };
  const ws = (format: LiveFormat, deflate: boolean): Case['sizes'] => (e) => {
    const f = e.wsFrame(format, false);
    const payload = deflate ? deflated(f.payload) : f.payload.length;
    return [payload, payload + wsHeader(payload)];
  };
  const sse = (format: LiveFormat): Case['sizes'] => (e) => {
    const b = e.sseEvent(format, false);
    return [b.length, chunked(b.length)];
  };
  // The alternative considered for the compact profile: the same fields as a JSON array of numbers
  // ([flags, seq, viewers, total, sentiment x 100, [units x emojis + index, ...]]), in a text frame.
  const compactJson: Case['sizes'] = (e) => {
    const u = e.u;
    const pairs = Object.entries(u.units).map(([emoji, n]) => n * index.emojis.length + index.map.get(emoji)!);
    const payload = Buffer.byteLength(JSON.stringify([0, u.seq, e.viewers, u.total, Math.round(u.sentiment * 100), pairs]));
    return [payload, payload + wsHeader(payload)];
  };
  const cases: Case[] = [
    { profile: 'json', transport: 'ws', sizes: ws('json', false) },
    { profile: 'json+deflate', transport: 'ws', sizes: ws('json', true) },
    { profile: 'compact', transport: 'ws', sizes: ws('compact', false) },
    { profile: 'compact+deflate', transport: 'ws', sizes: ws('compact', true) },
    { profile: 'json', transport: 'sse', sizes: sse('json') },
    { profile: 'compact', transport: 'sse', sizes: sse('compact') },
    { profile: 'compact JSON array (not chosen)', transport: 'ws', sizes: compactJson },
  ];
  const viewers = lcg(7);
  const encoded = mix.map((u) => new EncodedUpdate('update', u, Math.round(Math.exp(viewers() * Math.log(2_000_000))), index));
  const rows: WireRow[] = [];
  let jsonWsMean = 0;
  for (const c of cases) {
    const payload: number[] = [];
    const wire: number[] = [];
    for (const e of encoded) {
      const [p, w] = c.sizes(e);
      payload.push(p);
      wire.push(w);
    }
    const mean = wire.reduce((a, b) => a + b, 0) / wire.length;
    if (c.profile === 'json' && c.transport === 'ws') jsonWsMean = mean;
    rows.push({
      profile: c.profile,
      transport: c.transport,
      payloadP50: pct(payload, 50),
      wireP50: pct(wire, 50),
      wireMax: Math.max(...wire),
      wireMean: +mean.toFixed(1),
      mbPerViewerPerMatch: +((mean * UPDATES_PER_MATCH) / 1e6).toFixed(3),
      vsJsonWs: +(mean / jsonWsMean).toFixed(3),
    });
  }
  return { rows, windows: n };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = wireBytes();
  console.table(r.rows);
  console.log(JSON.stringify(r));
}
