import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryBus } from '../../src/adapters/memory/memory-bus.js';
import { MemoryLog } from '../../src/adapters/memory/memory-log.js';
import { MemorySchemaRegistry } from '../../src/adapters/memory/memory-schema-registry.js';
import { AvroSerde, createSerdes, loadAvsc } from '../../src/codec/serde.js';
import type { WindowAggregate } from '../../src/domain/types.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import type { LogConsumer } from '../../src/ports/log.js';
import { PublisherRunner } from '../../src/publish/publisher-runner.js';
import { StageProgress } from '../../src/stage/stage-progress.js';
import { emoError } from '../../src/domain/errors.js';
import { AwayRegistry, silentLogger } from '../../helpers/fixtures.js';

const T0 = 1_800_000_000_000;

/** An empty poll as a stuck consumer gives one: it waits (at most 20 ms), then returns nothing. */
async function idlePoll(timeoutMs: number): Promise<[]> {
  await new Promise((r) => setTimeout(r, Math.min(timeoutMs, 20)));
  return [];
}

/** The recoveries counter's value for one kind (undefined when it never counted). */
async function recoveries(metrics: ReturnType<typeof createMetrics>, kind: string): Promise<number | undefined> {
  return (await metrics.recoveries.get()).values.find((v) => v.labels.kind === kind)?.value;
}

/**
 * The memory log whose consumers can stop fetching, as librdkafka's did in the chaos soak after a
 * frozen broker: polls come back empty while the partition holds records (its lag says so).
 * `healsOn` says what brings a consumer back: a rewind, or nothing but a new consumer.
 */
class StarvingLog extends MemoryLog {
  starving = false;
  healsOn: 'rewind' | 'new-consumer' = 'rewind';
  consumers = 0;
  rewinds = 0;
  emptyPolls = 0;
  override async consumer(opts: { groupId: string; topics: string[] }): Promise<LogConsumer> {
    const c = await super.consumer(opts);
    this.consumers++;
    const fresh = this.consumers > 1;
    let stuck = false;
    const poll = c.poll.bind(c);
    const rewind = c.rewind.bind(c);
    c.poll = async (max, timeoutMs) => {
      if (this.starving && !fresh) stuck = true;
      if (stuck) {
        this.emptyPolls++;
        return idlePoll(timeoutMs);
      }
      return poll(max, timeoutMs);
    };
    c.rewind = async (partitions) => {
      this.rewinds++;
      if (this.healsOn === 'rewind') {
        stuck = false;
        this.starving = false;
      }
      return rewind(partitions);
    };
    return c;
  }
}

let runner: PublisherRunner | undefined;
afterEach(async () => {
  await runner?.close();
  runner = undefined;
});

async function setup(log: MemoryLog, starvedAfterMs = 300) {
  await log.ensureTopics([{ name: 'a', partitions: 1 }]);
  const serdes = await createSerdes(new MemorySchemaRegistry(), { reactionsTopic: 'r', aggregatesTopic: 'a' });
  const bus = new MemoryBus({ historySize: 100 });
  const seen: number[] = [];
  await bus.subscribe('m', (u) => void seen.push(u.seq));
  const metrics = createMetrics();
  const progress = new StageProgress('publisher', { now: () => Date.now() }, 30_000, metrics);
  runner = new PublisherRunner({ log, bus, serde: serdes.aggregate, aggregatesTopic: 'a', groupId: 'pub', windowMs: 2000, metrics, logger: silentLogger, progress, pollTimeoutMs: 20, starvedAfterMs });
  await runner.start();
  const producer = await log.producer();
  const publish = async (from: number, n: number) => {
    const windows: WindowAggregate[] = Array.from({ length: n }, (_, i) => {
      const start = T0 + (from + i) * 2000;
      return { matchId: 'm', windowStart: start, windowEnd: start + 2000, counts: { '🔥': 1 }, units: { '🔥': 1 }, total: 1, sentiment: 1 };
    });
    await producer.send(windows.map((w) => ({ topic: 'a', key: `m|${w.windowStart}`, value: serdes.aggregate.encode(w) })));
  };
  /** `before` windows reach the bus; then the consumer starves and `during` more are published: all must arrive. */
  const starveWhilePublishing = async (before: number, during: number, timeout: number) => {
    if (!(log instanceof StarvingLog)) throw new Error('starveWhilePublishing needs a StarvingLog');
    await publish(0, before);
    await vi.waitFor(() => expect(seen).toHaveLength(before));
    log.starving = true;
    await vi.waitFor(() => expect(log.emptyPolls).toBeGreaterThan(0));
    await publish(before, during);
    await vi.waitFor(() => expect(seen).toHaveLength(before + during), { timeout, interval: 50 });
  };
  return { seen, metrics, publish, starveWhilePublishing };
}

describe('publisher runner: a consumer that stops fetching', () => {
  it('goes back to the committed offsets when records wait and none arrive, and every window reaches the bus', async () => {
    const log = new StarvingLog({ defaultPartitions: 1 });
    const { metrics, starveWhilePublishing } = await setup(log);
    await starveWhilePublishing(3, 4, 5_000);
    expect(log.rewinds).toBe(1);
    expect(log.consumers).toBe(1);
    expect(await recoveries(metrics, 'starved-rewind')).toBe(1);
  });

  it('replaces the consumer when a rewind does not bring records back', async () => {
    const log = new StarvingLog({ defaultPartitions: 1 });
    log.healsOn = 'new-consumer';
    const { seen, starveWhilePublishing } = await setup(log);
    await starveWhilePublishing(2, 3, 8_000);
    expect(log.rewinds).toBe(1);
    expect(log.consumers).toBe(2);
    // In order, once each: what the new consumer read again, the bus had already.
    expect(seen).toEqual([1, 2, 3, 4, 5].map((i) => (T0 + (i - 1) * 2000) / 2000));
  });
});

/**
 * The memory log whose first consumer's client cannot reach the log once `dead` is set, as a
 * librdkafka consumer could not after a frozen broker (chaos soak and CI, 7 Dec): empty polls, and
 * every call that asks the broker (lag, rewind) fails, while the group's view (a fresh client in
 * the Kafka adapter) answers.
 */
class DeadClientLog extends MemoryLog {
  dead = false;
  consumers = 0;
  failedRewinds = 0;
  emptyPolls = 0;
  override async consumer(opts: { groupId: string; topics: string[] }): Promise<LogConsumer> {
    const c = await super.consumer(opts);
    if (++this.consumers > 1) return c;
    const poll = c.poll.bind(c);
    const lag = c.lag.bind(c);
    const rewind = c.rewind.bind(c);
    const unreachable = () => emoError('LOG_UNAVAILABLE', 'all broker connections are down');
    c.poll = async (max, timeoutMs) => {
      if (!this.dead) return poll(max, timeoutMs);
      this.emptyPolls++;
      return idlePoll(timeoutMs);
    };
    c.lag = async (tp) => {
      if (this.dead) throw unreachable();
      return lag(tp);
    };
    c.rewind = async (partitions) => {
      if (!this.dead) return rewind(partitions);
      this.failedRewinds++;
      throw unreachable();
    };
    return c;
  }
}

describe('publisher runner: a consumer whose client cannot reach the log while the log is there', () => {
  it('is replaced once its rewind fails, and every window reaches the bus once, in order', async () => {
    const log = new DeadClientLog({ defaultPartitions: 1 });
    const { seen, metrics, publish } = await setup(log, 150);
    await publish(0, 2);
    await vi.waitFor(() => expect(seen).toHaveLength(2), { timeout: 5_000, interval: 50 });
    log.dead = true;
    await vi.waitFor(() => expect(log.emptyPolls).toBeGreaterThan(0));
    await publish(2, 3);
    await vi.waitFor(() => expect(seen).toHaveLength(5), { timeout: 5_000, interval: 50 });
    expect({ failedRewinds: log.failedRewinds, consumers: log.consumers }).toEqual({ failedRewinds: 1, consumers: 2 });
    expect(seen).toEqual([1, 2, 3, 4, 5].map((i) => (T0 + (i - 1) * 2000) / 2000));
    expect(await recoveries(metrics, 'starved-new-consumer')).toBe(1);
  });
});

/**
 * The memory log whose first consumer is left out of its group, as a librdkafka consumer was after
 * a frozen broker in the chaos soak: no partition assigned, empty polls, Kafka showing the group
 * with no member. A later consumer (a new member) is assigned as usual.
 */
class LeftOutLog extends MemoryLog {
  consumers = 0;
  override async consumer(opts: { groupId: string; topics: string[] }): Promise<LogConsumer> {
    const c = await super.consumer(opts);
    if (++this.consumers === 1) {
      c.poll = async (_max, timeoutMs) => idlePoll(timeoutMs);
    }
    return c;
  }
}

describe('publisher runner: a consumer left out of its group', () => {
  it('holding no partition while records wait that no member commits, it joins again with a new consumer, and every window reaches the bus', async () => {
    const log = new LeftOutLog({ defaultPartitions: 1 });
    const { seen, metrics, publish } = await setup(log, 150);
    await publish(0, 3);
    await vi.waitFor(() => expect(seen).toHaveLength(3), { timeout: 5_000, interval: 50 });
    expect(log.consumers).toBe(2);
    expect(await recoveries(metrics, 'starved-new-consumer')).toBe(1);
  });
});

describe('publisher runner: the schema registry away', () => {
  it('waits for the registry to learn a new writer schema instead of skipping its windows', async () => {
    const log = new MemoryLog({ defaultPartitions: 1 });
    await log.ensureTopics([{ name: 'a', partitions: 1 }]);
    const registry = new AwayRegistry();
    const serdes = await createSerdes(registry, { reactionsTopic: 'r', aggregatesTopic: 'a' });
    // A newer writer (an extra field): its schema id is new to the publisher, which must ask the registry.
    const v2 = loadAvsc('aggregate') as { fields: object[] };
    const writer = await AvroSerde.create<WindowAggregate & { region: string }>(registry, 'a-v2', { ...v2, fields: [...v2.fields, { name: 'region', type: 'string', default: '' }] });
    const bus = new MemoryBus({ historySize: 100 });
    const seen: number[] = [];
    await bus.subscribe('m', (u) => void seen.push(u.seq));
    const metrics = createMetrics();
    runner = new PublisherRunner({ log, bus, serde: serdes.aggregate, aggregatesTopic: 'a', groupId: 'pub', windowMs: 2000, metrics, logger: silentLogger, pollTimeoutMs: 20 });
    registry.downFor = 3;
    await runner.start();
    const producer = await log.producer();
    const windows = [0, 1, 2].map((i) => ({ matchId: 'm', windowStart: T0 + i * 2000, windowEnd: T0 + (i + 1) * 2000, counts: { '🔥': 1 }, units: { '🔥': 1 }, total: 1, sentiment: 1, region: 'eu' }));
    await producer.send(windows.map((w) => ({ topic: 'a', key: `m|${w.windowStart}`, value: writer.encode(w) })));
    await vi.waitFor(() => expect(seen).toHaveLength(3), { timeout: 5_000 });
    expect(registry.failedCalls).toBe(3);
    expect(seen).toEqual(windows.map((w) => w.windowStart / 2000));
    expect((await metrics.recordsUndecodable.get()).values.reduce((n, v) => n + v.value, 0)).toBe(0);
  });
});
