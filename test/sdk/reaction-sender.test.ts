import { createServer, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { emoError } from '../../src/domain/errors.js';
import { EmoStreamClient, fullJitter } from '../../packages/sdk/src/index.js';
import { retryAfterMs } from '../../packages/sdk/src/backoff.js';
import { ingestApp, NOW } from '../helpers/ingest-app.js';
import { ManualClock } from '../../helpers/manual-clock.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function listen(a: FastifyInstance): Promise<string> {
  await a.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(a.server.address() as { port: number }).port}`;
}

describe('backoff', () => {
  it('full jitter stays in [0, min(max, base * 2^attempt))', () => {
    expect(fullJitter(0, 100, 5000, () => 0.999)).toBe(99);
    expect(fullJitter(3, 100, 5000, () => 0.5)).toBe(400);
    expect(fullJitter(20, 100, 5000, () => 0.999)).toBe(4995);
    expect(fullJitter(5, 100, 5000, () => 0)).toBe(0);
  });

  it('reads Retry-After in seconds or as a date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4000)).toBe(6000);
  });
});

describe('ReactionSender over a real server', () => {
  it('batches, survives 503s honouring Retry-After, and delivers every reaction exactly once', async () => {
    let failures = 2;
    const t = await ingestApp({
      capacity: 10_000,
      wrap: (p) => ({
        ...p,
        send: async (records) => {
          if (failures-- > 0) throw emoError('BACKPRESSURE', undefined, { retryAfterSec: 1 });
          return p.send(records);
        },
      }),
    });
    app = t.app;
    // The sender's time is a ManualClock: each retry's delay passes when the test moves it.
    const clock = new ManualClock(NOW);
    const postedAt: number[] = [];
    const client = new EmoStreamClient({
      baseUrl: await listen(app), userId: 'u1', batchSize: 100, flushMs: 20, clock: () => NOW, timers: clock,
      fetch: (...a) => {
        postedAt.push(clock.now());
        return fetch(...a);
      },
    });
    const retries: Array<{ status: number | 'network'; delayMs: number }> = [];
    const sentBatches: number[] = [];
    client.sender.on('retry', (r) => {
      retries.push(r);
      // Once the sender has scheduled the retry, move its clock by the delay it asked for.
      setImmediate(() => clock.advance(r.delayMs));
    });
    client.sender.on('sent', (n) => sentBatches.push(n));
    for (let i = 0; i < 250; i++) expect(client.react(`m${i % 3}`, '🔥')).toBe(true);
    await client.flush(15_000);
    expect(client.sender.pending).toBe(0);
    expect(retries.map((r) => r.status)).toEqual([503, 503]);
    for (const r of retries) expect(r.delayMs).toBeGreaterThanOrEqual(1000);
    // Each batch after a 503 went out no sooner than its Retry-After (1 s) of the sender's clock.
    expect(postedAt[1]! - postedAt[0]!).toBeGreaterThanOrEqual(1000);
    expect(postedAt[2]! - postedAt[1]!).toBeGreaterThanOrEqual(1000);
    expect(sentBatches).toEqual([100, 100, 50]);
    expect((await t.stored()).length).toBe(250);
    await client.close();
  });

  it('keeps reactions through a network outage and sends them once the server is back', async () => {
    const t = await ingestApp({ capacity: 10_000 });
    app = t.app;
    const url = await listen(app);
    const port = Number(new URL(url).port);
    await app.close(); // server gone: connection refused
    const clock = new ManualClock(NOW);
    const client = new EmoStreamClient({ baseUrl: url, userId: 'u1', flushMs: 5, retryBaseMs: 20, retryMaxMs: 100, clock: () => NOW, timers: clock });
    const statuses: Array<number | 'network'> = [];
    client.sender.on('retry', (r) => statuses.push(r.status));
    for (let i = 0; i < 10; i++) client.react('m', '😂');
    clock.advance(5); // the batch is due: it goes to a server that is gone
    await vi.waitFor(() => expect(statuses).toEqual(['network']));
    expect(client.sender.pending).toBe(10);
    expect(clock.pending).toBe(1); // the retry waits for the clock (at most retryMaxMs)
    const again = await ingestApp({ capacity: 10_000 });
    app = again.app;
    await app.listen({ host: '127.0.0.1', port });
    const flushed = client.flush(5000);
    clock.advance(100);
    await flushed;
    expect(statuses).toEqual(['network']);
    expect(client.sender.pending).toBe(0);
    expect((await again.stored()).length).toBe(10);
    await client.close();
  });

  it('gives up a request that is never answered and sends its batch again: one hung request does not stop the sender', async () => {
    const held: ServerResponse[] = [];
    const accepted: number[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        // The first request is taken and never answered, as by a server or proxy that hung.
        if (held.length === 0) return void held.push(res);
        const n = (JSON.parse(body) as { reactions: unknown[] }).reactions.length;
        accepted.push(n);
        res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: n }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const clock = new ManualClock(NOW);
      const client = new EmoStreamClient({ baseUrl: url, userId: 'u1', flushMs: 5, retryBaseMs: 20, retryMaxMs: 100, requestTimeoutMs: 10_000, clock: () => NOW, timers: clock });
      const statuses: Array<number | 'network'> = [];
      client.sender.on('retry', (r) => statuses.push(r.status));
      for (let i = 0; i < 10; i++) client.react('m', '😂');
      clock.advance(5);
      await vi.waitFor(() => expect(held).toHaveLength(1));
      clock.advance(9_999);
      expect(statuses).toEqual([]);
      clock.advance(1); // the request's time is up
      await vi.waitFor(() => expect(statuses).toEqual(['network']));
      const flushed = client.flush(5000);
      clock.advance(100);
      await flushed;
      expect(accepted).toEqual([10]);
      expect(client.sender.pending).toBe(0);
      await client.close();
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('reports a batch the server refuses for good (400) instead of retrying it forever', async () => {
    const t = await ingestApp();
    app = t.app;
    const client = new EmoStreamClient({ baseUrl: await listen(app), userId: 'u1', flushMs: 5, clock: () => NOW });
    const rejected: Array<{ code: string; index?: number; n: number }> = [];
    client.sender.on('rejected', (e, batch) => rejected.push({ code: e.code, index: e.index, n: batch.length }));
    client.react('m', '🔥');
    client.react('m', 'not-an-emoji');
    await client.flush(5000);
    expect(rejected).toEqual([{ code: 'EMO_ERR_UNKNOWN_EMOJI', index: 1, n: 2 }]);
    await client.close();
  });

  it('sends its API token as a Bearer header where the deployment requires one', async () => {
    const t = await ingestApp({ config: { apiTokens: ['tok-1'] } });
    app = t.app;
    const url = await listen(app);
    const good = new EmoStreamClient({ baseUrl: url, userId: 'u1', flushMs: 5, token: 'tok-1', clock: () => NOW });
    const bad = new EmoStreamClient({ baseUrl: url, userId: 'u2', flushMs: 5, clock: () => NOW });
    const refused: string[] = [];
    bad.sender.on('rejected', (e) => refused.push(e.code));
    good.react('m', '🔥');
    bad.react('m', '🔥');
    await Promise.all([good.flush(5000), bad.flush(5000)]);
    expect((await t.stored()).length).toBe(1);
    expect(refused).toEqual(['EMO_ERR_UNAUTHORIZED']);
    await Promise.all([good.close(), bad.close()]);
  });

  it('refuses new reactions when its queue is full rather than dropping any', () => {
    const client = new EmoStreamClient({ baseUrl: 'http://127.0.0.1:1', userId: 'u', maxQueue: 3, flushMs: 60_000, batchSize: 100 });
    expect([1, 2, 3, 4].map(() => client.react('m', '🔥'))).toEqual([true, true, true, false]);
    expect(client.sender.pending).toBe(3);
  });
});
