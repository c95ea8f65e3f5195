import { afterAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { ConfluentSchemaRegistry } from '../../src/adapters/confluent/confluent-registry.js';
import { createSerdes } from '../../src/codec/serde.js';
import { RedisBus } from '../../src/adapters/redis/redis-bus.js';
import { startRole, type Pipeline } from '../../src/roles/start.js';
import { EmoStreamClient, type LiveMessage, type LiveSubscription } from '../../packages/sdk/src/index.js';
import type { WebSocketCtor } from '../../packages/sdk/src/types.js';
import { silentLogger } from '../../helpers/fixtures.js';
import { createTopics, envFor, kafkaConfig, produceReactions } from '../../helpers/kafka.js';
import { startRoleProcess, type RoleProcess } from '../helpers/role-process.js';

const inProcess: Pipeline[] = [];
const nodes: RoleProcess[] = [];
const clients: EmoStreamClient[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close(500)));
  for (const n of nodes) await n.stop();
  for (const p of inProcess) await p.close();
});

/**
 * What a load balancer does for the SDK: the same URL path, sent to a node that is up. Client i
 * starts on node i % 3; after a node dies its clients land on the next live one.
 */
function balancedWebSocket(pick: () => string): WebSocketCtor {
  return class extends WebSocket {
    constructor(url: string) {
      const u = new URL(url);
      super(`${pick().replace(/^http/, 'ws')}${u.pathname}${u.search}`);
    }
  } as unknown as WebSocketCtor;
}

describe('fan-out cluster on Redis: publisher, three WebSocket nodes, clients spread over them', () => {
  it('every client gets every update once and in order; a node killed mid-stream loses its clients nothing', async () => {
    const config = kafkaConfig({ aggregation: { graceMs: 1000 } });
    await createTopics(config);
    const env = envFor(config);
    // The pipeline upstream of the bus runs here; the fan-out nodes are separate processes.
    inProcess.push(await startRole({ ...config, role: 'aggregator' }, { logger: silentLogger }));
    inProcess.push(await startRole({ ...config, role: 'publisher' }, { logger: silentLogger }));
    nodes.push(...(await Promise.all([0, 1, 2].map((i) => startRoleProcess({ ...env, ROLE: 'fanout', INSTANCE_ID: `node-${i}` })))));
    const alive = () => nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);

    // produceReactions names its matches match-0, match-1, ...
    const matches = ['match-0', 'match-1'];
    const got = new Map<number, LiveMessage[]>();
    const subs: LiveSubscription[] = [];
    for (let i = 0; i < 12; i++) {
      let first = true;
      const WebSocketImpl = balancedWebSocket(() => {
        const live = alive();
        const target = first ? nodes[i % 3]! : live[i % live.length]!;
        first = false;
        return target.url;
      });
      const c = new EmoStreamClient({ baseUrl: nodes[i % 3]!.url, userId: `viewer-${i}`, WebSocket: WebSocketImpl, reconnectBaseMs: 100, reconnectMaxMs: 500 });
      clients.push(c);
      got.set(i, []);
      subs.push(c.subscribe(matches[i % 2]!, (m) => got.get(i)!.push(m)));
    }
    await vi.waitFor(() => expect(subs.every((s) => s.state === 'connected')).toBe(true), { timeout: 20_000 });
    // Presence is summed over nodes: 6 viewers per match on 3 nodes.
    const bus = await RedisBus.connect({ url: config.redis.url, keyPrefix: config.redis.keyPrefix, historySize: 300, presenceTtlSec: 10, logger: silentLogger });
    await vi.waitFor(async () => expect(await bus.viewers('match-0')).toBe(6), { timeout: 10_000 });

    const serdes = await createSerdes(new ConfluentSchemaRegistry(config.registryUrl), config.log);
    let killed: RoleProcess | undefined;
    await produceReactions(config, serdes.reaction, 40_000, {
      matches: 2,
      perSecond: 4000,
      emojis: ['🔥', '😂', '😢', '🏏'],
      onProgress: async (n) => {
        if (!killed && n >= 20_000) {
          killed = nodes[0]!;
          await killed.kill9();
        }
      },
    });
    expect(killed).toBeDefined();

    // The complete, ordered history each match must have reached its viewers with.
    const epoch = await bus.epoch();
    const history = async (m: string) => {
      const r = await bus.replay(m, -1, epoch);
      return r.kind === 'replay' ? r.updates.map((u) => u.seq) : [];
    };
    // Windows close ~3 s after the last reaction; wait until the history stops growing.
    let seqs: Record<string, number[]> = {};
    await vi.waitFor(async () => {
      const next = { A: await history('match-0'), B: await history('match-1') };
      const same = JSON.stringify(next) === JSON.stringify(seqs) && next.A.length >= 5;
      seqs = next;
      expect(same).toBe(true);
    }, { timeout: 30_000, interval: 2000 });

    for (const [i, messages] of got) {
      const want = i % 2 === 0 ? seqs.A! : seqs.B!;
      await vi.waitFor(() => expect(messages.map((m) => m.seq)).toEqual(want), { timeout: 15_000 });
      // Each update links to the one before it: no gap, no duplicate, no reordering.
      messages.forEach((m, k) => expect(m.prevSeq).toBe(k === 0 ? -1 : messages[k - 1]!.seq));
    }
    // The killed node's clients moved to the survivors.
    await vi.waitFor(async () => expect(await bus.viewers('match-0')).toBe(6), { timeout: 20_000 });
    await bus.close();
  });
});
