import { afterEach, describe, expect, it, vi } from 'vitest';
import { AggregatorRunner } from '../../src/aggregate/aggregator-runner.js';
import { MemorySchemaRegistry } from '../../src/adapters/memory/memory-schema-registry.js';
import { createSerdes, type Serdes } from '../../src/codec/serde.js';
import { ManualClock } from '../../src/ports/clock.js';
import type { WindowAggregate } from '../../src/domain/types.js';
import { MemoryLog } from '../../src/adapters/memory/memory-log.js';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { catalog, silentLogger } from '../../helpers/fixtures.js';

const T0 = 1_800_000_000_000;
let runner: AggregatorRunner | undefined;
afterEach(async () => {
  await runner?.close();
  runner = undefined;
});

/** A runner on `log` reading topic r and writing topic a, 2 s windows, a commit after every poll. */
async function startRunner(log: MemoryLog, serdes: Serdes, clock: ManualClock, metrics: Metrics, punctuateMs = 10): Promise<void> {
  runner = new AggregatorRunner({
    log,
    serdes,
    catalog,
    rules: { windowMs: 2000, graceMs: 500, unitScale: 1000, topN: 8, tsToleranceMs: 250 },
    reactionsTopic: 'r',
    aggregatesTopic: 'a',
    groupId: 'agg',
    transactionalId: 'agg-0',
    clock,
    metrics,
    logger: silentLogger,
    punctuateMs,
    commitIntervalMs: 0,
  });
  await runner.start();
}

describe('AggregatorRunner on the memory log', () => {
  it('keeps closed windows when the aggregates log is full and delivers them, in order, once there is room', async () => {
    // Capacity 4 per topic; a publisher group that has read nothing yet holds the aggregates.
    const log = new MemoryLog({ capacity: 4, defaultPartitions: 1 });
    await log.ensureTopics([
      { name: 'r', partitions: 1 },
      { name: 'a', partitions: 1 },
    ]);
    log.joinGroup('publisher', ['a']);
    const serdes = await createSerdes(new MemorySchemaRegistry(), { reactionsTopic: 'r', aggregatesTopic: 'a' });
    const clock = new ManualClock(T0);
    const metrics = createMetrics();
    await startRunner(log, serdes, clock, metrics);
    const producer = await log.producer();
    const record = (w: number) => ({ topic: 'r', key: 'm', value: serdes.reaction.encode({ matchId: 'm', userId: 'u', emoji: '🔥', ts: T0 + w * 2000 + 700, receivedAt: T0 + w * 2000 + 700 }) });
    const react = (w: number) => producer.send([record(w)]);
    const aggregates = (from: number) => log.read('a', 0, from, 100).map((r) => serdes.aggregate.decodeKnown(r.value) as WindowAggregate);

    for (const w of [0, 1, 2]) await react(w);
    clock.set(T0 + 3 * 2000 + 500); // wall clock closes window 2 as well
    await vi.waitFor(() => expect(aggregates(0)).toHaveLength(3));
    // In one send, so one poll reads them: closes windows 3 and 4, and 3 + 2 > capacity 4. (Sent one
    // by one, the runner may commit reaction 3 alone first; the refusal would then start at 4.)
    await producer.send([3, 4, 5].map(record));
    await vi.waitFor(() => expect(log.committed('agg', 'r', 0)).toBe(3));
    await new Promise((r) => setTimeout(r, 200));
    expect(log.retained('a')).toBe(3); // refused, whole: nothing partial, nothing dropped
    const first = aggregates(0);

    log.commit('publisher', [{ topic: 'a', partition: 0, offset: 3 }]); // the publisher catches up
    clock.set(T0 + 6 * 2000 + 500);
    await vi.waitFor(() => expect(aggregates(3)).toHaveLength(3));
    const all = [...first, ...aggregates(3)];
    expect(all.map((a) => [(a.windowStart - T0) / 2000, a.total, a.counts])).toEqual([0, 1, 2, 3, 4, 5].map((w) => [w, 1, { '🔥': 1 }]));
    expect(log.committed('agg', 'r', 0)).toBe(6);
  });

  it("waits for input no longer than until the next window may close (not punctuateMs)", async () => {
    const log = new MemoryLog({ defaultPartitions: 1 });
    await log.ensureTopics([
      { name: 'r', partitions: 1 },
      { name: 'a', partitions: 1 },
    ]);
    const serdes = await createSerdes(new MemorySchemaRegistry(), { reactionsTopic: 'r', aggregatesTopic: 'a' });
    // The window [T0, T0 + 2000) may close at T0 + 2500; the clock is 50 ms short of it.
    const clock = new ManualClock(T0 + 2450);
    // punctuateMs 3 s: long enough to tell apart from the 50 ms it should wait, short enough for
    // afterEach's close, which waits for the poll in progress.
    await startRunner(log, serdes, clock, createMetrics(), 3000);
    const producer = await log.producer();
    await producer.send([{ topic: 'r', key: 'm', value: serdes.reaction.encode({ matchId: 'm', userId: 'u', emoji: '🔥', ts: T0 + 1950, receivedAt: T0 + 1950 }) }]);
    await vi.waitFor(() => expect(log.committed('agg', 'r', 0)).toBe(1));
    // No more input comes; the window is due now. Polling with punctuateMs (3 s) would sit on it.
    clock.set(T0 + 2600);
    await vi.waitFor(() => expect(log.read('a', 0, 0, 10)).toHaveLength(1), { timeout: 1500 });
  });

  it('counts packed and single records alike; a poison packed record counts none of its reactions', async () => {
    const log = new MemoryLog({ capacity: 1000, defaultPartitions: 2 });
    await log.ensureTopics([
      { name: 'r', partitions: 2 },
      { name: 'a', partitions: 1 },
    ]);
    const registry = new MemorySchemaRegistry();
    const packed = await createSerdes(registry, { reactionsTopic: 'r', aggregatesTopic: 'a' }, 'packed');
    const single = await createSerdes(registry, { reactionsTopic: 'r', aggregatesTopic: 'a' }, 'single');
    const clock = new ManualClock(T0);
    const metrics = createMetrics();
    await startRunner(log, packed, clock, metrics);
    const producer = await log.producer();
    const at = T0 + 300;
    const reaction = (matchId: string, emoji: string, i: number) => ({ matchId, userId: `u${i}`, emoji, ts: at, receivedAt: at });
    const request = [...Array.from({ length: 30 }, (_, i) => reaction('m1', '🔥', i)), ...Array.from({ length: 12 }, (_, i) => reaction('m2', '😂', i))];
    const poison = packed.reactions.records('r', [reaction('m1', '🔥', 99)])[0]!;
    await producer.send([
      ...packed.reactions.records('r', request),
      ...single.reactions.records('r', [reaction('m1', '😂', 50), reaction('m2', '😂', 51)]),
      { ...poison, value: poison.value.subarray(0, poison.value.length - 2) },
    ]);
    clock.set(T0 + 2000 + 500);
    const aggregates = () => log.read('a', 0, 0, 100).map((r) => packed.aggregate.decodeKnown(r.value) as WindowAggregate);
    await vi.waitFor(() => expect(aggregates()).toHaveLength(2));
    const byMatch = Object.fromEntries(aggregates().map((a) => [a.matchId, { ...a.counts }]));
    expect(byMatch).toEqual({ m1: { '🔥': 30, '😂': 1 }, m2: { '😂': 13 } });
    expect((await metrics.recordsUndecodable.get()).values.reduce((n, v) => n + v.value, 0)).toBe(1);
  });
});
