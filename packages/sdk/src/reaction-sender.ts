import { EventEmitter } from 'eventemitter3';
import { fullJitter, retryAfterMs } from './backoff.js';
import { resolveToken, type ApiErrorBody, type ReactionInput, type TokenSource } from './types.js';

export interface SenderOptions {
  baseUrl: string;
  fetch: typeof fetch;
  /** Send when this many reactions wait... */
  batchSize: number;
  /** ...or this long after the first of them. */
  flushMs: number;
  /** Reactions held at most; react() refuses beyond it rather than dropping silently. */
  maxQueue: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /**
   * A POST unanswered this long is given up and retried like a network error (default 15 s): a
   * request a server or a proxy never answers would otherwise hold the sender, and every reaction
   * queued behind it, for good.
   */
  requestTimeoutMs?: number;
  random: () => number;
  headers?: Record<string, string>;
  token?: TokenSource;
  /** Times batching, backoff and flush deadlines (default: Date.now and setTimeout); tests move one by hand. */
  timers?: SenderTimers;
}

/** A clock that also calls back after a delay of its own time. */
export interface SenderTimers {
  now(): number;
  /** Calls `fn` once `ms` have passed; returns the function that cancels it. */
  after(ms: number, fn: () => void): () => void;
}

/** Date.now and setTimeout: what the sender (and any SDK client that paces itself) runs on outside tests. */
export const systemTimers: SenderTimers = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

export interface SenderEvents {
  /** A batch the server took. */
  sent: (accepted: number) => void;
  /** A batch the server will never take (a 4xx other than 429): dropped, with the reason. */
  rejected: (error: ApiErrorBody, reactions: ReactionInput[]) => void;
  /** A retryable failure; the batch stays queued and is sent again after `delayMs`. */
  retry: (info: { status: number | 'network'; delayMs: number; attempt: number }) => void;
}

/**
 * Batches reactions onto POST /v1/reactions/batch. A batch leaves the queue only when the server
 * acknowledged it (202) or refused it for good (4xx); 429/503/network errors keep it at the head and
 * retry with full-jitter backoff, never sooner than Retry-After.
 */
export class ReactionSender extends EventEmitter<SenderEvents> {
  readonly #queue: ReactionInput[] = [];
  /** Cancels the scheduled send, when one is. */
  #timer: (() => void) | undefined;
  readonly #t: SenderTimers;
  #inflight: Promise<void> | undefined;
  #attempt = 0;
  #retryAt = 0;
  #closed = false;

  constructor(private readonly o: SenderOptions) {
    super();
    this.#t = o.timers ?? systemTimers;
  }

  get pending(): number {
    return this.#queue.length;
  }

  /** Queues one reaction; false (nothing queued) when the queue is full: the caller decides. */
  enqueue(r: ReactionInput): boolean {
    if (this.#closed || this.#queue.length >= this.o.maxQueue) return false;
    this.#queue.push(r);
    if (this.#queue.length >= this.o.batchSize) this.#kick(0);
    else this.#kick(this.o.flushMs);
    return true;
  }

  #kick(delayMs: number): void {
    if (this.#inflight) return;
    const wait = Math.max(delayMs, this.#retryAt - this.#t.now());
    if (this.#timer && wait > 0) return;
    this.#timer?.();
    this.#timer = this.#t.after(wait, () => {
      this.#timer = undefined;
      void this.#drain();
    });
  }

  #drain(): Promise<void> {
    this.#inflight ??= this.#sendLoop().finally(() => {
      this.#inflight = undefined;
      if (this.#queue.length > 0 && !this.#closed) this.#kick(this.#queue.length >= this.o.batchSize ? 0 : this.o.flushMs);
    });
    return this.#inflight;
  }

  async #sendLoop(): Promise<void> {
    while (this.#queue.length > 0) {
      const wait = this.#retryAt - this.#t.now();
      if (wait > 0) return this.#kick(wait);
      const batch = this.#queue.slice(0, this.o.batchSize);
      const outcome = await this.#post(batch);
      if (outcome === 'retry') return;
      this.#queue.splice(0, batch.length);
      if (this.#queue.length < this.o.batchSize) return;
    }
  }

  async #post(batch: ReactionInput[]): Promise<'done' | 'retry'> {
    let status: number | 'network' = 'network';
    let retryAfter: number | undefined;
    const abort = new AbortController();
    const cancelTimeout = this.#t.after(this.o.requestTimeoutMs ?? 15_000, () => abort.abort(new Error('request timed out')));
    // A token provider that never answers is bounded by the same timeout as the request.
    const aborted = new Promise<never>((_, reject) => abort.signal.addEventListener('abort', () => reject(abort.signal.reason as Error), { once: true }));
    aborted.catch(() => {});
    try {
      const token = await Promise.race([resolveToken(this.o.token), aborted]);
      const res = await this.o.fetch(`${this.o.baseUrl}/v1/reactions/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.o.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ reactions: batch }),
        signal: abort.signal,
      });
      status = res.status;
      if (res.status === 202) {
        const body = (await res.json()) as { accepted: number };
        this.#attempt = 0;
        this.emit('sent', body.accepted);
        return 'done';
      }
      retryAfter = retryAfterMs(res.headers.get('retry-after'));
      if (res.status !== 429 && res.status < 500) {
        const body = (await res.json().catch(() => ({}))) as ApiErrorBody;
        // An expired token is renewed by the provider: the batch waits for it instead of being lost.
        if (body.code === 'EMO_ERR_TOKEN_EXPIRED' && typeof this.o.token === 'function') throw new TokenExpired();
        this.#attempt = 0;
        this.emit('rejected', body, batch);
        return 'done';
      }
      await res.body?.cancel().catch(() => {});
    } catch (err) {
      if (!(err instanceof TokenExpired)) status = 'network';
    } finally {
      cancelTimeout();
    }
    const delayMs = Math.max(retryAfter ?? 0, fullJitter(this.#attempt, this.o.retryBaseMs, this.o.retryMaxMs, this.o.random));
    this.#attempt++;
    this.#retryAt = this.#t.now() + delayMs;
    this.emit('retry', { status, delayMs, attempt: this.#attempt });
    this.#kick(delayMs);
    return 'retry';
  }

  /** Sends everything queued now; resolves when the queue is empty or `timeoutMs` passed. */
  async flush(timeoutMs = 10_000): Promise<void> {
    const deadline = this.#t.now() + timeoutMs;
    while (this.#queue.length > 0 && this.#t.now() < deadline) {
      if (this.#timer && this.#retryAt <= this.#t.now()) {
        this.#timer();
        this.#timer = undefined;
      }
      if (!this.#timer) await this.#drain();
      else await new Promise<void>((r) => this.#t.after(Math.min(50, Math.max(1, this.#retryAt - this.#t.now())), r));
    }
  }

  async close(timeoutMs = 5000): Promise<void> {
    await this.flush(timeoutMs);
    this.#closed = true;
    this.#timer?.();
    this.#timer = undefined;
  }
}

class TokenExpired extends Error {}
