// The live feed on both profiles (json, compact) and both transports (WebSocket, SSE): the same
// session semantics (snapshot, resume, gap) whatever carries them; compact frames decode to the
// JSON messages minus the exact counts; connection admission per second.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import http from 'node:http';
import net from 'node:net';
import { WebSocket } from 'ws';
import { buildApp } from '../../src/app.js';
import type { Config, DeepPartial } from '../../src/config/config.js';
import { systemClock } from '../../src/ports/clock.js';
import { MemoryBus } from '../../src/adapters/memory/memory-bus.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { decodeCompact, type CompactContext, type HelloMessage } from '../../src/wire/compact.js';
import { SseConnection } from '../../packages/sdk/src/sse.js';
import { LiveSubscription } from '../../packages/sdk/src/live-subscription.js';
import type { LiveMessage, WebSocketCtor, WebSocketLike } from '../../packages/sdk/src/types.js';
import { catalog, silentLogger, testConfig } from '../../helpers/fixtures.js';

let app: FastifyInstance | undefined;
const open: Array<{ close(): void }> = [];
afterEach(async () => {
  for (const s of open.splice(0)) s.close();
  await app?.close();
  app = undefined;
});

const emojis = catalog.entries.map((e) => e.emoji);
/** A window with 8 emojis (the catalogue's top-N), as the aggregator emits it. */
function win(matchId: string, seq: number) {
  const counts: Record<string, number> = {};
  const units: Record<string, number> = {};
  emojis.slice(0, 8).forEach((e, i) => {
    counts[e] = (8 - i) * 700 + seq;
    units[e] = Math.ceil(counts[e] / 1000);
  });
  return { matchId, seq, windowStart: seq * 2000, windowEnd: seq * 2000 + 2000, counts, units, total: Object.values(counts).reduce((a, b) => a + b, 0), sentiment: 0.123456789 * ((seq % 3) - 1) };
}

async function node(config: DeepPartial<Config> = {}, historySize = 100) {
  const bus = new MemoryBus({ historySize });
  app = await buildApp({ config: testConfig(config), catalog, clock: systemClock, metrics: createMetrics(), logger: silentLogger, fanout: { bus, nodeId: 'n1' }, pages: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `127.0.0.1:${(app.server.address() as { port: number }).port}`;
  return { bus, base };
}

type Transport = 'ws' | 'sse';
type Format = 'json' | 'compact';

/** A raw connection of either transport; messages decoded the way a client of that profile reads them. */
function client(base: string, transport: Transport, format: Format, query: string, headers: Record<string, string> = {}) {
  const q = `${query}${format === 'compact' ? '&format=compact' : ''}`;
  const messages: Array<Record<string, unknown>> = [];
  const wireBytes: number[] = [];
  let ctx: CompactContext | undefined;
  const onData = (data: unknown) => {
    if (typeof data === 'string') {
      const m = JSON.parse(data) as Record<string, unknown>;
      if (m.type === 'hello') {
        const h = m as unknown as HelloMessage;
        ctx = { matchId: 'm', windowMs: h.windowMs, epoch: h.epoch, emojis: h.emojis };
      }
      messages.push(m);
    } else {
      const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array);
      wireBytes.push(bytes.length);
      messages.push(decodeCompact(bytes, ctx!) as unknown as Record<string, unknown>);
    }
  };
  let closed: Promise<{ code: number; reason: string }>;
  if (transport === 'ws') {
    const ws = new WebSocket(`ws://${base}/v1/live?${q}`, { headers });
    ws.binaryType = 'arraybuffer';
    ws.on('error', () => {});
    ws.on('message', (d, isBinary) => onData(isBinary ? d : d.toString()));
    closed = new Promise((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
    open.push({ close: () => ws.terminate() });
  } else {
    const f: typeof fetch = (url, init) => fetch(url, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } });
    const s = new SseConnection(`http://${base}/v1/live/events?${q}`, f, format);
    s.onmessage = (ev) => onData(ev.data);
    closed = new Promise((r) => (s.onclose = r));
    open.push({ close: () => s.close() });
  }
  const updates = () => messages.filter((m) => m.type !== 'hello');
  return { messages, updates, wireBytes, closed: () => closed };
}

const view = (m: Record<string, unknown>) => (m.type === 'gap' ? ['gap', m.reason, m.since] : [m.type, m.seq, m.prevSeq, m.epoch]);

for (const transport of ['ws', 'sse'] as const) {
  for (const format of ['json', 'compact'] as const) {
    describe(`live feed over ${transport}, ${format} profile`, () => {
      it('sends the snapshot then each update; compact decodes to the JSON message without counts', async () => {
        const { bus, base } = await node();
        await bus.publish(win('m', 100));
        const c = client(base, transport, format, 'matchId=m');
        await vi.waitFor(() => expect(c.updates()).toHaveLength(1));
        await bus.publish(win('m', 101));
        await bus.publish(win('m', 103)); // a quiet window: prevSeq 101, not seq - 1
        await vi.waitFor(() => expect(c.updates()).toHaveLength(3));
        const epoch = await bus.epoch();
        const got = c.updates();
        for (const [i, seq] of [100, 101, 103].entries()) {
          const w = win('m', seq);
          const expected = { ...w, type: i === 0 ? 'snapshot' : 'update', prevSeq: i === 0 ? -1 : i === 1 ? 100 : 101, epoch, viewers: 1 };
          if (format === 'json') expect(got[i]).toEqual(expected);
          else expect(got[i]).toEqual({ ...expected, counts: {}, sentiment: Math.round(w.sentiment * 100) / 100 });
        }
        if (format === 'compact') {
          expect(c.messages[0]).toMatchObject({ type: 'hello', format: 'compact', windowMs: 2000, epoch, emojis });
          // 8 emojis: flags, seq, viewers, total, sentiment and one byte per emoji.
          expect(Math.max(...c.wireBytes)).toBeLessThanOrEqual(24);
        }
      });

      it('resumes with since/epoch: replay, history-trimmed gap + snapshot, epoch-changed gap + the new epoch from its first', async () => {
        const { bus, base } = await node({}, 3);
        for (const s of [1, 2, 3]) await bus.publish(win('m', s));
        const epoch = await bus.epoch();
        const r = client(base, transport, format, `matchId=m&since=1&epoch=${epoch}`);
        await vi.waitFor(() => expect(r.updates()).toHaveLength(2));
        expect(r.updates().map(view)).toEqual([['update', 2, 1, epoch], ['update', 3, 2, epoch]]);
        for (const s of [4, 5, 6]) await bus.publish(win('m', s));
        await vi.waitFor(() => expect(r.updates()).toHaveLength(5));
        const old = client(base, transport, format, `matchId=m&since=1&epoch=${epoch}`);
        await vi.waitFor(() => expect(old.updates()).toHaveLength(2));
        expect(old.updates().map(view)).toEqual([['gap', 'history-trimmed', 1], ['snapshot', 6, 5, epoch]]);
        const stale = client(base, transport, format, 'matchId=m&since=5&epoch=gone');
        // The new epoch's history no longer starts at its first update (3 kept): its latest follows.
        await vi.waitFor(() => expect(stale.updates()).toHaveLength(2));
        expect(stale.updates().map(view)).toEqual([['gap', 'epoch-changed', 5], ['snapshot', 6, 5, epoch]]);
        const restart = client(base, transport, format, `matchId=m&since=-1&epoch=${epoch}x`);
        await vi.waitFor(() => expect(restart.updates()).toHaveLength(2));
        expect(restart.updates()[0]).toMatchObject({ type: 'gap', reason: 'epoch-changed', epoch });
        const ahead = client(base, transport, format, `matchId=m&since=99&epoch=${epoch}`);
        await vi.waitFor(() => expect(ahead.updates()).toHaveLength(2));
        expect(ahead.updates().map(view)).toEqual([['gap', 'since-ahead', 99], ['snapshot', 6, 5, epoch]]);
      });

      it('the SDK subscription gets the same updates as on JSON, and resumes after a dropped connection without loss or duplicates', async () => {
        const { bus, base } = await node();
        await bus.publish(win('m', 10));
        const sub = new LiveSubscription({
          wsUrl: `ws://${base}`, matchId: 'm', WebSocket: WebSocket as unknown as WebSocketCtor, reconnectBaseMs: 1, reconnectMaxMs: 5,
          random: () => 0.5, pingIntervalMs: 60_000, format, transport,
        });
        open.push(sub);
        const got: LiveMessage[] = [];
        sub.on('update', (m) => got.push(m));
        sub.open();
        await vi.waitFor(() => expect(got).toHaveLength(1));
        await bus.publish(win('m', 11));
        await vi.waitFor(() => expect(got).toHaveLength(2));
        sub.reconnect();
        await bus.publish(win('m', 12));
        await bus.publish(win('m', 13));
        await vi.waitFor(() => expect(got.map((m) => m.seq)).toEqual([10, 11, 12, 13]));
        expect(sub.holes).toBe(0);
        const w = win('m', 13);
        expect(got[3]).toMatchObject({ type: 'update', matchId: 'm', seq: 13, prevSeq: 12, windowStart: w.windowStart, windowEnd: w.windowEnd, units: w.units, total: w.total });
        expect(Object.keys(got[3]!.units)).toEqual(Object.keys(w.units)); // the order the overlay draws in
      });
    });
  }
}

describe('Server-Sent Events specifics', () => {
  it('sends id: epoch.seq, and Last-Event-ID resumes exactly like since/epoch', async () => {
    const { bus, base } = await node();
    for (const s of [1, 2, 3]) await bus.publish(win('m', s));
    const epoch = await bus.epoch();
    const ctrl = new AbortController();
    const res = await fetch(`http://${base}/v1/live/events?matchId=m`, { signal: ctrl.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toMatch(new RegExp(`^id:${epoch}\\.3\\ndata:\\{"type":"snapshot"`));
    ctrl.abort();
    const c = client(base, 'sse', 'compact', 'matchId=m', { 'last-event-id': `${epoch}.1` });
    await vi.waitFor(() => expect(c.updates()).toHaveLength(2));
    expect(c.updates().map(view)).toEqual([['update', 2, 1, epoch], ['update', 3, 2, epoch]]);
    const bad = await fetch(`http://${base}/v1/live/events?matchId=m`, { headers: { 'last-event-id': 'nope' } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'EMO_ERR_VALIDATION' });
  });

  it('a node shuts down at once with an open event stream, an open WebSocket and a connection that never sent a byte', async () => {
    const { bus, base } = await node();
    await bus.publish(win('m', 1));
    const sse = client(base, 'sse', 'json', 'matchId=m');
    const ws = client(base, 'ws', 'json', 'matchId=m');
    await vi.waitFor(() => expect([sse.updates().length, ws.updates().length]).toEqual([1, 1]));
    const [host, port] = base.split(':');
    const silent = net.connect(Number(port), host);
    await new Promise((r) => silent.once('connect', r));
    const silentClosed = new Promise((r) => silent.once('close', r));
    const t0 = Date.now();
    await app!.close();
    app = undefined;
    // Before: close waited for the stream's viewer to leave, and ~60 s for the silent socket.
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect((await ws.closed()).code).toBe(1001);
    await sse.closed();
    await silentClosed;
  });

  it('an event stream outlives the HTTP idle timeout, like an upgraded WebSocket: the heartbeat checks it', async () => {
    // Real time: the idle timer is Node's socket timer, which no injected clock moves.
    const { bus, base } = await node({ http: { connectionTimeoutMs: 200 }, fanout: { pingIntervalMs: 60_000 } });
    const sse = client(base, 'sse', 'json', 'matchId=m');
    const ws = client(base, 'ws', 'json', 'matchId=m');
    await vi.waitFor(async () => expect(await bus.viewers('m')).toBe(2));
    let closed = false;
    void sse.closed().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 700));
    await bus.publish(win('m', 1));
    await vi.waitFor(() => expect([sse.updates().length, ws.updates().length]).toEqual([1, 1]));
    expect(closed).toBe(false);
  });

  it('is refused like the WebSocket: bad query 400, token required when API_TOKENS is set (?token= accepted)', async () => {
    const { base } = await node({ apiTokens: ['secret-token-1'] });
    expect((await fetch(`http://${base}/v1/live/events?matchId=m`)).status).toBe(401);
    expect((await fetch(`http://${base}/v1/live/events?token=secret-token-1`)).status).toBe(400);
    const ctrl = new AbortController();
    const ok = await fetch(`http://${base}/v1/live/events?matchId=m&token=secret-token-1`, { signal: ctrl.signal });
    expect(ok.status).toBe(200);
    ctrl.abort();
  });
});

describe('the slow-consumer policy over SSE', () => {
  it('skips a stream that does not read, without delaying others, then tells it with a slow-consumer gap', async () => {
    const { bus, base } = await node({ fanout: { maxBufferedBytes: 64 * 1024 } });
    const fast = client(base, 'sse', 'json', 'matchId=m');
    // The slow one: a raw request whose response is paused, so the server's socket buffer fills.
    const slowText: string[] = [];
    const slowRes = await new Promise<import('node:http').IncomingMessage>((resolve) => {
      const req = http.get(`http://${base}/v1/live/events?matchId=m`, resolve);
      open.push({ close: () => req.destroy() });
    });
    slowRes.setEncoding('utf8');
    slowRes.on('data', (d: string) => slowText.push(d));
    await vi.waitFor(async () => expect(await bus.viewers('m')).toBe(2));
    slowRes.pause();
    const N = 3000;
    for (let s = 1; s <= N; s++) {
      await bus.publish({ ...win('m', s), counts: { pad: 'x'.repeat(2000) as unknown as number } });
      if (s % 10 === 0) await new Promise((r) => setImmediate(r)); // lets the sockets drain
    }
    await vi.waitFor(() => expect(fast.updates()).toHaveLength(N), { timeout: 15_000 });
    expect(fast.updates().map((m) => m.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    slowRes.resume();
    let next = N;
    await vi.waitFor(async () => {
      await bus.publish(win('m', ++next));
      expect(slowText.join('')).toContain('event:gap');
    }, { timeout: 15_000, interval: 100 });
    const events = slowText.join('').split('\n\n').filter(Boolean);
    const gapAt = events.findIndex((e) => e.startsWith('event:gap'));
    expect(JSON.parse(events[gapAt]!.split('data:')[1]!)).toMatchObject({ type: 'gap', reason: 'slow-consumer', matchId: 'm' });
    // What it got before falling behind came in order, and the gap says where it stopped.
    const seqs = events.slice(0, gapAt).map((e) => Number(/^id:[^.]+\.(\d+)/.exec(e)?.[1]));
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(JSON.parse(events[gapAt]!.split('data:')[1]!).since).toBe(seqs.at(-1));
  });
});

describe('SSE connections and the per-address HTTP socket cap', () => {
  it('an event stream leaves HTTP_MAX_CONNECTIONS_PER_IP as an upgraded socket does; WS_MAX_CONNECTIONS_PER_IP bounds it', async () => {
    const { base } = await node({ http: { maxConnectionsPerIp: 3 }, fanout: { maxConnectionsPerIp: 5 } });
    const ctrls: AbortController[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const c = new AbortController();
      ctrls.push(c);
      open.push({ close: () => c.abort() });
      statuses.push((await fetch(`http://${base}/v1/live/events?matchId=m`, { signal: c.signal })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });
});

describe('compact frames are encoded once per update', () => {
  it('every compact socket of a match gets the same bytes, and JSON sockets the JSON frame', async () => {
    const { bus, base } = await node();
    const frames: Buffer[][] = [[], [], []];
    const sockets = [0, 1, 2].map((i) => {
      const ws = new WebSocket(`ws://${base}/v1/live?matchId=m${i < 2 ? '&format=compact' : ''}`);
      ws.on('message', (d, isBinary) => isBinary && frames[i]!.push(d as Buffer));
      open.push({ close: () => ws.terminate() });
      return new Promise((r) => ws.once('open', r));
    });
    await Promise.all(sockets);
    await vi.waitFor(async () => expect(await bus.viewers('m')).toBe(3));
    for (const s of [1, 2, 3]) await bus.publish(win('m', s));
    await vi.waitFor(() => expect(frames[1]).toHaveLength(3));
    await vi.waitFor(() => expect(frames[0]).toHaveLength(3));
    expect(frames[0]!.map((b) => b.toString('hex'))).toEqual(frames[1]!.map((b) => b.toString('hex')));
    expect(frames[2]).toHaveLength(0);
  });
});

describe('connection admission per second', () => {
  it('closes WebSockets past the per-address rate with 4429 and the seconds to wait; SSE gets 429 + Retry-After', async () => {
    const { base } = await node({ fanout: { admitPerIpPerSec: 2 } });
    // Six at once against a cap of two a second: a second boundary among them still leaves three on one side.
    const cs = [0, 1, 2, 3, 4, 5].map(() => client(base, 'ws', 'json', 'matchId=m'));
    const refused = await Promise.race([Promise.any(cs.map((c) => c.closed())), new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000))]);
    expect(refused?.code).toBe(4429);
    expect(Number(refused?.reason)).toBeGreaterThanOrEqual(1);
    const res = await fetch(`http://${base}/v1/live/events?matchId=m`);
    if (res.status === 200) await res.body?.cancel(); // a new second may have begun; try once more
    const again = res.status === 429 ? res : await fetch(`http://${base}/v1/live/events?matchId=m`).then(async (r) => (r.status === 429 ? r : (await r.body?.cancel(), fetch(`http://${base}/v1/live/events?matchId=m`))));
    expect(again.status).toBe(429);
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await again.json()).toMatchObject({ code: 'EMO_ERR_TOO_MANY_CONNECTIONS' });
  });

  it('caps new connections per node too, whatever the address', async () => {
    const { base } = await node({ fanout: { admitPerSec: 2, admitPerIpPerSec: 1000 } });
    const cs = [0, 1, 2, 3, 4, 5].map(() => client(base, 'ws', 'compact', 'matchId=m'));
    const refused = await Promise.race([Promise.any(cs.map((c) => c.closed())), new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000))]);
    expect(refused?.code).toBe(4429);
  });

  it('the SDK over SSE reads a 429\'s Retry-After and waits at least that long', async () => {
    const { base } = await node({ fanout: { admitPerIpPerSec: 1 } });
    // Three at once against a cap of one a second: at least two fall in the same second.
    const subs = [0, 1, 2].map(() => new LiveSubscription({ wsUrl: `ws://${base}`, matchId: 'm', WebSocket: WebSocket as unknown as WebSocketCtor, reconnectBaseMs: 1, reconnectMaxMs: 5, random: () => 0.5, pingIntervalMs: 60_000, transport: 'sse' }));
    open.push(...subs);
    const infos: Array<{ code?: number; delayMs?: number }> = [];
    for (const sub of subs) sub.on('state', (s, info) => s === 'disconnected' && infos.push(info ?? {}));
    for (const sub of subs) sub.open();
    await vi.waitFor(() => expect(infos.length).toBeGreaterThan(0));
    expect(infos[0]!.code).toBe(4429);
    expect(infos[0]!.delayMs).toBeGreaterThanOrEqual(1000);
  });

  it('the SDK waits at least the server\'s hint before reconnecting', async () => {
    class Refused implements WebSocketLike {
      readyState = 0;
      onopen: ((ev: unknown) => void) | null = null;
      onclose: ((ev: { code: number; reason: string }) => void) | null = null;
      onerror: ((ev: unknown) => void) | null = null;
      onmessage: ((ev: { data: unknown }) => void) | null = null;
      constructor() {
        queueMicrotask(() => this.onclose?.({ code: 4429, reason: '7' }));
      }
      send(): void {}
      close(): void {}
    }
    const sub = new LiveSubscription({ wsUrl: 'ws://x', matchId: 'm', WebSocket: Refused, reconnectBaseMs: 100, reconnectMaxMs: 1000, random: () => 0.5, pingIntervalMs: 60_000 });
    open.push(sub);
    const delays: number[] = [];
    sub.on('state', (s, info) => s === 'disconnected' && delays.push(info!.delayMs!));
    sub.open();
    await vi.waitFor(() => expect(delays).toHaveLength(1));
    expect(delays[0]).toBeGreaterThanOrEqual(7000);
    expect(delays[0]).toBeLessThan(7000 + 1000);
  });
});
