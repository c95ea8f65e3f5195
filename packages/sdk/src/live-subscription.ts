import { EventEmitter } from 'eventemitter3';
import { fullJitter } from './backoff.js';
import { decodeCompact, type CompactContext, type HelloMessage } from '../../../src/wire/compact.js';
import { RATE_LIMITED_CLOSE_CODE, SseConnection } from './sse.js';
import { withToken, type ConnectionState, type GapMessage, type LiveMessage, type TokenSource, type WebSocketCtor, type WebSocketLike } from './types.js';

export interface SubscriptionOptions {
  wsUrl: string;
  matchId: string;
  WebSocket: WebSocketCtor;
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  random: () => number;
  /** Application-level ping, so a dead TCP path is noticed even where the browser hides pings. */
  pingIntervalMs: number;
  /** A function is called again before each reconnection (a viewer token may have been renewed). */
  token?: TokenSource;
  /** json (default): the JSON messages; compact: binary updates (a few dozen bytes each), decoded into the same LiveMessage, whose `counts` is then empty. */
  format?: 'json' | 'compact';
  /** ws (default): WebSocket; sse: Server-Sent Events (GET /v1/live/events), for networks that block upgrades. */
  transport?: 'ws' | 'sse';
  /** The fetch the SSE transport uses (default globalThis.fetch). */
  fetch?: typeof fetch;
}

export interface SubscriptionEvents {
  update: (msg: LiveMessage) => void;
  state: (state: ConnectionState, info?: { code?: number; reason?: string; delayMs?: number }) => void;
  gap: (msg: GapMessage) => void;
  error: (err: unknown) => void;
}

/** Close codes after which reconnecting unchanged cannot help. */
const FATAL_CLOSE = new Set([4400]);

/**
 * One match's live feed. Reconnects with full-jitter backoff and resumes with since/epoch, so
 * updates missed while away are replayed; duplicates (seq already seen in this epoch) are dropped.
 *
 * Every update names the one before it (prevSeq). An update that does not link to the last one
 * delivered reveals a hole: it is held back and the feed resumes from history at once, which either
 * replays what was missed, in order, or answers with a `gap` (history trimmed). A new epoch seen on
 * a live socket is a `gap` too, and the new epoch is checked from its first update (prevSeq -1). So
 * the app sees every update once, in order, or hears of the hole.
 */
export class LiveSubscription extends EventEmitter<SubscriptionEvents> {
  #socket: WebSocketLike | undefined;
  #state: ConnectionState = 'disconnected';
  #attempt = 0;
  #lastSeq = -1;
  #epoch = '';
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ping: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #holes = 0;
  #toldGap = false;
  /** At the start of a new epoch with nothing of it seen yet: its first update must have prevSeq -1. */
  #epochStart = false;
  /** Where the last hole resume started (epoch/lastSeq): a second hole there means history cannot fill it. */
  #resumedAt: string | undefined;
  /** What decoding compact frames needs, from this connection's hello. */
  #compact: CompactContext | undefined;

  constructor(private readonly o: SubscriptionOptions) {
    super();
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  get epoch(): string {
    return this.#epoch;
  }

  /** Holes noticed by prevSeq (each answered by a resume from history). */
  get holes(): number {
    return this.#holes;
  }

  open(): this {
    this.#connect();
    return this;
  }

  #setState(s: ConnectionState, info?: { code?: number; reason?: string; delayMs?: number }): void {
    if (this.#state === s) return;
    this.#state = s;
    this.emit('state', s, info);
  }

  #url(token: string | undefined): string {
    const q = new URLSearchParams({ matchId: this.o.matchId });
    if (token) q.set('token', token);
    if (this.o.format === 'compact') q.set('format', 'compact');
    if (this.#epoch && (this.#lastSeq >= 0 || this.#epochStart)) {
      q.set('since', String(this.#lastSeq));
      q.set('epoch', this.#epoch);
    }
    if (this.o.transport === 'sse') return `${this.o.wsUrl.replace(/^ws/, 'http')}/v1/live/events?${q}`;
    return `${this.o.wsUrl}/v1/live?${q}`;
  }

  #connect(): void {
    if (this.#closed) return;
    this.#setState('connecting');
    withToken(this.o.token, (t) => this.#openSocket(t), (err) => {
      this.emit('error', err);
      this.#scheduleReconnect(1006, 'token provider failed');
    });
  }

  #openSocket(token: string | undefined): void {
    if (this.#closed) return;
    let socket: WebSocketLike;
    this.#compact = undefined;
    try {
      if (this.o.transport === 'sse') {
        const f = this.o.fetch ?? globalThis.fetch?.bind(globalThis);
        if (!f) throw new TypeError('No fetch implementation for the SSE transport');
        socket = new SseConnection(this.#url(token), f, this.o.format ?? 'json');
      } else {
        socket = new this.o.WebSocket(this.#url(token));
        // Binary (compact) frames as ArrayBuffer in browsers (a Blob would need an async read) and in ws.
        (socket as { binaryType?: string }).binaryType = 'arraybuffer';
      }
    } catch (err) {
      this.emit('error', err);
      this.#scheduleReconnect(1006, 'constructor failed');
      return;
    }
    this.#socket = socket;
    socket.onopen = () => {
      this.#attempt = 0;
      this.#setState('connected');
      this.#ping = setInterval(() => {
        if (socket.readyState === 1) socket.send('{"type":"ping"}');
      }, this.o.pingIntervalMs);
    };
    // A socket left behind by reconnect() may still hand over what it had buffered: a hole
    // resume would then see those stale updates as holes again (and reconnect once per update).
    socket.onmessage = (ev) => {
      if (this.#socket === socket) this.#onMessage(ev.data);
    };
    socket.onerror = (err) => this.emit('error', err);
    socket.onclose = (ev) => {
      if (this.#ping) clearInterval(this.#ping);
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      if (this.#closed) return this.#setState('closed');
      if (FATAL_CLOSE.has(ev.code)) {
        this.#closed = true;
        return this.#setState('closed', { code: ev.code, reason: ev.reason });
      }
      this.#scheduleReconnect(ev.code, ev.reason);
    };
  }

  #scheduleReconnect(code: number, reason: string): void {
    let delayMs = fullJitter(this.#attempt++, this.o.reconnectBaseMs, this.o.reconnectMaxMs, this.o.random);
    // Over the node's connection-rate cap: wait at least what it asked (the close reason, in
    // seconds), jitter on top, so a reconnect storm comes back spread out.
    const hint = code === RATE_LIMITED_CLOSE_CODE ? Number(reason) : NaN;
    if (Number.isFinite(hint) && hint > 0) delayMs += Math.min(hint, 600) * 1000;
    this.#setState('disconnected', { code, reason, delayMs });
    this.#timer = setTimeout(() => this.#connect(), delayMs);
  }

  #onMessage(data: unknown): void {
    let msg: LiveMessage | GapMessage | HelloMessage | { type: string };
    try {
      const bytes = asBytes(data);
      if (bytes) {
        if (!this.#compact) throw new Error('compact frame before the hello message');
        msg = decodeCompact(bytes, this.#compact);
      } else msg = JSON.parse(typeof data === 'string' ? data : String(data)) as typeof msg;
    } catch (err) {
      this.emit('error', err);
      return;
    }
    if (msg.type === 'hello') {
      const h = msg as HelloMessage;
      this.#compact = { matchId: this.o.matchId, windowMs: h.windowMs, epoch: h.epoch, emojis: h.emojis };
      return;
    }
    if (msg.type === 'snapshot' || msg.type === 'update') {
      const m = msg as LiveMessage;
      if (m.epoch !== this.#epoch) {
        // The history this feed's seqs belonged to is gone (e.g. Redis lost its data): say so.
        if (this.#epoch !== '' && this.#lastSeq >= 0) {
          this.emit('gap', { type: 'gap', matchId: m.matchId, epoch: m.epoch, since: this.#lastSeq, reason: 'epoch-changed' });
        }
        this.#epoch = m.epoch;
        this.#lastSeq = -1;
        this.#epochStart = true;
      }
      if (m.seq <= this.#lastSeq) return;
      const linked = this.#lastSeq >= 0 || this.#epochStart;
      if (m.type === 'update' && linked && m.prevSeq > this.#lastSeq && !this.#toldGap) {
        const at = `${this.#epoch}/${this.#lastSeq}`;
        if (this.#resumedAt !== at) {
          // Something between lastSeq and this update never arrived: resume from lastSeq instead of
          // delivering past the hole (the replay brings this update too).
          this.#holes++;
          this.#resumedAt = at;
          this.reconnect();
          return;
        }
        // The resume from here came back with the same hole: the server's history cannot fill it.
        // Say so and go on, rather than resuming again and again.
        this.emit('gap', { type: 'gap', matchId: m.matchId, epoch: m.epoch, since: this.#lastSeq, reason: 'history-trimmed' });
      }
      this.#resumedAt = undefined;
      this.#lastSeq = m.seq;
      this.#toldGap = false;
      this.#epochStart = false;
      this.emit('update', m);
    } else if (msg.type === 'gap') {
      const g = msg as GapMessage;
      // An epoch-changed gap for the epoch this feed is already in (it joined the new epoch before
      // its room noticed the change) tells it nothing. Otherwise the new epoch's history follows
      // from its first update and is checked link by link (a resume asks for it from since -1).
      if (g.reason === 'epoch-changed' && g.epoch === this.#epoch) return;
      if (g.reason === 'epoch-changed') {
        this.#epoch = g.epoch;
        this.#lastSeq = -1;
        this.#epochStart = true;
      }
      // Resumed past what the server holds: its snapshot (an older seq) follows and restarts the feed.
      if (g.reason === 'since-ahead') {
        this.#lastSeq = -1;
        this.#epochStart = false;
      }
      // A trimmed history is told: the update after it will not link to lastSeq, and that is expected.
      this.#toldGap = g.reason === 'history-trimmed';
      this.emit('gap', g);
      // A slow-consumer gap means this socket skipped updates: resume from history on a new one.
      if (g.reason === 'slow-consumer') this.reconnect();
    }
  }

  /** Drops the current socket and resumes at once (since/epoch). */
  reconnect(): void {
    const s = this.#socket;
    this.#socket = undefined;
    if (this.#ping) clearInterval(this.#ping);
    s?.close(1000, 'resume');
    if (this.#timer) clearTimeout(this.#timer);
    this.#connect();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#ping) clearInterval(this.#ping);
    const s = this.#socket;
    this.#socket = undefined;
    s?.close(1000, 'client closed');
    this.#setState('closed');
  }
}

/** A binary frame's bytes (ArrayBuffer in browsers, Buffer or ArrayBuffer from ws, Uint8Array from SSE); undefined for text. */
function asBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return undefined;
}
