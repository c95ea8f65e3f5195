import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import { emoError, isEmoError } from '../domain/errors.js';
import type { WindowAggregate } from '../domain/types.js';
import type { WindowArchive } from '../ports/window-archive.js';
import { scoreMoments } from './moments.js';
import { MatchParams, MomentsQuery, MomentsResponse, SummaryResponse, TimelineQuery, TimelineResponse } from './schemas.js';

export interface ArchiveRoutesOptions {
  store: WindowArchive;
  windowMs: number;
  /** Answers kept per process, keyed by the match's version: a repeated question costs one key lookup. */
  cacheEntries?: number;
}

export const MOMENTS_STATISTIC =
  'robust z-score of the window total against the trailing 5 minutes of the same match: (total − median) / max(1.4826·MAD, √median, 1), at least 5; one moment per burst (20 s apart), ranked by score';

const MAX_POINTS = 5000;

/**
 * The archive's query API: a match's timeline (downsampled in the database), its moments and its
 * summary. Every answer carries an ETag made of the match's archive version and the question, so
 * an unchanged match answers If-None-Match with 304 after one primary-key lookup and no query.
 */
export async function archiveRoutes(app: FastifyInstance, o: ArchiveRoutesOptions): Promise<void> {
  const cache = new LRUCache<string, object>({ max: o.cacheEntries ?? 512 });

  /** Runs a store call; a database failure is the caller's 503, never a 500. */
  const db = async <T>(f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      if (isEmoError(err)) throw err;
      throw emoError('ARCHIVE_UNAVAILABLE', undefined, { cause: err, retryAfterSec: 1 });
    }
  };

  /**
   * The conditional-GET frame of every route: version -> ETag -> 304, or the cached or computed body.
   * `question` names everything the answer depends on besides the match's rows.
   */
  const answer = async (req: FastifyRequest, reply: FastifyReply, matchId: string, question: string, compute: () => Promise<object>) => {
    const version = await db(() => o.store.version(matchId));
    if (version === 0) throw emoError('MATCH_NOT_ARCHIVED', `The archive holds no window of match ${matchId}`);
    const etag = `"a${version}-${createHash('sha1').update(question).digest('base64url').slice(0, 16)}"`;
    // A live match's archive changes every window: caches must ask again, and get a 304 while it has not.
    reply.header('etag', etag).header('cache-control', 'no-cache');
    if (matches(req.headers['if-none-match'], etag)) return reply.code(304).send();
    const key = `${matchId}\u0000${etag}`;
    let body = cache.get(key);
    if (!body) {
      body = await db(compute);
      cache.set(key, body);
    }
    return body;
  };

  const matchStart = async (matchId: string): Promise<number> => (await o.store.windows(matchId, -Number.MAX_SAFE_INTEGER, 1))[0]?.windowStart ?? 0;

  app.get<{ Params: MatchParams; Querystring: TimelineQuery }>(
    '/v1/matches/:matchId/timeline',
    { schema: { params: MatchParams, querystring: TimelineQuery, response: { 200: TimelineResponse } } },
    async (req, reply) => {
      const { matchId } = req.params;
      const q = req.query;
      // A step shorter than a window has nothing finer to show: it is one window.
      const step = q.step === undefined ? o.windowMs : Math.max(o.windowMs, Number(q.step));
      const limit = q.limit === undefined ? 1000 : Number(q.limit);
      if (limit < 1 || limit > MAX_POINTS) throw emoError('VALIDATION', `querystring.limit must be in [1, ${MAX_POINTS}]`);
      const from = q.from === undefined ? undefined : Number(q.from);
      const to = q.to === undefined ? undefined : Number(q.to);
      const shape = `timeline|${from ?? ''}|${to ?? ''}|${step}`;
      const after = q.cursor === undefined ? undefined : readCursor(q.cursor, shape);
      return answer(req, reply, matchId, `${shape}|${limit}|${after ?? ''}`, async () => {
        const start = await matchStart(matchId);
        // One more than the page: whether there is a next page, without a count.
        const points = await o.store.timeline(matchId, { step, limit: limit + 1, ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }), ...(after === undefined ? {} : { after }) });
        const page = points.slice(0, limit);
        return {
          matchId,
          matchStart: start,
          step,
          points: page.map((p) => ({ ...p, offsetMs: p.t - start })),
          nextCursor: points.length > limit ? writeCursor(shape, page.at(-1)!.t) : null,
        };
      });
    },
  );

  app.get<{ Params: MatchParams; Querystring: MomentsQuery }>(
    '/v1/matches/:matchId/moments',
    { schema: { params: MatchParams, querystring: MomentsQuery, response: { 200: MomentsResponse } } },
    async (req, reply) => {
      const { matchId } = req.params;
      const top = req.query.top === undefined ? 10 : Number(req.query.top);
      if (top < 1 || top > 100) throw emoError('VALIDATION', 'querystring.top must be in [1, 100]');
      const limit = req.query.limit === undefined ? top : Number(req.query.limit);
      if (limit < 1 || limit > 100) throw emoError('VALIDATION', 'querystring.limit must be in [1, 100]');
      const shape = `moments|${top}`;
      const offset = req.query.cursor === undefined ? 0 : readCursor(req.query.cursor, shape);
      return answer(req, reply, matchId, `${shape}|${limit}|${offset}`, async () => {
        const series = await o.store.series(matchId);
        const scored = scoreMoments(series, { windowMs: o.windowMs, top });
        const page = scored.slice(offset, offset + limit);
        const windows = new Map((await o.store.windowsAt(matchId, page.map((m) => m.windowStart))).map((w) => [w.windowStart, w]));
        const start = series[0]?.windowStart ?? 0;
        return {
          matchId,
          matchStart: start,
          statistic: MOMENTS_STATISTIC,
          moments: page.map((m, i) => {
            const w = windows.get(m.windowStart)!;
            return { rank: offset + i + 1, windowStart: w.windowStart, windowEnd: w.windowEnd, offsetMs: w.windowStart - start, total: w.total, baseline: m.baseline, score: m.score, dominant: dominant(w), counts: w.counts, sentiment: w.sentiment };
          }),
          nextCursor: offset + limit < scored.length ? writeCursor(shape, offset + limit) : null,
        };
      });
    },
  );

  app.get<{ Params: MatchParams }>('/v1/matches/:matchId/summary', { schema: { params: MatchParams, response: { 200: SummaryResponse } } }, async (req, reply) => {
    const { matchId } = req.params;
    return answer(req, reply, matchId, 'summary', async () => {
      const t = await o.store.totals(matchId);
      if (!t) throw emoError('MATCH_NOT_ARCHIVED', `The archive holds no window of match ${matchId}`);
      return {
        matchId,
        matchStart: t.firstWindowStart,
        matchEnd: t.lastWindowEnd,
        durationMs: t.lastWindowEnd - t.firstWindowStart,
        windowMs: o.windowMs,
        windows: t.windows,
        total: t.total,
        counts: t.counts,
        sentiment: t.sentiment,
        peak: { windowStart: t.peak.windowStart, offsetMs: t.peak.windowStart - t.firstWindowStart, total: t.peak.total, dominant: dominant(t.peak) },
      };
    });
  });
}

/** The emoji with the largest count (the first of equals in the window's order). */
export function dominant(w: WindowAggregate): { emoji: string; count: number } {
  let best = { emoji: '', count: 0 };
  for (const [emoji, count] of Object.entries(w.counts)) if (count > best.count) best = { emoji, count };
  return best;
}

/** If-None-Match: a list of tags, or `*`; weak tags compare equal to strong ones for GET. */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

/** Opaque to clients; bound to the question it pages through, so it cannot be replayed on another. */
function writeCursor(shape: string, position: number): string {
  return Buffer.from(JSON.stringify({ s: shape, p: position })).toString('base64url');
}

function readCursor(cursor: string, shape: string): number {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { s?: unknown; p?: unknown };
    if (c.s === shape && typeof c.p === 'number' && Number.isFinite(c.p)) return c.p;
  } catch {
    // falls through to the error below
  }
  throw emoError('VALIDATION', 'querystring.cursor does not belong to this query (pass the same parameters as the page it came from)');
}
