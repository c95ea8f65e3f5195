import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { WebSocket } from 'ws';
import { loadConfig } from '../../src/config/config.js';
import { systemClock } from '../../src/ports/clock.js';
import { ManualClock } from '../../helpers/manual-clock.js';
import { TOKEN_EXPIRED_CLOSE_CODE } from '../../src/auth/auth.js';
import { edgeApp } from '../edge/edge-app.js';

const NOW = 1_800_000_000_000;
const SECRET = 'a-test-secret-of-at-least-32-characters!';
const key = new TextEncoder().encode(SECRET);
let app: FastifyInstance | undefined;
let jwks: Server | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
  await new Promise((r) => (jwks ? jwks.close(r) : r(undefined)));
  jwks = undefined;
});

/** An HS256 token for `sub`, valid for an hour from `nowMs` unless the claims say otherwise. */
function hs256(claims: JWTPayload & { sub?: string }, nowMs = NOW, secret: Uint8Array = key): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(Math.floor(nowMs / 1000)).setExpirationTime(claims.exp ?? Math.floor(nowMs / 1000) + 3600).sign(secret);
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const reaction = (userId = 'viewer-1', matchId = 'm1') => ({ matchId, userId, emoji: '🔥' });

async function jwtApp(jwt: Record<string, unknown> = { secret: SECRET }, clock = new ManualClock(NOW), extra: Record<string, unknown> = {}) {
  const e = await edgeApp({ listen: false, clock, config: { jwt: jwt as never, ...extra } });
  app = e.app;
  const post = (token: string | undefined, body: unknown = reaction(), url = '/v1/reactions') =>
    e.app.inject({ method: 'POST', url, payload: body as object, headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { ...e, clock, post };
}

describe('viewer identity from signed tokens (JWT_SECRET, HS256)', () => {
  it('takes a token whose sub is the body userId, on both ingest routes', async () => {
    const { post } = await jwtApp();
    const t = await hs256({ sub: 'viewer-1' });
    const res = await post(t);
    expect(res.statusCode).toBe(202);
    expect((await post(t, { reactions: [reaction(), reaction()] }, '/v1/reactions/batch')).json()).toEqual({ accepted: 2 });
  });

  it('refuses each bad token with its code: missing, wrong key, alg none, expired, other user, other match', async () => {
    const { post } = await jwtApp();
    const codeOf = async (token: string | undefined, body?: unknown, url?: string) => {
      const res = await post(token, body, url);
      return { status: res.statusCode, code: res.json().code as string, auth: res.headers['www-authenticate'], index: res.json().index as number | undefined };
    };
    expect(await codeOf(undefined)).toMatchObject({ status: 401, code: 'EMO_ERR_UNAUTHORIZED', auth: 'Bearer realm="emostream"' });
    const wrongKey = await hs256({ sub: 'viewer-1' }, NOW, new TextEncoder().encode('another-secret-of-at-least-32-characters'));
    expect(await codeOf(wrongKey)).toMatchObject({ status: 401, code: 'EMO_ERR_TOKEN_INVALID', auth: 'Bearer realm="emostream", error="invalid_token"' });
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'viewer-1', exp: NOW / 1000 + 3600 })}.`;
    expect(await codeOf(none)).toMatchObject({ status: 401, code: 'EMO_ERR_TOKEN_INVALID' });
    // alg confusion: the right secret, an algorithm the server does not take.
    const hs512 = await new SignJWT({ sub: 'viewer-1' }).setProtectedHeader({ alg: 'HS512' }).setExpirationTime(NOW / 1000 + 3600).sign(new TextEncoder().encode(SECRET.repeat(2)));
    expect(await codeOf(hs512)).toMatchObject({ status: 401, code: 'EMO_ERR_TOKEN_INVALID' });
    expect(await codeOf('not.a.jwt')).toMatchObject({ status: 401, code: 'EMO_ERR_TOKEN_INVALID' });
    // Expired beyond the leeway (5 s by default); within it the token still counts.
    expect(await codeOf(await hs256({ sub: 'viewer-1', exp: NOW / 1000 - 6 }))).toMatchObject({ status: 401, code: 'EMO_ERR_TOKEN_EXPIRED', auth: 'Bearer realm="emostream", error="invalid_token"' });
    expect((await post(await hs256({ sub: 'viewer-1', exp: NOW / 1000 - 2 }))).statusCode).toBe(202);
    // No exp at all is refused: every viewer token must end.
    const forever = await new SignJWT({ sub: 'viewer-1' }).setProtectedHeader({ alg: 'HS256' }).sign(key);
    expect(await codeOf(forever)).toMatchObject({ status: 401, code: 'EMO_ERR_TOKEN_INVALID' });
    const t = await hs256({ sub: 'viewer-1', matches: ['m1'] });
    expect(await codeOf(t, reaction('viewer-2'))).toMatchObject({ status: 403, code: 'EMO_ERR_USER_MISMATCH' });
    expect(await codeOf(t, reaction('viewer-1', 'm2'))).toMatchObject({ status: 403, code: 'EMO_ERR_MATCH_FORBIDDEN' });
    expect(await codeOf(t, { reactions: [reaction(), reaction('viewer-1', 'm2')] }, '/v1/reactions/batch')).toMatchObject({ status: 403, code: 'EMO_ERR_MATCH_FORBIDDEN', index: 1 });
    expect(await codeOf(t, { reactions: [reaction(), reaction(), reaction('x')] }, '/v1/reactions/batch')).toMatchObject({ status: 403, code: 'EMO_ERR_USER_MISMATCH', index: 2 });
    expect((await post(t)).statusCode).toBe(202);
  });

  it('checks issuer and audience when configured', async () => {
    const { post } = await jwtApp({ secret: SECRET, issuer: 'https://id.example', audience: 'emostream' });
    expect((await post(await hs256({ sub: 'viewer-1' }))).json().code).toBe('EMO_ERR_TOKEN_INVALID');
    expect((await post(await hs256({ sub: 'viewer-1', iss: 'https://id.example', aud: 'other' }))).json().code).toBe('EMO_ERR_TOKEN_INVALID');
    expect((await post(await hs256({ sub: 'viewer-1', iss: 'https://id.example', aud: 'emostream' }))).statusCode).toBe(202);
  });

  it('a verified token is cached, but never past its exp', async () => {
    const { post, clock } = await jwtApp();
    const t = await hs256({ sub: 'viewer-1', exp: NOW / 1000 + 60 });
    expect((await post(t)).statusCode).toBe(202);
    clock.advance(60_000 + 4_000);
    expect((await post(t)).statusCode).toBe(202);
    clock.advance(2_000);
    expect((await post(t)).json().code).toBe('EMO_ERR_TOKEN_EXPIRED');
  });

  it('API_TOKENS stay valid beside JWTs, for servers that name the user in each reaction', async () => {
    const { post } = await jwtApp({ secret: SECRET }, new ManualClock(NOW), { apiTokens: ['server-token'] });
    expect((await post('server-token', reaction('anyone'))).statusCode).toBe(202);
  });
});

describe('public keys (JWT_JWKS_FILE, JWT_JWKS_URL: RS256, ES256)', () => {
  it('verifies RS256 and ES256 tokens against a JWKS file, and refuses one signed by another key', async () => {
    const rs = await generateKeyPair('RS256');
    const es = await generateKeyPair('ES256');
    const other = await generateKeyPair('RS256');
    const dir = mkdtempSync(path.join(tmpdir(), 'emo-jwks-'));
    const file = path.join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(rs.publicKey)), kid: 'rs', alg: 'RS256' }, { ...(await exportJWK(es.publicKey)), kid: 'es', alg: 'ES256' }] }));
    const { post } = await jwtApp({ jwksFile: file });
    const sign = (alg: string, kid: string, k: CryptoKey) => new SignJWT({ sub: 'viewer-1' }).setProtectedHeader({ alg, kid }).setExpirationTime(NOW / 1000 + 600).sign(k);
    expect((await post(await sign('RS256', 'rs', rs.privateKey))).statusCode).toBe(202);
    expect((await post(await sign('ES256', 'es', es.privateKey))).statusCode).toBe(202);
    expect((await post(await sign('RS256', 'rs', other.privateKey))).json().code).toBe('EMO_ERR_TOKEN_INVALID');
    // An HS256 token made with the public key as its secret (algorithm confusion).
    expect((await post(await hs256({ sub: 'viewer-1' }, NOW, new TextEncoder().encode(JSON.stringify(await exportJWK(rs.publicKey)))))).json().code).toBe('EMO_ERR_TOKEN_INVALID');
  });

  it('takes an RS256 viewer token with the usual claims (over 512 characters) as ?token= on /v1/live', async () => {
    const rs = await generateKeyPair('RS256');
    const dir = mkdtempSync(path.join(tmpdir(), 'emo-jwks-'));
    const file = path.join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(rs.publicKey)), kid: 'rs', alg: 'RS256' }] }));
    const e = await edgeApp({ clock: systemClock, config: { jwt: { jwksFile: file } as never } });
    app = e.app;
    const token = await new SignJWT({ sub: 'viewer-1', matches: ['m1', 'm2', 'final-2026'] })
      .setProtectedHeader({ alg: 'RS256', kid: 'rs', typ: 'JWT' })
      .setIssuer('https://id.broadcaster.example/')
      .setAudience('emostream')
      .setIssuedAt()
      .setJti('0b7f4c1e-8f2a-4d53-9c1e-2f6a7b8c9d0e')
      .setExpirationTime('10m')
      .sign(rs.privateKey);
    expect(token.length).toBeGreaterThan(512);
    const ws = new WebSocket(`ws://127.0.0.1:${e.port}/v1/live?matchId=m1&token=${token}`);
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)))));
    ws.terminate();
  });

  it('fetches a JWKS URL once and keeps the keys', async () => {
    const rs = await generateKeyPair('RS256');
    const body = JSON.stringify({ keys: [{ ...(await exportJWK(rs.publicKey)), kid: 'k1', alg: 'RS256' }] });
    let fetches = 0;
    jwks = createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(body);
    });
    await new Promise<void>((r) => jwks!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks.json`;
    const { post } = await jwtApp({ jwksUrl: url });
    for (let i = 0; i < 5; i++) {
      const t = await new SignJWT({ sub: 'viewer-1', n: i }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setExpirationTime(NOW / 1000 + 600).sign(rs.privateKey);
      expect((await post(t)).statusCode).toBe(202);
    }
    expect(fetches).toBe(1);
  });

  it('answers 503 EMO_ERR_NOT_READY with Retry-After when the JWKS URL does not answer in JWT_JWKS_TIMEOUT_MS', async () => {
    const rs = await generateKeyPair('RS256');
    // Takes the request and never answers it.
    jwks = createServer(() => {});
    await new Promise<void>((r) => jwks!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks.json`;
    const { post } = await jwtApp({ jwksUrl: url, jwksTimeoutMs: 200 });
    const t = await new SignJWT({ sub: 'viewer-1' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setExpirationTime(NOW / 1000 + 600).sign(rs.privateKey);
    const res = await post(t);
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json()).toEqual({ statusCode: 503, code: 'EMO_ERR_NOT_READY', error: 'Service Unavailable', message: 'The key set could not be fetched in time' });
    jwks.closeAllConnections();
  });
});

describe('GET /v1/live with a viewer token', () => {
  it('refuses another match with 403 before the upgrade, and closes the socket with 4401 when the token expires', async () => {
    const e = await edgeApp({ clock: systemClock, config: { jwt: { secret: SECRET, leewaySec: 0 } } });
    app = e.app;
    const now = Date.now();
    const other = await hs256({ sub: 'viewer-1', matches: ['m2'] }, now);
    const refused = new WebSocket(`ws://127.0.0.1:${e.port}/v1/live?matchId=m1&token=${other}`);
    refused.on('error', () => {});
    expect(await new Promise((r) => refused.once('unexpected-response', (_q, res) => r(res.statusCode)))).toBe(403);
    const missing = new WebSocket(`ws://127.0.0.1:${e.port}/v1/live?matchId=m1`);
    missing.on('error', () => {});
    expect(await new Promise((r) => missing.once('unexpected-response', (_q, res) => r(res.statusCode)))).toBe(401);
    // exp is in whole seconds: this token ends 1-2 s from now.
    const short = await hs256({ sub: 'viewer-1', matches: ['m1'], exp: Math.floor(now / 1000) + 2 }, now);
    const ws = new WebSocket(`ws://127.0.0.1:${e.port}/v1/live?matchId=m1&token=${short}`);
    const opened = Date.now();
    const closed = await new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
    expect(closed).toEqual({ code: TOKEN_EXPIRED_CLOSE_CODE, reason: 'token expired' });
    expect(Date.now() - opened).toBeLessThan(3_000);
  });
});

describe('JWT settings', () => {
  it('refuses a short secret and more than one key source', () => {
    expect(() => loadConfig({ JWT_SECRET: 'short' })).toThrow(/JWT_SECRET must be at least 32 characters/);
    expect(() => loadConfig({ JWT_SECRET: SECRET, JWT_JWKS_URL: 'https://id.example/jwks.json' })).toThrow(/only one of JWT_SECRET/);
    expect(loadConfig({ JWT_SECRET: SECRET }).jwt).toEqual({ secret: SECRET, jwksFile: '', jwksUrl: '', issuer: '', audience: '', leewaySec: 5, jwksTimeoutMs: 5000 });
  });
});
