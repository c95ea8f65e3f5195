import { LiveSubscription, type SubscriptionEvents } from './live-subscription.js';
import { ReactionSender, type SenderTimers } from './reaction-sender.js';
import { ReplaySubscription, type ReplayEvents } from './replay-subscription.js';
import type { LiveMessage, TokenSource, WebSocketCtor } from './types.js';

export interface EmoStreamClientOptions {
  /** http(s)://host:port of an API node (and of a fan-out node unless wsUrl is given). */
  baseUrl: string;
  wsUrl?: string;
  userId: string;
  batchSize?: number;
  flushMs?: number;
  maxQueue?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** A reaction batch's POST unanswered this long is retried (ms). */
  requestTimeoutMs?: number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  pingIntervalMs?: number;
  /** Defaults to globalThis.fetch / globalThis.WebSocket; pass `ws`'s WebSocket on Node 20. */
  fetch?: typeof fetch;
  WebSocket?: WebSocketCtor;
  random?: () => number;
  clock?: () => number;
  /** Times the reaction sender's batching, backoff and flush (default: Date.now and setTimeout). */
  timers?: SenderTimers;
  headers?: Record<string, string>;
  /**
   * Token, when the deployment requires one (API_TOKENS, or a viewer JWT): a Bearer header, and
   * ?token= on the WebSocket. A function is called again before each batch and each reconnection.
   */
  token?: TokenSource;
  /** The live profile: json (default) or compact (binary updates of a few dozen bytes; `counts` left empty). */
  format?: 'json' | 'compact';
  /** The live transport: ws (default) or sse (Server-Sent Events, where WebSocket upgrades are blocked). */
  transport?: 'ws' | 'sse';
}

const defaults = {
  batchSize: 100,
  flushMs: 250,
  maxQueue: 50_000,
  retryBaseMs: 200,
  retryMaxMs: 10_000,
  requestTimeoutMs: 15_000,
  reconnectBaseMs: 250,
  reconnectMaxMs: 10_000,
  pingIntervalMs: 20_000,
};

/** The EmoStream client: batched reactions in, live window updates out. Works in browsers and Node. */
export class EmoStreamClient {
  readonly sender: ReactionSender;
  readonly #o: Required<Omit<EmoStreamClientOptions, 'timers' | 'headers' | 'wsUrl' | 'WebSocket' | 'token' | 'format' | 'transport'>> & {
    format: 'json' | 'compact';
    transport: 'ws' | 'sse';
    wsUrl: string;
    WebSocket: WebSocketCtor | undefined;
  };
  readonly #subs = new Set<LiveSubscription | ReplaySubscription>();
  readonly #token: TokenSource | undefined;

  constructor(opts: EmoStreamClientOptions) {
    const base = opts.baseUrl.replace(/\/$/, '');
    this.#o = {
      ...defaults,
      format: 'json',
      transport: 'ws',
      fetch: globalThis.fetch?.bind(globalThis),
      random: Math.random,
      clock: Date.now,
      ...stripUndefined(opts),
      userId: opts.userId,
      baseUrl: base,
      wsUrl: (opts.wsUrl ?? base).replace(/^http/, 'ws').replace(/\/$/, ''),
      WebSocket: opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketCtor }).WebSocket,
    };
    this.sender = new ReactionSender({
      baseUrl: base,
      fetch: this.#o.fetch,
      batchSize: this.#o.batchSize,
      flushMs: this.#o.flushMs,
      maxQueue: this.#o.maxQueue,
      retryBaseMs: this.#o.retryBaseMs,
      retryMaxMs: this.#o.retryMaxMs,
      requestTimeoutMs: this.#o.requestTimeoutMs,
      random: this.#o.random,
      ...(opts.headers ? { headers: opts.headers } : {}),
      ...(opts.token ? { token: opts.token } : {}),
      ...(opts.timers ? { timers: opts.timers } : {}),
    });
    this.#token = opts.token;
  }

  /** Queues a reaction (sent batched). Returns false when the queue is full: nothing is dropped silently. */
  react(matchId: string, emoji: string, ts: number = this.#o.clock()): boolean {
    return this.sender.enqueue({ matchId, userId: this.#o.userId, emoji, ts });
  }

  flush(timeoutMs?: number): Promise<void> {
    return this.sender.flush(timeoutMs);
  }

  subscribe(matchId: string, onUpdate: (msg: LiveMessage) => void, on: Partial<SubscriptionEvents> = {}): LiveSubscription {
    if (!this.#o.WebSocket && this.#o.transport === 'ws') throw new TypeError('No WebSocket implementation: pass options.WebSocket (e.g. the `ws` package on Node 20)');
    const sub = new LiveSubscription({
      wsUrl: this.#o.wsUrl,
      matchId,
      WebSocket: this.#o.WebSocket ?? unavailable,
      format: this.#o.format,
      transport: this.#o.transport,
      fetch: this.#o.fetch,
      reconnectBaseMs: this.#o.reconnectBaseMs,
      reconnectMaxMs: this.#o.reconnectMaxMs,
      random: this.#o.random,
      pingIntervalMs: this.#o.pingIntervalMs,
      ...(this.#token ? { token: this.#token } : {}),
    });
    sub.on('update', onUpdate);
    for (const [ev, fn] of Object.entries(on)) sub.on(ev as keyof SubscriptionEvents, fn as never);
    this.#subs.add(sub);
    sub.on('state', (s) => s === 'closed' && this.#subs.delete(sub));
    return sub.open();
  }

  /**
   * Replays an archived match from a playhead, paced in real time (× `speed`): the overlay of a
   * video on demand. `offset` is ms since the match start, `at` ms since the epoch; seek(), pause()
   * and play() on the returned subscription follow the video player.
   */
  replay(
    matchId: string,
    onUpdate: (msg: LiveMessage) => void,
    opts: { offset?: number; at?: number; speed?: number; on?: Partial<ReplayEvents> } = {},
  ): ReplaySubscription {
    if (!this.#o.WebSocket) throw new TypeError('No WebSocket implementation: pass options.WebSocket (e.g. the `ws` package on Node 20)');
    const sub = new ReplaySubscription({
      wsUrl: this.#o.wsUrl,
      matchId,
      WebSocket: this.#o.WebSocket,
      reconnectMs: this.#o.reconnectBaseMs,
      clock: this.#o.clock,
      ...(opts.offset !== undefined ? { offset: opts.offset } : {}),
      ...(opts.at !== undefined ? { at: opts.at } : {}),
      ...(opts.speed !== undefined ? { speed: opts.speed } : {}),
      ...(this.#token ? { token: this.#token } : {}),
    });
    sub.on('update', onUpdate);
    for (const [ev, fn] of Object.entries(opts.on ?? {})) sub.on(ev as keyof ReplayEvents, fn as never);
    this.#subs.add(sub);
    sub.on('state', (s) => s === 'closed' && this.#subs.delete(sub));
    return sub.open();
  }

  async close(timeoutMs = 5000): Promise<void> {
    for (const s of this.#subs) s.close();
    await this.sender.close(timeoutMs);
  }
}

const unavailable = class {
  constructor() {
    throw new TypeError('No WebSocket implementation');
  }
} as unknown as WebSocketCtor;

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
