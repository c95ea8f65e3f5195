import { EventEmitter } from 'eventemitter3';
import { withToken, type ConnectionState, type LiveMessage, type ReplayServerMessage, type ReplayStateMessage, type TokenSource, type WebSocketCtor, type WebSocketLike } from './types.js';

export interface ReplayOptions {
  wsUrl: string;
  matchId: string;
  WebSocket: WebSocketCtor;
  /** Where to start: ms since the match start (`offset`, default 0) or since the epoch (`at`). */
  offset?: number;
  at?: number;
  /** Playback rate (the server accepts 0.1..64); 1 is in step with a video at normal speed. */
  speed?: number;
  reconnectMs: number;
  clock: () => number;
  /** A function is called again before each reconnection (a viewer token may have been renewed). */
  token?: TokenSource;
}

export interface ReplayEvents {
  /** The archived windows, as the live feed delivered them: a `snapshot` after each start or seek, then `update`s. */
  update: (msg: LiveMessage) => void;
  /** The playhead as the server sees it: after the start, each seek, pause and play, and at the end. */
  replay: (msg: ReplayStateMessage) => void;
  state: (state: ConnectionState, info?: { code?: number; reason?: string }) => void;
  error: (err: unknown) => void;
}

/**
 * A replay of an archived match, paced by the server from a playhead, for an overlay that follows
 * a video on demand: `seek()` when the viewer jumps, `pause()`/`play()` with the player. A dropped
 * connection is opened again at the playhead the replay had reached.
 */
export class ReplaySubscription extends EventEmitter<ReplayEvents> {
  #socket: WebSocketLike | undefined;
  #state: ConnectionState = 'disconnected';
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** The last replay state and when it came: the playhead between messages is extrapolated from it. */
  #last: { msg: ReplayStateMessage; at: number } | undefined;
  #start: { offset: number } | { at: number };

  constructor(private readonly o: ReplayOptions) {
    super();
    this.#start = o.at !== undefined ? { at: o.at } : { offset: o.offset ?? 0 };
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The playhead now, ms since the epoch (undefined until the server has told it). */
  get position(): number | undefined {
    if (!this.#last) return undefined;
    const { msg, at } = this.#last;
    return msg.state === 'playing' ? Math.min(msg.matchEnd, msg.position + (this.o.clock() - at) * msg.speed) : msg.position;
  }

  /** The match's span, once known. */
  get match(): { start: number; end: number } | undefined {
    return this.#last && { start: this.#last.msg.matchStart, end: this.#last.msg.matchEnd };
  }

  open(): this {
    this.#connect();
    return this;
  }

  seek(to: { offset: number } | { at: number }): void {
    this.#start = to;
    this.#send({ type: 'seek', ...to });
  }

  pause(): void {
    this.#send({ type: 'pause' });
  }

  play(): void {
    this.#send({ type: 'play' });
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#socket?.close(1000, 'closed by client');
    this.#setState('closed');
  }

  #send(msg: object): void {
    if (this.#socket && this.#socket.readyState === 1) this.#socket.send(JSON.stringify(msg));
  }

  #setState(s: ConnectionState, info?: { code?: number; reason?: string }): void {
    if (this.#state === s) return;
    this.#state = s;
    this.emit('state', s, info);
  }

  #url(token: string | undefined): string {
    const q = new URLSearchParams({ matchId: this.o.matchId });
    if ('at' in this.#start) q.set('at', String(Math.round(this.#start.at)));
    else q.set('offset', String(Math.round(this.#start.offset)));
    if (this.o.speed !== undefined) q.set('speed', String(this.o.speed));
    if (token) q.set('token', token);
    return `${this.o.wsUrl}/v1/replay?${q.toString()}`;
  }

  #connect(): void {
    if (this.#closed) return;
    this.#setState('connecting');
    withToken(this.o.token, (t) => this.#open(t), (err) => {
      this.emit('error', err);
      this.#retry();
    });
  }

  #open(token: string | undefined): void {
    if (this.#closed) return;
    let socket: WebSocketLike;
    try {
      socket = new this.o.WebSocket(this.#url(token));
    } catch (err) {
      this.emit('error', err);
      this.#retry();
      return;
    }
    this.#socket = socket;
    socket.onopen = () => this.#setState('connected');
    socket.onerror = (ev) => this.emit('error', ev);
    socket.onmessage = (ev) => {
      let msg: ReplayServerMessage;
      try {
        msg = JSON.parse(typeof ev.data === 'string' ? ev.data : String(ev.data)) as ReplayServerMessage;
      } catch (err) {
        this.emit('error', err);
        return;
      }
      if (msg.type === 'replay') {
        this.#last = { msg, at: this.o.clock() };
        this.emit('replay', msg);
      } else if (msg.type === 'snapshot' || msg.type === 'update') {
        this.emit('update', msg);
      }
    };
    socket.onclose = (ev) => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      if (this.#closed) return;
      this.#setState('disconnected', ev);
      // 4xxx: the request itself is wrong (bad frame); reconnecting unchanged cannot help.
      if (ev.code >= 4400 && ev.code < 4500) return;
      // Back at the playhead the replay had reached, unless it had ended.
      const pos = this.position;
      if (pos !== undefined && this.#last?.msg.state !== 'ended') this.#start = { at: pos };
      this.#retry();
    };
  }

  #retry(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#connect(), this.o.reconnectMs);
  }
}
