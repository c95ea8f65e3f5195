import { fromBase64 } from '../../../src/wire/compact.js';
import { retryAfterMs } from './backoff.js';
import type { WebSocketLike } from './types.js';
import { CloseCodes } from '../../../src/wire/close-codes.js';

/** Close code the fan-out uses for "over the connection-rate cap"; the reason is the seconds to wait. */
export const RATE_LIMITED_CLOSE_CODE = CloseCodes.RATE_LIMITED;

/**
 * GET /v1/live/events as a WebSocketLike, so one subscription drives either transport. Built on
 * fetch and a streamed body (browsers and Node 20 alike) rather than EventSource: it reads a 429's
 * Retry-After (EventSource gives up on any non-200 without showing it), and reconnecting stays the
 * subscription's business (its backoff, its resume position). Default events are updates (base64
 * compact bytes on the compact profile, JSON otherwise), named events the JSON control messages.
 */
export class SseConnection implements WebSocketLike {
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  readonly #abort = new AbortController();

  constructor(
    url: string,
    fetchFn: typeof fetch,
    private readonly format: 'json' | 'compact',
  ) {
    void this.#run(url, fetchFn);
  }

  async #run(url: string, fetchFn: typeof fetch): Promise<void> {
    let res: Response;
    try {
      res = await fetchFn(url, { headers: { accept: 'text/event-stream' }, signal: this.#abort.signal });
    } catch (err) {
      if (this.readyState !== 3) this.onerror?.(err);
      return this.#finish(1006, 'fetch failed');
    }
    if (res.status !== 200 || !res.body) {
      const wait = retryAfterMs(res.headers.get('retry-after'));
      void res.body?.cancel().catch(() => {});
      if (res.status === 429 && wait !== undefined) return this.#finish(RATE_LIMITED_CLOSE_CODE, String(wait / 1000));
      // A request the server refuses as malformed will be refused again: the same "don't retry" code as the WebSocket's.
      return this.#finish(res.status === 400 ? 4400 : 1006, `HTTP ${res.status}`);
    }
    this.readyState = 1;
    this.onopen?.({});
    const reader = res.body.getReader();
    const text = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += text.decode(value, { stream: true });
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          this.#dispatch(block);
        }
      }
      this.#finish(1006, 'stream ended');
    } catch (err) {
      if (this.readyState !== 3) this.onerror?.(err);
      this.#finish(1006, 'stream failed');
    }
  }

  #dispatch(block: string): void {
    let event = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data = data === '' ? value : `${data}\n${value}`;
    }
    if (data === '' || this.readyState !== 1) return;
    this.onmessage?.({ data: event === 'message' && this.format === 'compact' ? fromBase64(data) : data });
  }

  #finish(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    const cb = this.onclose;
    this.onclose = null;
    cb?.({ code, reason });
  }

  /** One-way transport: the server's keep-alive comments stand in for pings. */
  send(): void {}

  close(code = 1000, reason = ''): void {
    if (this.readyState === 3) return;
    this.#finish(code, reason);
    this.#abort.abort();
  }
}
