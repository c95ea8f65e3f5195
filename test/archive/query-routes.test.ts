import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Validator } from '@seriousme/openapi-schema-validator';
import { buildApp } from '../../src/app.js';
import { openPgliteArchive } from '../../src/adapters/postgres/pglite-window-archive.js';
import { ManualClock } from '../../helpers/manual-clock.js';
import type { WindowAggregate } from '../../src/domain/types.js';
import type { WindowArchive } from '../../src/ports/window-archive.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { catalog, silentLogger, testConfig } from '../../helpers/fixtures.js';
import { win } from './archive-suite.js';

const T0 = 1_800_000_000_000;
const M = 'final-2026';
// 20 minutes of windows: a steady crowd, a wicket (😱) at window 300 and a six (🏏) at window 450.
function match(): WindowAggregate[] {
  return Array.from({ length: 600 }, (_, i) => {
    if (i === 300) return win(M, i, { '😱': 900, '🔥': 100 });
    if (i === 301) return win(M, i, { '😱': 300, '🔥': 60 });
    if (i === 450) return win(M, i, { '🏏': 500, '🔥': 80 });
    return win(M, i, { '🔥': 60 + ((i * 7) % 11), '😂': 20 + (i % 5) });
  });
}

async function appOn(store: WindowArchive): Promise<FastifyInstance> {
  const app = await buildApp({ config: testConfig(), catalog, clock: new ManualClock(T0), metrics: createMetrics(), logger: silentLogger, archive: { store }, pages: false });
  await app.ready();
  return app;
}

describe('archive query API', () => {
  let store: WindowArchive;
  let app: FastifyInstance;
  const windows = match();

  beforeAll(async () => {
    store = await openPgliteArchive({});
    await store.upsert(windows);
    app = await appOn(store);
  });
  afterAll(async () => {
    await app?.close();
    await store?.close();
  });

  it('timeline: per-step counts, totals and sentiment, paged by cursor to the whole match', async () => {
    const all = [];
    let url = `/v1/matches/${M}/timeline?step=60000&limit=7`;
    for (let pages = 0; pages < 10; pages++) {
      const res = await app.inject(url);
      expect(res.statusCode).toBe(200);
      const body = res.json();
      all.push(...body.points);
      if (!body.nextCursor) break;
      url = `/v1/matches/${M}/timeline?step=60000&limit=7&cursor=${body.nextCursor}`;
    }
    expect(all).toHaveLength(20);
    for (const [k, p] of all.entries()) {
      const part = windows.filter((w) => w.windowStart - (w.windowStart % 60000) === p.t);
      expect(p.windows).toBe(part.length);
      expect(p.total).toBe(part.reduce((a, w) => a + w.total, 0));
      expect(p.counts['🔥']).toBe(part.reduce((a, w) => a + (w.counts['🔥'] ?? 0), 0));
      expect(p.offsetMs).toBe(p.t - T0);
      expect(p.sentiment).toBeCloseTo(part.reduce((a, w) => a + w.sentiment * w.total, 0) / p.total, 12);
      if (k > 0) expect(p.t).toBe(all[k - 1].t + 60000);
    }
    const ranged = (await app.inject(`/v1/matches/${M}/timeline?from=${T0 + 600_000}&to=${T0 + 604_000}`)).json();
    expect(ranged.points.map((p: { total: number }) => p.total)).toEqual([1000, 360]);
    expect(ranged.step).toBe(2000);
  });

  it('ETag: 304 for an unchanged match, a new tag once a window is written', async () => {
    const url = `/v1/matches/${M}/summary`;
    const first = await app.inject(url);
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"a\d+-[\w-]+"$/);
    expect(first.headers['cache-control']).toBe('no-cache');
    const again = await app.inject({ url, headers: { 'if-none-match': etag } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    expect((await app.inject({ url, headers: { 'if-none-match': `"x", W/${etag}` } })).statusCode).toBe(304);
    // Another question about the same match has its own tag.
    expect((await app.inject(`/v1/matches/${M}/moments`)).headers.etag).not.toBe(etag);
    await store.upsert([win(M, 600, { '🔥': 1 })]);
    const changed = await app.inject({ url, headers: { 'if-none-match': etag } });
    expect(changed.statusCode).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
    expect(changed.json().windows).toBe(601);
  });

  it('moments: the wicket and the six, with their dominant emoji and offset, ranked, paged', async () => {
    const res = await app.inject(`/v1/matches/${M}/moments?top=5`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.statistic).toMatch(/median/);
    expect(body.moments.slice(0, 2).map((m: { offsetMs: number; dominant: { emoji: string } }) => [m.offsetMs, m.dominant.emoji])).toEqual([
      [300 * 2000, '😱'],
      [450 * 2000, '🏏'],
    ]);
    expect(body.moments[0]).toMatchObject({ rank: 1, total: 1000, dominant: { emoji: '😱', count: 900 } });
    expect(body.moments[0].baseline).toBeGreaterThan(70);
    expect(body.moments[0].baseline).toBeLessThan(100);
    const p1 = (await app.inject(`/v1/matches/${M}/moments?top=5&limit=1`)).json();
    expect(p1.moments.map((m: { rank: number }) => m.rank)).toEqual([1]);
    const p2 = (await app.inject(`/v1/matches/${M}/moments?top=5&limit=1&cursor=${p1.nextCursor}`)).json();
    expect(p2.moments[0]).toEqual(body.moments[1]);
  });

  it('summary: totals, peak and duration', async () => {
    const s = (await app.inject(`/v1/matches/${M}/summary`)).json();
    expect(s).toMatchObject({ matchId: M, matchStart: T0, peak: { windowStart: T0 + 600_000, offsetMs: 600_000, total: 1000, dominant: { emoji: '😱', count: 900 } } });
    expect(s.durationMs).toBe(s.matchEnd - s.matchStart);
    expect(s.total).toBe([...windows, win(M, 600, { '🔥': 1 })].reduce((a, w) => a + w.total, 0));
  });

  it('answers bad questions with stable codes, never a 500', async () => {
    const code = async (url: string) => {
      const r = await app.inject(url);
      return [r.statusCode, r.json().code];
    };
    expect(await code('/v1/matches/nobody/summary')).toEqual([404, 'EMO_ERR_MATCH_NOT_ARCHIVED']);
    expect(await code('/v1/matches/nobody/timeline')).toEqual([404, 'EMO_ERR_MATCH_NOT_ARCHIVED']);
    // A step under one window has nothing finer to show: it is one window (documented), not an error.
    const fine = await app.inject(`/v1/matches/${M}/timeline?step=100&limit=1`);
    expect([fine.statusCode, fine.json().step]).toEqual([200, 2000]);
    expect(await code(`/v1/matches/${M}/timeline?step=abc`)).toEqual([400, 'EMO_ERR_VALIDATION']);
    expect(await code(`/v1/matches/${M}/timeline?limit=0`)).toEqual([400, 'EMO_ERR_VALIDATION']);
    expect(await code(`/v1/matches/${M}/moments?top=1000`)).toEqual([400, 'EMO_ERR_VALIDATION']);
    expect(await code(`/v1/matches/bad%20id/summary`)).toEqual([400, 'EMO_ERR_VALIDATION']);
    const other = (await app.inject(`/v1/matches/${M}/timeline?step=4000&limit=1`)).json().nextCursor;
    expect(await code(`/v1/matches/${M}/timeline?step=2000&limit=1&cursor=${other}`)).toEqual([400, 'EMO_ERR_VALIDATION']);
    expect(await code(`/v1/matches/${M}/timeline?cursor=garbage`)).toEqual([400, 'EMO_ERR_VALIDATION']);
  });

  it('is in the OpenAPI document, which stays valid', async () => {
    const doc = (await app.inject('/openapi.json')).json();
    for (const p of ['/v1/matches/{matchId}/timeline', '/v1/matches/{matchId}/moments', '/v1/matches/{matchId}/summary', '/v1/replay']) expect(doc.paths[p]?.get, p).toBeDefined();
    expect(doc.paths['/v1/matches/{matchId}/timeline'].get.responses['304']).toBeDefined();
    expect(doc.paths['/v1/matches/{matchId}/timeline'].get.responses['404'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/EmoError' });
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
  });

  it('a database that fails answers 503 EMO_ERR_ARCHIVE_UNAVAILABLE with Retry-After', async () => {
    const broken = await openPgliteArchive({});
    await broken.upsert([win('x', 0, { '🔥': 1 })]);
    const app2 = await appOn(broken);
    await broken.close();
    const r = await app2.inject('/v1/matches/x/summary');
    expect(r.statusCode).toBe(503);
    expect(r.json().code).toBe('EMO_ERR_ARCHIVE_UNAVAILABLE');
    expect(r.headers['retry-after']).toBe('1');
    await app2.close();
  });
});
