import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { ReplayClientMessage, ReplayServerMessage } from '../wire/types.js';
import { emoError, isEmoError } from '../domain/errors.js';
import type { WindowAggregate } from '../domain/types.js';
import { seqFor } from '../domain/windows.js';
import type { WindowArchive } from '../ports/window-archive.js';
import { authorizeMatch, type Authenticator } from '../auth/auth.js';
import { ReplayQuery } from './schemas.js';
import { CloseCodes } from '../wire/close-codes.js';
import { backgroundTimerClock, type TimerClock } from '../ports/clock.js';

export interface ReplayRouteOptions {
  store: WindowArchive;
  windowMs: number;
  maxConnections: number;
  /** The same identity as the live route: a viewer token (?token= for browsers), scoped to its matches. */
  auth?: Authenticator | undefined;
  /** Wall clock (tests drive it); `clock.now` when not given. */
  now?: () => number;
  /** Paces the replays: the playhead's time and the wait for each window's end (default: Date.now and unref'd setTimeout). */
  clock?: TimerClock;
}

/** Names the replay's history in the `epoch` field of its updates: never a live epoch. */
export const REPLAY_EPOCH = 'replay';
const CHUNK = 200;

/**
 * GET /v1/replay?matchId=M[&offset=MS|&at=EPOCH_MS][&speed=X]: the archived windows of a match,
 * paced in real time from a playhead, as the live protocol's messages. A window is sent when the
 * playhead reaches its end (a live viewer got it when it closed); after a start or a seek the
 * window showing at the playhead comes first as a `snapshot`. `prevSeq` links each window to the
 * archived one before it, as live: the same updates, in the same order, with the same seqs.
 */
export async function replayRoute(app: FastifyInstance, o: ReplayRouteOptions): Promise<void> {
  const sockets = new Set<WebSocket>();
  const base = o.clock ?? backgroundTimerClock;
  const clock: TimerClock = o.now ? { now: o.now, after: (ms, fn) => base.after(ms, fn) } : base;
  app.addHook('onClose', async () => {
    for (const s of sockets) s.close(CloseCodes.GOING_AWAY, 'server shutting down');
  });

  const admit = async (req: FastifyRequest<{ Querystring: ReplayQuery }>) => {
    if (sockets.size >= o.maxConnections) throw emoError('NODE_FULL', 'This node holds its maximum of replay connections', { retryAfterSec: 1 });
    const q = req.query;
    try {
      if ((await o.store.version(q.matchId)) === 0) throw emoError('MATCH_NOT_ARCHIVED', `The archive holds no window of match ${q.matchId}`);
    } catch (err) {
      if (isEmoError(err)) throw err;
      throw emoError('ARCHIVE_UNAVAILABLE', undefined, { cause: err, retryAfterSec: 1 });
    }
  };

  app.route<{ Querystring: ReplayQuery }>({
    method: 'GET',
    url: '/v1/replay',
    schema: { querystring: ReplayQuery },
    ...(o.auth ? { onRequest: o.auth.guard(true) } : {}),
    preValidation: async (req) => {
      authorizeMatch(o.auth?.identity(req), req.query.matchId);
      await admit(req);
    },
    // A plain GET (no upgrade) is a client that does not speak WebSocket: say so, as /v1/live does.
    handler: async (_req, reply) => {
      reply.header('upgrade', 'websocket');
      throw emoError('UPGRADE_REQUIRED');
    },
    wsHandler: (socket, req) => {
      sockets.add(socket);
      const q = req.query;
      // Any rate the document allows is played: the server's range bounds it (0.1..64).
      const speed = q.speed === undefined ? 1 : Math.min(64, Math.max(0.1, Number(q.speed)));
      const player = new Player(socket, o.store, q.matchId, o.windowMs, speed, clock, (err) => {
        req.log.warn({ err, matchId: q.matchId }, 'replay failed');
        socket.close(CloseCodes.INTERNAL_ERROR, 'replay failed');
      });
      socket.on('message', (data, isBinary) => {
        const msg = isBinary ? null : parseReplayMessage(data.toString());
        if (!msg) {
          socket.close(CloseCodes.MALFORMED_FRAME, 'malformed frame');
          return;
        }
        if (msg.type === 'ping') player.send({ type: 'pong' });
        else if (msg.type === 'pause') player.pause();
        else if (msg.type === 'play') player.play();
        else player.seek(msg.at !== undefined ? { at: msg.at } : { offset: msg.offset ?? 0 });
      });
      socket.on('close', () => {
        sockets.delete(socket);
        player.stop();
      });
      socket.on('error', (err) => req.log.debug({ err }, 'replay websocket error'));
      // `at` wins over `offset` when both are given (documented).
      player.seek(q.at !== undefined ? { at: Number(q.at) } : { offset: q.offset === undefined ? 0 : Number(q.offset) });
    },
  });
}

export function parseReplayMessage(data: string): ReplayClientMessage | null {
  try {
    const m = JSON.parse(data) as Record<string, unknown>;
    if (!m || typeof m !== 'object') return null;
    if (m.type === 'ping' || m.type === 'pause' || m.type === 'play') return { type: m.type };
    if (m.type === 'seek') {
      const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
      if (num(m.at)) return { type: 'seek', at: m.at as number };
      if (num(m.offset)) return { type: 'seek', offset: m.offset as number };
    }
    return null;
  } catch {
    return null;
  }
}

/**
 * One viewer's playhead. Every start, seek, pause and play bumps `gen`: work begun for an older
 * playhead (a database read in flight, a timer) sees the change and does nothing.
 */
class Player {
  #gen = 0;
  /** Cancels the wait for the next window's end. */
  #timer: (() => void) | undefined;
  /** Playhead (ms since the epoch) at wall time #t0. */
  #pos0 = 0;
  #t0 = 0;
  #paused = false;
  #buffer: WindowAggregate[] = [];
  #nextFrom = 0;
  #exhausted = false;
  #prevSeq = -1;
  #bounds: { start: number; end: number } | undefined;
  #stopped = false;

  constructor(
    private readonly socket: WebSocket,
    private readonly store: WindowArchive,
    private readonly matchId: string,
    private readonly windowMs: number,
    private readonly speed: number,
    private readonly clock: TimerClock,
    private readonly fail: (err: unknown) => void,
  ) {}

  send(msg: ReplayServerMessage): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(msg));
  }

  position(): number {
    return this.#paused ? this.#pos0 : this.#pos0 + (this.clock.now() - this.#t0) * this.speed;
  }

  seek(to: { offset: number } | { at: number }): void {
    const gen = ++this.#gen;
    this.#timer?.();
    void this.#seek(gen, to).catch(this.fail);
  }

  async #seek(gen: number, to: { offset: number } | { at: number }): Promise<void> {
    const bounds = await this.#matchBounds();
    if (gen !== this.#gen) return;
    const at = 'at' in to ? to.at : bounds.start + to.offset;
    // What a live viewer saw at `at`: the last window that had closed by then.
    const showing = await this.store.windowBefore(this.matchId, at - this.windowMs);
    if (gen !== this.#gen) return;
    this.#pos0 = at;
    this.#t0 = this.clock.now();
    this.#buffer = [];
    this.#exhausted = false;
    this.#nextFrom = showing ? showing.windowStart + 1 : -Number.MAX_SAFE_INTEGER;
    this.#prevSeq = showing ? seqFor(showing.windowStart, this.windowMs) : -1;
    this.#state(this.#paused ? 'paused' : 'playing', at);
    if (showing) this.send({ type: 'snapshot', ...showing, seq: this.#prevSeq, prevSeq: -1, epoch: REPLAY_EPOCH, viewers: 0 });
    await this.#pump(gen);
  }

  pause(): void {
    if (this.#paused) return;
    this.#pos0 = this.position();
    this.#paused = true;
    this.#gen++;
    this.#timer?.();
    this.#state('paused');
  }

  play(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#t0 = this.clock.now();
    const gen = ++this.#gen;
    this.#state('playing');
    void this.#pump(gen).catch(this.fail);
  }

  stop(): void {
    this.#stopped = true;
    this.#gen++;
    this.#timer?.();
  }

  async #matchBounds(): Promise<{ start: number; end: number }> {
    if (!this.#bounds) {
      const first = (await this.store.windows(this.matchId, -Number.MAX_SAFE_INTEGER, 1))[0];
      const last = await this.store.windowBefore(this.matchId, Number.MAX_SAFE_INTEGER);
      this.#bounds = { start: first?.windowStart ?? 0, end: last?.windowEnd ?? 0 };
    }
    return this.#bounds;
  }

  #state(state: 'playing' | 'paused' | 'ended', position = this.position()): void {
    const b = this.#bounds!;
    this.send({ type: 'replay', matchId: this.matchId, matchStart: b.start, matchEnd: b.end, position, offsetMs: position - b.start, speed: this.speed, state });
  }

  /** Sends every window whose end the playhead has passed, then sleeps until the next one's end. */
  async #pump(gen: number): Promise<void> {
    if (gen !== this.#gen || this.#paused || this.#stopped) return;
    if (this.#buffer.length === 0 && !this.#exhausted) {
      const chunk = await this.store.windows(this.matchId, this.#nextFrom, CHUNK);
      if (gen !== this.#gen) return;
      if (chunk.length < CHUNK) this.#exhausted = true;
      if (chunk.length > 0) this.#nextFrom = chunk.at(-1)!.windowStart + 1;
      this.#buffer = chunk;
    }
    const pos = this.position();
    while (this.#buffer.length > 0 && this.#buffer[0]!.windowEnd <= pos) {
      const w = this.#buffer.shift()!;
      const seq = seqFor(w.windowStart, this.windowMs);
      this.send({ type: 'update', ...w, seq, prevSeq: this.#prevSeq, epoch: REPLAY_EPOCH, viewers: 0 });
      this.#prevSeq = seq;
    }
    if (this.#buffer.length === 0) {
      if (this.#exhausted) {
        this.#state('ended');
        return;
      }
      return this.#pump(gen);
    }
    const delay = Math.max(0, (this.#buffer[0]!.windowEnd - pos) / this.speed);
    this.#timer = this.clock.after(delay, () => void this.#pump(gen).catch(this.fail));
  }
}
