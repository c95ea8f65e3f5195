import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { systemClock } from '../../src/ports/clock.js';
import { RedisBus } from '../../src/adapters/redis/redis-bus.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { EmoStreamClient, type LiveMessage } from '../../packages/sdk/src/index.js';
import type { GapMessage } from '../../packages/sdk/src/types.js';
import { catalog, silentLogger, testConfig } from '../../helpers/fixtures.js';
import { readMetric } from '../../helpers/metrics.js';
import { agg } from './bus-suite.js';

// A fan-out node's bus connection is cut mid-stream (CLIENT KILL of its subscriber on the real
// Redis): the updates published meanwhile never reach it over pub/sub. The viewer (through the SDK)
// must then get every update in order, or be told of the hole with a gap: never a silent hole.
const HISTORY = 3;
const prefix = `gap-${randomUUID().slice(0, 8)}:`;
const channel = `${prefix}ch:{m}`;
let admin: Redis;
let publisher: RedisBus;
let node: RedisBus;
let app: FastifyInstance;
let viewer: EmoStreamClient;
const metrics = createMetrics();
const got: LiveMessage[] = [];
const gaps: GapMessage[] = [];
const events: string[] = [];

let foreign = new Set<string>();

/** Subscribed bus connections on this Redis (other processes' ones are recorded in `foreign` first). */
async function subscriberIds(): Promise<string[]> {
  const list = (await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
  return list.split('\n').filter((l) => l.includes('name=emostream-sub')).map((l) => /id=(\d+)/.exec(l)![1]!);
}

/** Cuts the node's subscriber connection; pub/sub drops the channel at once on the server side. */
async function cutNodeSubscription(): Promise<void> {
  const ours = (await subscriberIds()).filter((id) => !foreign.has(id));
  expect(ours).toHaveLength(1);
  await admin.call('CLIENT', 'KILL', 'ID', ours[0]!);
  const [, n] = (await admin.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
  expect(n).toBe(0);
}

async function waitResubscribed(): Promise<void> {
  await vi.waitFor(async () => expect(((await admin.call('PUBSUB', 'NUMSUB', channel)) as [string, number])[1]).toBe(1), { timeout: 15_000 });
}

/** Every delivered update links to the one before it, or a gap was told in between. */
function silentHoles(): string[] {
  const holes: string[] = [];
  let last: LiveMessage | undefined;
  let toldSince = -1;
  for (const e of events) {
    const [kind, seq] = e.split(':');
    if (kind === 'gap') toldSince = Number(seq);
    else {
      const m = got.find((u) => u.seq === Number(seq))!;
      if (last && m.prevSeq !== last.seq && toldSince !== last.seq) holes.push(`${last.seq} -> ${m.seq} (prevSeq ${m.prevSeq})`);
      last = m;
    }
  }
  return holes;
}

beforeAll(async () => {
  const url = process.env.REDIS_URL!;
  admin = new Redis(url);
  const opts = { url, keyPrefix: prefix, historySize: HISTORY, presenceTtlSec: 10, logger: silentLogger };
  publisher = await RedisBus.connect(opts);
  foreign = new Set(await subscriberIds());
  node = await RedisBus.connect(opts);
  app = await buildApp({ config: testConfig(), catalog, clock: systemClock, metrics, logger: silentLogger, fanout: { bus: node, nodeId: 'gap-node' }, pages: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  viewer = new EmoStreamClient({ baseUrl: `http://127.0.0.1:${port}`, userId: 'viewer', WebSocket: WebSocket as never });
  const sub = viewer.subscribe('m', (m) => {
    got.push(m);
    events.push(`update:${m.seq}`);
  }, { gap: (g) => {
    gaps.push(g);
    events.push(`gap:${g.since}`);
  } });
  await vi.waitFor(() => expect(sub.state).toBe('connected'));
  await waitResubscribed();
});

afterAll(async () => {
  await viewer?.close(1000);
  await app?.close();
  await node?.close();
  await publisher?.close();
  admin?.disconnect();
});

describe('a fan-out node whose bus connection is cut mid-stream', () => {
  it('fills what it missed from history: the viewer gets every update once, in order', async () => {
    for (const s of [1, 2, 3]) await publisher.publish(agg('m', s));
    await vi.waitFor(() => expect(got.map((m) => m.seq)).toEqual([1, 2, 3]));
    await cutNodeSubscription();
    for (const s of [4, 5]) await publisher.publish(agg('m', s)); // lost on pub/sub
    await waitResubscribed();
    await publisher.publish(agg('m', 6));
    await vi.waitFor(() => expect(got.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]));
    expect(gaps).toEqual([]);
    expect(silentHoles()).toEqual([]);
    expect(readMetric(await metrics.registry.metrics(), 'emostream_fanout_gaps_total', { reason: 'filled' })).toBe(1);
  });

  it('tells the viewer with a gap when the history no longer reaches back, and goes on after it', async () => {
    await cutNodeSubscription();
    for (const s of [7, 8, 9, 10, 11, 12]) await publisher.publish(agg('m', s)); // history keeps 10..12
    await waitResubscribed();
    await publisher.publish(agg('m', 13));
    await vi.waitFor(() => expect(got.at(-1)?.seq).toBe(13));
    expect(gaps.map((g) => [g.reason, g.since])).toEqual([['history-trimmed', 6]]);
    expect(got.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 13]);
    expect(silentHoles()).toEqual([]);
    expect(readMetric(await metrics.registry.metrics(), 'emostream_fanout_gaps_total', { reason: 'history-trimmed' })).toBe(1);
  });
});
