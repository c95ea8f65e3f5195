import type { Redis } from 'ioredis';
import { describe, expect, it, vi } from 'vitest';
import { RedisBus } from '../../src/adapters/redis/redis-bus.js';
import { silentLogger } from '../../helpers/fixtures.js';
import { agg, busContract } from './bus-suite.js';

const url = () => process.env.REDIS_URL!;

// The same contract the in-memory bus passes, against the real Redis started by scripts/infra.
busContract('redis', {
  create: ({ historySize, namespace }) => RedisBus.connect({ url: url(), keyPrefix: `${namespace}:`, historySize, presenceTtlSec: 10, logger: silentLogger }),
  // Pub/sub is asynchronous: a PING on the same connection order is not enough across two connections.
  settle: () => new Promise((r) => setTimeout(r, 150)),
});

describe('RedisBus when ioredis gives a client up', () => {
  it('replaces a client that ended (status end, every command "Connection is closed."): publish and delivery resume', async () => {
    const opts = { url: url(), keyPrefix: `end${Date.now()}:`, historySize: 50, presenceTtlSec: 10, logger: silentLogger };
    const [publisher, node] = await Promise.all([RedisBus.connect(opts), RedisBus.connect(opts)]);
    try {
      const got: number[] = [];
      await node.subscribe('m', (u) => got.push(u.seq));
      await publisher.publish(agg('m', 1));
      await vi.waitFor(() => expect(got).toEqual([1]));
      // What ioredis does after a connect failure inside its Sentinel connector: the client ends.
      // disconnect() takes it to the same status `end`, which the bus must not live with.
      const clients = (b: RedisBus) => b as unknown as { cmd: Redis; sub: Redis };
      const [oldCmd, oldSub] = [clients(publisher).cmd, clients(node).sub];
      oldCmd.disconnect();
      oldSub.disconnect();
      await expect(oldCmd.get('x')).rejects.toThrow(/Connection is closed/);
      await vi.waitFor(() => expect(clients(publisher).cmd).not.toBe(oldCmd), { timeout: 10_000 });
      await vi.waitFor(() => expect(clients(node).sub).not.toBe(oldSub), { timeout: 10_000 });
      await publisher.publish(agg('m', 2));
      await vi.waitFor(() => expect(got).toEqual([1, 2]));
      expect((await node.latest('m'))!.seq).toBe(2);
    } finally {
      await Promise.all([publisher.close(), node.close()]);
    }
  });
});

describe('RedisBus when only its epoch key is lost (a DEL, an eviction)', () => {
  it('starts the new epoch at prevSeq -1 and never replays the old epoch into it', async () => {
    const prefix = `ep${Date.now()}:`;
    const bus = await RedisBus.connect({ url: url(), keyPrefix: prefix, historySize: 50, presenceTtlSec: 10, logger: silentLogger });
    try {
      await bus.publish(agg('m', 1));
      await bus.publish(agg('m', 2));
      const old = await bus.epoch();
      await (bus as unknown as { cmd: Redis }).cmd.del(`${prefix}epoch`);
      const next = await bus.publish(agg('m', 3));
      expect(next!.epoch).not.toBe(old);
      // Linked to the old epoch's 2, a client would look for 2 in the new epoch's history forever.
      expect(next!.prevSeq).toBe(-1);
      const r = await bus.replay('m', -1, next!.epoch);
      expect(r.kind === 'replay' && r.updates.map((u) => [u.seq, u.prevSeq, u.epoch])).toEqual([[3, -1, next!.epoch]]);
      expect((await bus.publish(agg('m', 4)))!.prevSeq).toBe(3);
    } finally {
      await bus.close();
    }
  });
});

describe('RedisBus across nodes', () => {
  it('delivers one node\'s publish to subscribers on other nodes, and serves their replay from the shared history', async () => {
    const prefix = `x${Date.now()}:`;
    const opts = { url: url(), keyPrefix: prefix, historySize: 50, presenceTtlSec: 10, logger: silentLogger };
    const [publisher, nodeA, nodeB] = await Promise.all([RedisBus.connect(opts), RedisBus.connect(opts), RedisBus.connect(opts)]);
    try {
      const a: number[] = [];
      const b: number[] = [];
      await nodeA.subscribe('m', (u) => a.push(u.seq));
      await nodeB.subscribe('m', (u) => b.push(u.seq));
      for (const s of [3, 4, 6]) await publisher.publish(agg('m', s));
      await new Promise((r) => setTimeout(r, 200));
      expect(a).toEqual([3, 4, 6]);
      expect(b).toEqual([3, 4, 6]);
      const epoch = await nodeB.epoch();
      expect(epoch).toBe(await publisher.epoch());
      const r = await nodeB.replay('m', 3, epoch);
      expect(r.kind === 'replay' && r.updates.map((u) => [u.seq, u.prevSeq])).toEqual([
        [4, 3],
        [6, 4],
      ]);
      // Exact doubles survive the Lua splice (no 14-digit cjson rounding).
      const third = 1 / 3;
      await publisher.publish({ ...agg('m', 7), sentiment: third });
      expect((await nodeA.latest('m'))!.sentiment).toBe(third);
    } finally {
      await Promise.all([publisher.close(), nodeA.close(), nodeB.close()]);
    }
  });

  it('drops the viewers of a node that stopped refreshing its presence', async () => {
    const opts = { url: url(), keyPrefix: `p${Date.now()}:`, historySize: 5, presenceTtlSec: 2, logger: silentLogger };
    const [live, dying] = await Promise.all([RedisBus.connect(opts), RedisBus.connect(opts)]);
    try {
      await live.setPresence('live-node', 'm', 2);
      await dying.setPresence('dead-node', 'm', 5);
      expect(await live.viewers('m')).toBe(7);
      await dying.close(); // no more refreshes: its key expires
      await new Promise((r) => setTimeout(r, 1200));
      await live.setPresence('live-node', 'm', 2);
      await new Promise((r) => setTimeout(r, 1200));
      await live.setPresence('live-node', 'm', 2);
      expect(await live.viewers('m')).toBe(2);
    } finally {
      await live.close();
    }
  });
});
