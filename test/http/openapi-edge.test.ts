import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Validator } from '@seriousme/openapi-schema-validator';
import { ManualClock } from '../../helpers/manual-clock.js';
import { catalog } from '../../helpers/fixtures.js';
import { edgeApp } from '../edge/edge-app.js';

type Schema = { properties: Record<string, { enum?: string[]; minimum?: number; maximum?: number }> };
type Op = { security?: unknown; requestBody: { content: { 'application/json': { schema: Schema & { properties: { reactions?: { items: Schema } } } } } }; responses: Record<string, { headers?: Record<string, unknown> }>; description?: string };
type Doc = { paths: Record<string, Record<string, Op>>; components: { securitySchemes?: Record<string, { type: string; bearerFormat?: string }> }; info: { description: string } };

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const NOW = 1_800_000_000_000;
async function docOf(config: Record<string, unknown> = {}, clock = new ManualClock(NOW)) {
  const e = await edgeApp({ listen: false, clock, config });
  app = e.app;
  const get = async () => (await e.app.inject('/openapi.json')).json() as Doc;
  return { get, clock, doc: await get(), inject: e.app.inject.bind(e.app) };
}

describe('the OpenAPI document says what the server does', () => {
  it('emoji is the catalog; ts is the range accepted this hour, and moves with the clock', async () => {
    const { doc, clock, get } = await docOf();
    const single = doc.paths['/v1/reactions']!.post!.requestBody.content['application/json'].schema;
    const item = doc.paths['/v1/reactions/batch']!.post!.requestBody.content['application/json'].schema.properties.reactions!.items;
    for (const s of [single, item]) {
      expect(s.properties.emoji!.enum).toEqual(catalog.entries.map((e) => e.emoji));
      // NOW is on the hour: exactly ±24 h.
      expect(s.properties.ts).toMatchObject({ minimum: NOW - 86_400_000, maximum: NOW + 86_400_000 });
    }
    clock.advance(10_000);
    const ts = (await get()).paths['/v1/reactions']!.post!.requestBody.content['application/json'].schema.properties.ts!;
    expect(ts).toMatchObject({ minimum: NOW - 86_400_000, maximum: NOW + 3_600_000 + 86_400_000 });
    expect((await new Validator().validate((await get()) as never)).valid).toBe(true);
  });

  it('the documented bounds are accepted, one past them refused, until the hour turns', async () => {
    const { get, inject, clock } = await docOf({}, new ManualClock(NOW + 1_234_567));
    const ts = (await get()).paths['/v1/reactions']!.post!.requestBody.content['application/json'].schema.properties.ts!;
    const post = (t: number) => inject({ method: 'POST', url: '/v1/reactions', payload: { matchId: 'm', userId: 'u', emoji: '⚽', ts: t } });
    for (const at of [NOW + 1_234_567, NOW + 3_599_999]) {
      clock.set(at);
      expect((await post(ts.minimum!)).statusCode).toBe(202);
      expect((await post(ts.maximum!)).statusCode).toBe(202);
      expect((await post(ts.minimum! - 1)).json().code).toBe('EMO_ERR_TIMESTAMP_RANGE');
      expect((await post(ts.maximum! + 1)).json().code).toBe('EMO_ERR_TIMESTAMP_RANGE');
    }
  });

  it('declares Retry-After on 429 and 503, Allow and 405 in the text, the live close codes', async () => {
    const { doc } = await docOf();
    const post = doc.paths['/v1/reactions']!.post!;
    expect(post.responses['429']!.headers).toHaveProperty('Retry-After');
    expect(post.responses['503']!.headers).toHaveProperty('Retry-After');
    expect(doc.info.description).toContain('405');
    expect(doc.paths['/v1/live']!.get!.description).toContain('4401');
    expect(doc.paths['/v1/live']!.get!.responses).toHaveProperty('426');
  });

  it('security as enforced: none when open; Bearer (JWT) with WWW-Authenticate on 401 when on, ?token= on the live route only', async () => {
    const open = (await docOf()).doc;
    expect(open.components.securitySchemes).toBeUndefined();
    expect(open.paths['/v1/reactions']!.post!.security).toBeUndefined();
    expect(open.paths['/v1/reactions']!.post!.responses).not.toHaveProperty('401');
    await app!.close();
    const on = (await docOf({ jwt: { secret: 'a-test-secret-of-at-least-32-characters!' } })).doc;
    expect(on.components.securitySchemes!.bearer).toMatchObject({ type: 'http', bearerFormat: 'JWT' });
    expect(on.paths['/v1/reactions']!.post!.security).toEqual([{ bearer: [] }]);
    expect(on.paths['/v1/live']!.get!.security).toEqual([{ bearer: [] }, { queryToken: [] }]);
    expect(on.paths['/v1/reactions']!.post!.responses['401']!.headers).toHaveProperty('WWW-Authenticate');
    expect(on.paths['/v1/reactions']!.post!.responses).toHaveProperty('403');
    expect(on.paths['/v1/emojis']!.get!.security).toBeUndefined();
  });
});
