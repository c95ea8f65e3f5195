import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { edgeApp } from '../edge/edge-app.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const preflight = (origin: string, url = '/v1/reactions') => ({
  method: 'OPTIONS' as const,
  url,
  headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
});

describe('CORS (CORS_ORIGINS)', () => {
  it('answers the preflight of an allowed origin, and its requests carry the CORS headers', async () => {
    app = (await edgeApp({ listen: false, config: { corsOrigins: ['https://broadcaster.example'] } })).app;
    const pre = await app.inject(preflight('https://broadcaster.example'));
    expect(pre.statusCode).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('https://broadcaster.example');
    expect(String(pre.headers['access-control-allow-methods'])).toContain('POST');
    expect(String(pre.headers['access-control-allow-headers']).toLowerCase()).toContain('authorization');
    const post = await app.inject({ method: 'POST', url: '/v1/reactions', headers: { origin: 'https://broadcaster.example' }, payload: { matchId: 'm', userId: 'u', emoji: '🔥' } });
    expect(post.statusCode).toBe(202);
    expect(post.headers['access-control-allow-origin']).toBe('https://broadcaster.example');
    expect(String(post.headers['access-control-expose-headers']).toLowerCase()).toContain('retry-after');
  });

  it('refuses the preflight of another origin with 403 EMO_ERR_ORIGIN_NOT_ALLOWED, and gives its requests no CORS headers', async () => {
    app = (await edgeApp({ listen: false, config: { corsOrigins: ['https://broadcaster.example'] } })).app;
    const pre = await app.inject(preflight('https://evil.example'));
    expect(pre.statusCode).toBe(403);
    expect(pre.json()).toMatchObject({ code: 'EMO_ERR_ORIGIN_NOT_ALLOWED' });
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    const get = await app.inject({ method: 'GET', url: '/v1/emojis', headers: { origin: 'https://evil.example' } });
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
    // OPTIONS that is no preflight is a 405 on a known path, a 404 elsewhere.
    const plain = await app.inject({ method: 'OPTIONS', url: '/v1/reactions' });
    expect(plain.statusCode).toBe(405);
    expect(plain.headers.allow).toBe('POST');
    expect((await app.inject({ method: 'OPTIONS', url: '/nope' })).statusCode).toBe(404);
  });

  it('without CORS_ORIGINS every cross-origin preflight is refused', async () => {
    app = (await edgeApp({ listen: false })).app;
    const pre = await app.inject(preflight('https://broadcaster.example'));
    expect(pre.statusCode).toBe(403);
    expect(pre.json()).toMatchObject({ code: 'EMO_ERR_ORIGIN_NOT_ALLOWED' });
  });
});
