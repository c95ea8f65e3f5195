import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { Validator } from '@seriousme/openapi-schema-validator';
import { buildApp } from '../../src/app.js';
import { MemorySchemaRegistry } from '../../src/adapters/memory/memory-schema-registry.js';
import { createSerdes } from '../../src/codec/serde.js';
import { ManualClock } from '../../helpers/manual-clock.js';
import { ErrorCodes } from '../../src/domain/errors.js';
import { MemoryBus } from '../../src/adapters/memory/memory-bus.js';
import { MemoryLog } from '../../src/adapters/memory/memory-log.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { catalog, silentLogger, testConfig } from '../../helpers/fixtures.js';
import { localRateLimits } from '../../src/adapters/memory/memory-rate-buckets.js';
import { systemClock } from '../../src/ports/clock.js';
import { CloseCodes } from '../../src/wire/close-codes.js';

// Fastify has no public list of its routes; an onRoute hook added as the instance is made sees
// every one. The module is otherwise the real one.
const registered = vi.hoisted(() => [] as RouteOptions[]);
vi.mock('fastify', async (importOriginal) => {
  const real = await importOriginal<typeof import('fastify')>();
  const make = ((opts: never) => {
    const app = real.default(opts);
    app.addHook('onRoute', (r) => void registered.push(r as unknown as RouteOptions));
    return app;
  }) as unknown as typeof real.default;
  return { ...real, default: make };
});

type Doc = { openapi: string; paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>; components: { schemas: Record<string, unknown> }; info: { description: string } };

describe('OpenAPI document', () => {
  let app: FastifyInstance;
  let doc: Doc;

  beforeAll(async () => {
    const config = testConfig();
    const log = new MemoryLog({ capacity: 100, retryAfterSec: 1 });
    await log.ensureTopics([{ name: config.log.reactionsTopic, partitions: 1 }]);
    const serdes = await createSerdes(new MemorySchemaRegistry(), config.log);
    // Every role's routes in one app (ingest, fan-out, pages), as the embedded role serves them.
    app = await buildApp({
      config,
      catalog,
      clock: new ManualClock(1_800_000_000_000),
      metrics: createMetrics(),
      logger: silentLogger,
      ingest: { producer: await log.producer(), codec: serdes.reactions, limits: localRateLimits(config.ingest, systemClock) },
      fanout: { bus: new MemoryBus({ historySize: 10 }), nodeId: 'n1' },
      pages: true,
    });
    await app.ready();
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    doc = res.json() as Doc;
  });
  afterAll(async () => app.close());

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('documents every route the app serves, except hidden asset routes', () => {
    // Static files and the docs' own routes hide themselves; @fastify/websocket hides WebSocket routes, which must still be documented.
    const visible = registered.filter((r) => r.websocket === true || !(r.schema as { hide?: boolean } | undefined)?.hide);
    expect(visible.length).toBeGreaterThan(8);
    const missing: string[] = [];
    for (const r of visible) {
      const p = r.url.replace(/:(\w+)/g, '{$1}');
      for (const m of [r.method].flat()) {
        if (m === 'HEAD') continue; // Fastify's automatic HEAD twins of GET routes
        if (!doc.paths[p]?.[m.toLowerCase()]) missing.push(`${m} ${r.url}`);
      }
    }
    expect(missing).toEqual([]);
    for (const p of ['/v1/reactions', '/v1/reactions/batch', '/v1/emojis', '/v1/live', '/healthz', '/readyz', '/metrics']) expect(doc.paths[p], p).toBeDefined();
  });

  it('describes every EMO_ERR_* code of the catalogue on the one error schema', () => {
    const text = JSON.stringify(doc);
    const schema = doc.components.schemas.EmoError as { properties: { code: { anyOf: { const: string; description: string }[] } } };
    const documented = schema.properties.code.anyOf.map((c) => c.const);
    for (const d of Object.values(ErrorCodes)) {
      expect(documented).toContain(d.code);
      expect(doc.info.description).toContain(d.code);
    }
    expect(text).not.toContain('"def-0"');
  });

  it('error responses of the ingest routes reference the shared error schema, and a real error body matches it', async () => {
    const post = doc.paths['/v1/reactions']!.post!;
    for (const status of ['400', '413', '415', '429', '500', '503']) {
      expect(post.responses[status]?.content?.['application/json']?.schema, status).toEqual({ $ref: '#/components/schemas/EmoError' });
    }
    const res = await app.inject({ method: 'POST', url: '/v1/reactions/batch', payload: { reactions: [{ matchId: 'm', userId: 'u', emoji: '🔥' }, { matchId: 'm', userId: 'u' }] } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ statusCode: 400, code: 'EMO_ERR_VALIDATION', error: 'Bad Request', message: expect.any(String), index: 1 });
  });

  it('describes the live WebSocket messages as components', () => {
    for (const name of ['LiveUpdateMessage', 'LiveGapMessage', 'LivePongMessage', 'LiveServerMessage', 'LiveClientMessage']) {
      expect(doc.components.schemas[name], name).toBeDefined();
    }
    expect(doc.paths['/v1/live']!.get!.responses['101']!.content!['application/json']!.schema).toEqual({ $ref: '#/components/schemas/LiveServerMessage' });
  });

  it('states the close codes the server sends, from the one table of them, and no other', () => {
    const live = (doc.paths['/v1/live']!.get! as unknown as { description: string }).description;
    for (const code of Object.values(CloseCodes)) expect(live).toContain(`${code} `);
    expect(live).not.toMatch(/\b4400\b|\b4408\b/);
    expect(Object.keys(doc.components.schemas)).not.toContain('LiveErrorMessage');
  });

  it('serves the docs page and its assets locally', async () => {
    const page = await app.inject({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).not.toMatch(/https?:\/\/(?!127\.0\.0\.1|localhost)[^"']*\.(js|css)/);
    const bundle = await app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    expect(bundle.statusCode).toBe(200);
  });
});


describe('OpenAPI document of another deployment', () => {
  it('states the window timing and ack margin of its own configuration, not fixed numbers', async () => {
    const config = testConfig({ aggregation: { windowMs: 4000, graceMs: 900, tsToleranceMs: 300 }, ingest: { closeMarginMs: 150 } });
    const log = new MemoryLog({ capacity: 100, retryAfterSec: 1 });
    await log.ensureTopics([{ name: config.log.reactionsTopic, partitions: 1 }]);
    const serdes = await createSerdes(new MemorySchemaRegistry(), config.log);
    const app = await buildApp({
      config, catalog, clock: new ManualClock(1_800_000_000_000), metrics: createMetrics(), logger: silentLogger,
      ingest: { producer: await log.producer(), codec: serdes.reactions, limits: localRateLimits(config.ingest, systemClock) }, pages: false,
    });
    try {
      const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as Doc & { paths: Record<string, { post?: { description?: string } }> };
      expect(doc.info.description).toContain('ingest, 4 s windows');
      const ingest = doc.paths['/v1/reactions']!.post!.description!;
      expect(ingest).toContain('300 ms (TS_TOLERANCE_MS)');
      expect(ingest).toContain('end + 900 ms (GRACE_MS)');
      expect(ingest).toContain('150 ms (ACK_CLOSE_MARGIN_MS)');
    } finally {
      await app.close();
    }
  });
});
