import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import { WebSocket } from 'ws';
import { systemClock } from '../../src/ports/clock.js';
import { edgeApp } from './edge-app.js';

// The edge's identity and browser rules over real sockets (fetch and ws), as a client meets them.
const SECRET = 'an-edge-suite-secret-of-32-characters!!';
const key = new TextEncoder().encode(SECRET);
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const exp = (inSec: number) => Math.floor(Date.now() / 1000) + inSec;
const sign = (claims: Record<string, unknown>, k: Uint8Array = key, expSec = exp(600)) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(expSec).sign(k);
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('edge: signed viewer tokens and CORS on real sockets', () => {
  it('refuses wrong key, alg none, expired, other match and other user with their codes; takes the right token', async () => {
    const e = await edgeApp({ clock: systemClock, config: { jwt: { secret: SECRET }, corsOrigins: ['https://broadcaster.example'] } });
    app = e.app;
    const post = async (token: string, reaction: Record<string, string> = { matchId: 'final', userId: 'viewer-7', emoji: '🔥' }) => {
      const res = await fetch(`${e.url}/v1/reactions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(reaction) });
      return { status: res.status, code: ((await res.json()) as { code?: string }).code, challenge: res.headers.get('www-authenticate') };
    };
    const good = await sign({ sub: 'viewer-7', matches: ['final'] });
    expect((await post(good)).status).toBe(202);
    expect(await post(await sign({ sub: 'viewer-7' }, new TextEncoder().encode('x'.repeat(40))))).toEqual({ status: 401, code: 'EMO_ERR_TOKEN_INVALID', challenge: 'Bearer realm="emostream", error="invalid_token"' });
    expect(await post(`${b64({ alg: 'none' })}.${b64({ sub: 'viewer-7', exp: exp(600) })}.`)).toMatchObject({ status: 401, code: 'EMO_ERR_TOKEN_INVALID' });
    expect(await post(await sign({ sub: 'viewer-7' }, key, exp(-60)))).toMatchObject({ status: 401, code: 'EMO_ERR_TOKEN_EXPIRED' });
    expect(await post(good, { matchId: 'semi', userId: 'viewer-7', emoji: '🔥' })).toMatchObject({ status: 403, code: 'EMO_ERR_MATCH_FORBIDDEN' });
    expect(await post(good, { matchId: 'final', userId: 'viewer-8', emoji: '🔥' })).toMatchObject({ status: 403, code: 'EMO_ERR_USER_MISMATCH' });
    // The live route: same token in ?token=, scoped to its matches.
    const status = (url: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(url);
        ws.on('error', () => {});
        ws.once('open', () => (ws.terminate(), resolve(101)));
        ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
      });
    const ws = `ws://127.0.0.1:${e.port}/v1/live`;
    expect(await status(`${ws}?matchId=final&token=${good}`)).toBe(101);
    expect(await status(`${ws}?matchId=semi&token=${good}`)).toBe(403);
    expect(await status(`${ws}?matchId=final`)).toBe(401);
  });

  it('CORS preflight: allowed for CORS_ORIGINS, refused otherwise', async () => {
    const e = await edgeApp({ config: { corsOrigins: ['https://broadcaster.example'] } });
    app = e.app;
    const preflight = (origin: string) => fetch(`${e.url}/v1/reactions/batch`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
    const ok = await preflight('https://broadcaster.example');
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://broadcaster.example');
    const refused = await preflight('https://elsewhere.example');
    expect(refused.status).toBe(403);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    expect(((await refused.json()) as { code: string }).code).toBe('EMO_ERR_ORIGIN_NOT_ALLOWED');
  });
});
