import { afterEach, describe, expect, it, vi } from 'vitest';
import { AggregatorRunner } from '../../src/aggregate/aggregator-runner.js';
import { MemorySchemaRegistry } from '../../src/adapters/memory/memory-schema-registry.js';
import { AvroSerde, createSerdes, loadAvsc, type Serdes } from '../../src/codec/serde.js';
import type { ReactionBatch } from '../../src/codec/reaction-codec.js';
import { ManualClock } from '../../helpers/manual-clock.js';
import type { WindowAggregate } from '../../src/domain/types.js';
import { MemoryLog } from '../../src/adapters/memory/memory-log.js';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { AwayRegistry, catalog, silentLogger } from '../../helpers/fixtures.js';
import type { AggregatorSnapshot, FenceTarget, LoadedState, WindowStateStore } from '../../src/ports/window-state-store.js';
import { emoError } from '../../src/domain/errors.js';
import { StageProgress } from '../../src/stage/stage-progress.js';
import type { TopicPartition } from '../../src/ports/log.js';

const T0 = 1_800_000_000_000;
let runner: AggregatorRunner | undefined;
afterEach(async () => {
  await runner?.close();
  runner = undefined;
});

/** A runner on `log` reading topic r and writing topic a, 2 s windows, a commit after every poll. */
async function startRunner(log: MemoryLog, serdes: Serdes, clock: ManualClock, metrics: Metrics, punctuateMs = 10, stateStore?: WindowStateStore, progress?: StageProgress, starvedAfterMs?: number): Promise<void> {
  runner = new AggregatorRunner({
    ...(starvedAfterMs !== undefined ? { starvedAfterMs } : {}),
    ...(stateStore ? { stateStore } : {}),
    ...(progress ? { progress } : {}),
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

/**
 * A changelog kept on the memory log whose reads can lag its writes by one snapshot. On Kafka the
 * same happens for a moment after each commit: the transaction's markers reach the changelog and
 * the group's offsets separately, and until the changelog's marker is there the snapshot is part
 * of an open transaction. That race cannot be produced on demand against a broker, so this double
 * stands in for the Kafka store's read side only; what it reads is the real log.
 */
class LaggingChangelog implements WindowStateStore {
  staleLoads = 0;
  /** Loads that report a transaction open on the changelog (whatever they read). */
  openLoads = 0;
  /**
   * A hanging transaction: the last snapshot stays behind a transaction no one ends (until a
   * fence ends it, see FencingLog), and the load says where it is and who wrote it.
   */
  hanging = false;
  loads = 0;
  constructor(
    private readonly log: MemoryLog,
    private readonly topic: string,
  ) {}

  record(tp: TopicPartition, snapshot: AggregatorSnapshot) {
    return { topic: this.topic, partition: tp.partition, key: `${tp.topic}/${tp.partition}`, value: Buffer.from(JSON.stringify(snapshot)) };
  }

  async load(tp: TopicPartition): Promise<LoadedState> {
    this.loads++;
    const mine = this.log.read(this.topic, tp.partition, 0, 1_000_000).filter((r) => r.key === `${tp.topic}/${tp.partition}`);
    const lag = this.staleLoads > 0 || this.hanging ? 1 : 0;
    if (this.staleLoads > 0) this.staleLoads--;
    const open = lag > 0 || this.openLoads > 0;
    if (this.openLoads > 0) this.openLoads--;
    const r = mine[mine.length - 1 - lag];
    const snapshot = (i: number) => (mine[i] ? (JSON.parse(mine[i].value.toString()) as AggregatorSnapshot) : null);
    const openAt = this.hanging ? { openAt: { tp: { topic: this.topic, partition: tp.partition }, writer: snapshot(mine.length - 1)?.writer } } : {};
    return { snapshot: r ? snapshot(mine.length - 1 - lag) : null, openTransaction: open, ...openAt };
  }
}

/**
 * The memory log whose session's fence ends the changelog's hanging transaction, as the Kafka
 * session's fence does on a broker (kafka-state-store.int.test.ts). A real hanging transaction (one
 * Kafka's coordinator lost track of) cannot be made on demand: it needs a broker that appends a
 * producer's request after the coordinator ended its transaction.
 */
class FencingLog extends MemoryLog {
  fenced: Array<FenceTarget | undefined> = [];
  changelog: LaggingChangelog | undefined;
  override async transactionalSession(opts: { transactionalId: string; groupId: string; topics: string[] }) {
    const session = await super.transactionalSession(opts);
    return {
      ...session,
      fence: async (target?: FenceTarget) => {
        this.fenced.push(target);
        if (this.changelog && target) this.changelog.hanging = false;
      },
    };
  }
}

/**
 * The memory log whose group-offset fetch never answers, as a Kafka group coordinator holding a
 * pending transactional offset commit that no transaction will end (the broker-side hang behind
 * the chaos tier's wedge: every require_stable OffsetFetch answers UNSTABLE_OFFSET_COMMIT until
 * it times out). Only `committed` is replaced; it cannot be made to hang on a real broker on
 * demand. `fences` counts the session's fence() calls.
 */
class UnstableOffsetsLog extends MemoryLog {
  committedCalls = 0;
  fences = 0;
  override async transactionalSession(opts: { transactionalId: string; groupId: string; topics: string[] }) {
    const session = await super.transactionalSession(opts);
    const consumer = session.consumer;
    consumer.committed = async () => {
      this.committedCalls++;
      throw emoError('LOG_UNAVAILABLE', 'committed offsets not known in 2000 ms (unstable offset commit)');
    };
    return { ...session, fence: async () => void this.fences++ };
  }
}

/**
 * The memory log whose transactional commits fail on demand, as a Kafka transaction does when a
 * broker dies: 'aborted' before anything commits (librdkafka failed before commitTransaction was
 * asked), 'unknown' after the commit did happen (its answer lost). The outcome is what the Kafka
 * session tags its errors with; the timing of a real failure cannot be chosen against a broker.
 */
class FailingCommitsLog extends MemoryLog {
  next: Array<'aborted' | 'unknown'> = [];
  override async transactionalSession(opts: { transactionalId: string; groupId: string; topics: string[] }) {
    const session = await super.transactionalSession(opts);
    const commit = session.commit.bind(session);
    return {
      ...session,
      consumer: session.consumer,
      commit: async (records: Parameters<typeof commit>[0], offsets: Parameters<typeof commit>[1]) => {
        const fault = this.next.shift();
        if (fault === 'aborted') throw emoError('LOG_UNAVAILABLE', 'Kafka transaction failed: timed out', { details: { outcome: 'aborted' } });
        await commit(records, offsets);
        if (fault === 'unknown') throw emoError('LOG_UNAVAILABLE', 'Kafka transaction failed: commit timed out', { details: { outcome: 'unknown' } });
      },
    };
  }
}

/** A runner on `log` with a changelog, started on a ManualClock at T0 (commit interval 10 ms). */
async function runnerWithChangelog(log: MemoryLog) {
  const { serdes, react } = await threeWindowsLog(log);
  const clock = new ManualClock(T0);
  const changelog = new LaggingChangelog(log, 'state');
  const metrics = createMetrics();
  await startRunner(log, serdes, clock, metrics, 10, changelog);
  return { serdes, react, clock, changelog, metrics };
}

async function threeWindowsLog(log: MemoryLog): Promise<{ serdes: Serdes; react: (n: number, from?: number) => Promise<void> }> {
  await log.ensureTopics([
    { name: 'r', partitions: 1 },
    { name: 'a', partitions: 1 },
    { name: 'state', partitions: 1 },
  ]);
  const serdes = await createSerdes(new MemorySchemaRegistry(), { reactionsTopic: 'r', aggregatesTopic: 'a' });
  const producer = await log.producer();
  const react = (n: number, from = 0) =>
    producer.send(Array.from({ length: n }, (_, i) => ({ topic: 'r', key: 'm', value: serdes.reaction.encode({ matchId: 'm', userId: `u${from + i}`, emoji: '🔥', ts: T0 + 100, receivedAt: T0 + 100 }) })));
  return { serdes, react };
}

describe('AggregatorRunner on the memory log', () => {
  it('restores a partition from the snapshot saved with its committed offset, waiting out a changelog that lags the offsets', async () => {
    const log = new MemoryLog({ defaultPartitions: 1 });
    await log.ensureTopics([
      { name: 'r', partitions: 1 },
      { name: 'a', partitions: 1 },
      { name: 'state', partitions: 1 },
    ]);
    const serdes = await createSerdes(new MemorySchemaRegistry(), { reactionsTopic: 'r', aggregatesTopic: 'a' });
    const clock = new ManualClock(T0);
    const changelog = new LaggingChangelog(log, 'state');
    await startRunner(log, serdes, clock, createMetrics(), 10, changelog);
    const producer = await log.producer();
    const react = (n: number) => producer.send(Array.from({ length: n }, (_, i) => ({ topic: 'r', key: 'm', value: serdes.reaction.encode({ matchId: 'm', userId: `u${i}`, emoji: '🔥', ts: T0 + 100, receivedAt: T0 + 100 }) })));
    // Two commits, so the changelog holds two snapshots of the open window: 1 reaction, then 3.
    await react(1);
    await vi.waitFor(() => expect(log.committed('agg', 'r', 0)).toBe(1));
    await react(2);
    await vi.waitFor(() => expect(log.committed('agg', 'r', 0)).toBe(3));
    await runner!.close();

    // A new owner whose first two changelog reads still end before the last commit's snapshot.
    changelog.staleLoads = 2;
    const loadsBefore = changelog.loads;
    await startRunner(log, serdes, clock, createMetrics(), 10, changelog);
    clock.set(T0 + 2000 + 500);
    await vi.waitFor(() => expect(log.read('a', 0, 0, 10)).toHaveLength(1));
    const [window] = log.read('a', 0, 0, 10).map((r) => serdes.aggregate.decodeKnown(r.value) as WindowAggregate);
    // Restoring the 1-reaction snapshot and reading on from offset 3 would say 1.
    expect(window!.total).toBe(3);
    expect(changelog.loads - loadsBefore).toBeGreaterThanOrEqual(3);
  });

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
    // Appends the log refuses for want of room: the runner offers the held windows again on each.
    const append = vi.spyOn(log, 'append');
    const refusals = () => append.mock.results.filter((r) => r.type === 'throw').length;
    await producer.send([3, 4, 5].map(record));
    await vi.waitFor(() => expect(log.committed('agg', 'r', 0)).toBe(3));
    // Offered and refused three times (not a fixed wait): each time refused whole, nothing partial, nothing dropped.
    await vi.waitFor(() => expect(refusals()).toBeGreaterThanOrEqual(3));
    expect(log.retained('a')).toBe(3);
    expect(log.committed('agg', 'r', 0)).toBe(3);
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
  it('resumes from the changelog when the group offset fetch never answers: no window lost, none counted twice', async () => {
    const log = new UnstableOffsetsLog({ defaultPartitions: 1 });
    const { serdes, react, clock, changelog, metrics } = await runnerWithChangelog(log);
    await react(2);
    await vi.waitFor(() => expect(log.committed('agg', 'r', 0)).toBe(2));
    await runner!.close();
    // The new owner cannot learn the group's offset; the changelog has no open transaction.
    await startRunner(log, serdes, clock, metrics, 10, changelog);
    await react(3, 2);
    await vi.waitFor(() => expect(log.committed('agg', 'r', 0)).toBe(5));
    clock.set(T0 + 2000 + 500);
    await vi.waitFor(() => expect(log.read('a', 0, 0, 10)).toHaveLength(1));
    const [window] = log.read('a', 0, 0, 10).map((r) => serdes.aggregate.decodeKnown(r.value) as WindowAggregate);
    // From the committed offsets' default (the start) the 2 first reactions would count twice: 7.
    expect(window!.total).toBe(5);
    expect(log.committedCalls).toBeGreaterThan(0);
    expect((await metrics.resumes.get()).values.find((v) => v.labels.basis === 'changelog')?.value).toBeGreaterThan(0);
  });

  it('after a transaction known to be aborted, rewinds from the state its last commit wrote without reading the changelog; after an unknown outcome, from the changelog: each reaction once', async () => {
    const log = new FailingCommitsLog({ defaultPartitions: 1 });
    const { serdes, react, clock, changelog, metrics } = await runnerWithChangelog(log);
    await react(2);
    await vi.waitFor(() => expect(log.committed('agg', 'r', 0)).toBe(2));
    const loads = changelog.loads;
    log.next.push('aborted');
    await react(3, 2);
    await vi.waitFor(() => expect(log.committed('agg', 'r', 0)).toBe(5));
    expect(log.next).toEqual([]);
    expect(changelog.loads).toBe(loads);
    expect((await metrics.resumes.get()).values.find((v) => v.labels.basis === 'memory')?.value).toBe(1);
    // The commit happened but its answer was lost: the state in memory is one commit behind the
    // log's; only the changelog says where to resume (from memory, reaction 6 would count twice).
    log.next.push('unknown');
    await react(1, 5);
    await vi.waitFor(() => expect(changelog.loads).toBeGreaterThan(loads));
    await react(1, 6);
    await vi.waitFor(() => expect(log.committed('agg', 'r', 0)).toBe(7));
    clock.set(T0 + 2000 + 500);
    await vi.waitFor(() => expect(log.read('a', 0, 0, 10)).toHaveLength(1));
    const [window] = log.read('a', 0, 0, 10).map((r) => serdes.aggregate.decodeKnown(r.value) as WindowAggregate);
    expect(window!.total).toBe(7);
  });

  it('without the group offset, waits while a transaction is open on the changelog and fences its own id', async () => {
    const log = new UnstableOffsetsLog({ defaultPartitions: 1 });
    const { serdes, react } = await threeWindowsLog(log);
    const clock = new ManualClock(T0);
    const changelog = new LaggingChangelog(log, 'state');
    await startRunner(log, serdes, clock, createMetrics(), 10, changelog);
    await react(1);
    await vi.waitFor(() => expect(log.committed('agg', 'r', 0)).toBe(1));
    await react(2, 1);
    await vi.waitFor(() => expect(log.committed('agg', 'r', 0)).toBe(3));
    await runner!.close();
    // The last commit's snapshot still behind an open transaction for its first loads (about 1.3 s of
    // retries): restoring the 1-reaction snapshot and reading on from its offset would be exact too,
    // but only once the open transaction is known to be aborted; here it commits, so waiting is right.
    changelog.staleLoads = 8;
    const progress = new StageProgress('aggregator', clock, 30_000);
    await startRunner(log, serdes, clock, createMetrics(), 10, changelog, progress);
    // Not ready while its partition's state is not restored: no window of it can come out yet.
    await vi.waitFor(() => expect(changelog.staleLoads).toBeLessThan(8));
    expect(progress.ready()).toBe(false);
    await vi.waitFor(() => expect(progress.ready()).toBe(true), { timeout: 10_000 });
    expect(changelog.staleLoads).toBe(0);
    clock.set(T0 + 2000 + 500);
    await vi.waitFor(() => expect(log.read('a', 0, 0, 10)).toHaveLength(1), { timeout: 10_000 });
    const [window] = log.read('a', 0, 0, 10).map((r) => serdes.aggregate.decodeKnown(r.value) as WindowAggregate);
    expect(window!.total).toBe(3);
    expect(log.fences).toBe(1);
  });

  it('a transaction left hanging on the changelog (the last snapshot behind it, the group offset past it) is ended by a fence of its writer, and the partition resumes exactly', async () => {
    const log = new FencingLog({ defaultPartitions: 1 });
    const { serdes, react, clock, changelog } = await runnerWithChangelog(log);
    log.changelog = changelog;
    await react(1);
    await vi.waitFor(() => expect(log.committed('agg', 'r', 0)).toBe(1));
    await react(2, 1);
    await vi.waitFor(() => expect(log.committed('agg', 'r', 0)).toBe(3));
    await runner!.close();
    // The group says 3; the changelog shows only the 1-reaction snapshot, for good. Waiting for the
    // commit's snapshot (the wedge the soak found) would never end; resuming from 1 counts twice.
    changelog.hanging = true;
    await startRunner(log, serdes, clock, createMetrics(), 10, changelog);
    await vi.waitFor(() => expect(log.fenced).toHaveLength(1), { timeout: 5_000 });
    // Its writer, read from the hanging snapshot: the runner that wrote it (transactional id agg-0).
    expect(log.fenced[0]).toEqual({ tp: { topic: 'state', partition: 0 }, writer: 'agg-0' });
    clock.set(T0 + 2000 + 500);
    await vi.waitFor(() => expect(log.read('a', 0, 0, 10)).toHaveLength(1), { timeout: 5_000 });
    const [window] = log.read('a', 0, 0, 10).map((r) => serdes.aggregate.decodeKnown(r.value) as WindowAggregate);
    expect(window!.total).toBe(3);
  });

  it.each([
    ['with a changelog (Kafka)', true],
    ['without one (memory log)', false],
  ])('a record whose schema the registry cannot give now waits for it and counts once, %s: nothing skipped, nothing counted twice', async (_, withChangelog) => {
    const log = new MemoryLog({ defaultPartitions: 1 });
    await log.ensureTopics([
      { name: 'r', partitions: 1 },
      { name: 'a', partitions: 1 },
      { name: 'state', partitions: 1 },
    ]);
    const registry = new AwayRegistry();
    const serdes = await createSerdes(registry, { reactionsTopic: 'r', aggregatesTopic: 'a' });
    // A newer api's writer schema (an extra field): an id the aggregator must ask the registry about.
    const v2 = loadAvsc('reaction-batch') as { fields: object[] };
    const writer = await AvroSerde.create<ReactionBatch & { region: string }>(registry, 'r-v2', { ...v2, fields: [...v2.fields, { name: 'region', type: 'string', default: '' }] });
    const clock = new ManualClock(T0);
    const metrics = createMetrics();
    const progress = new StageProgress('aggregator', clock, 30_000);
    await startRunner(log, serdes, clock, metrics, 10, withChangelog ? new LaggingChangelog(log, 'state') : undefined, progress);
    const at = T0 + 100;
    const reaction = (i: number) => ({ matchId: 'm', userId: `u${i}`, emoji: '🔥', ts: at, receivedAt: at });
    const producer = await log.producer();
    // One send, so one poll: 3 reactions the aggregator can decode, then 2 under the new id.
    const records = [
      ...serdes.reactions.records('r', [0, 1, 2].map(reaction)),
      { topic: 'r', key: 'm', value: writer.encode({ matchId: 'm', receivedAt: at, reactions: [3, 4].map((i) => ({ userId: `u${i}`, emoji: '🔥', ts: at })), region: 'eu' }) },
    ];
    await vi.waitFor(() => expect(progress.ready()).toBe(true));
    registry.downFor = Number.POSITIVE_INFINITY;
    await producer.send(records);
    // While it waits, /readyz says the registry is down, and nothing of the batch is committed.
    await vi.waitFor(() => expect(registry.failedCalls).toBeGreaterThan(1));
    expect(progress.ready()).toBe(false);
    expect(log.committed('agg', 'r', 0)).toBeLessThan(records.length);
    registry.downFor = 0;
    await vi.waitFor(() => expect(log.committed('agg', 'r', 0)).toBe(records.length), { timeout: 10_000 });
    expect(progress.ready()).toBe(true);
    clock.set(T0 + 2000 + 500);
    await vi.waitFor(() => expect(log.read('a', 0, 0, 10)).toHaveLength(1), { timeout: 5_000 });
    const [window] = log.read('a', 0, 0, 10).map((r) => serdes.aggregate.decodeKnown(r.value) as WindowAggregate);
    // Skipped as undecodable: 3. The first 3 counted again on each attempt: 11.
    expect(window!.total).toBe(5);
    expect((await metrics.recordsUndecodable.get()).values.reduce((n, v) => n + v.value, 0)).toBe(0);
  });

  it('a member left out of its group (no partition) is alive only while nothing waits; reactions nobody counts make it stall, then join again with a new session', async () => {
    // Its first session's consumer is never assigned anything, as a librdkafka consumer left out of
    // its group after a frozen broker (the chaos soak met it in the publisher); a new session's is.
    const log = new (class extends MemoryLog {
      progressAsked = 0;
      sessions = 0;
      override async transactionalSession(opts: { transactionalId: string; groupId: string; topics: string[] }) {
        const session = await super.transactionalSession(opts);
        if (++this.sessions > 1) return session;
        const c = session.consumer;
        c.poll = async (_max, timeoutMs) => {
          await new Promise((r) => setTimeout(r, Math.min(timeoutMs, 20)));
          return [];
        };
        const progress = c.groupProgress!.bind(c);
        c.groupProgress = () => {
          this.progressAsked++;
          return progress();
        };
        return session;
      }
    })({ defaultPartitions: 1 });
    const { serdes, react } = await threeWindowsLog(log);
    const clock = new ManualClock(T0);
    const metrics = createMetrics();
    const progress = new StageProgress('aggregator', clock, 5_000, metrics);
    // Starved after twice 1.5 s of wall time with records waiting that no member commits.
    await startRunner(log, serdes, clock, metrics, 10, undefined, progress, 1_500);
    // Nothing waits: idle is progress, whatever the clock says.
    clock.advance(6_000);
    await vi.waitFor(() => expect(progress.alive()).toBe(true));
    await react(3);
    // The next check (once a second) finds records no member commits: no progress is reported
    // from then on.
    const asked = log.progressAsked;
    await vi.waitFor(() => expect(log.progressAsked).toBeGreaterThan(asked), { timeout: 3_000 });
    clock.advance(6_000);
    expect(progress.alive()).toBe(false);
    expect(log.sessions).toBe(1);
    // Still nobody commits: a new session joins the group, is assigned the partition and counts.
    await vi.waitFor(() => expect(log.committed('agg', 'r', 0)).toBe(3), { timeout: 10_000, interval: 50 });
    expect(log.sessions).toBe(2);
    const recoveries = (await metrics.recoveries.get()).values.find((v) => v.labels.kind === 'starved-new-session');
    expect(recoveries?.value).toBe(1);
  });

  it('a session whose consumer stops fetching while reactions wait is replaced by a new one: every reaction counted once', async () => {
    // The first session's consumer returns nothing once `starving` is set, as a librdkafka consumer
    // left out of its group after a frozen broker (chaos tier); a new session's consumer reads.
    const log = new (class extends MemoryLog {
      starving = false;
      starvedPolls = 0;
      sessions = 0;
      override async transactionalSession(opts: { transactionalId: string; groupId: string; topics: string[] }) {
        const session = await super.transactionalSession(opts);
        if (++this.sessions === 1) {
          const poll = session.consumer.poll.bind(session.consumer);
          session.consumer.poll = async (max, timeoutMs) => {
            if (!this.starving) return poll(max, timeoutMs);
            this.starvedPolls++;
            await new Promise((r) => setTimeout(r, Math.min(timeoutMs, 20)));
            return [];
          };
        }
        return session;
      }
    })({ defaultPartitions: 1 });
    const { serdes, react } = await threeWindowsLog(log);
    const clock = new ManualClock(T0);
    const metrics = createMetrics();
    await startRunner(log, serdes, clock, metrics, 10, new LaggingChangelog(log, 'state'), undefined, 300);
    await react(1);
    await vi.waitFor(() => expect(log.committed('agg', 'r', 0)).toBe(1));
    log.starving = true;
    // A poll already waiting when it starts would still return what comes: react once it starves.
    await vi.waitFor(() => expect(log.starvedPolls).toBeGreaterThan(0));
    await react(2, 1);
    await vi.waitFor(() => expect(log.committed('agg', 'r', 0)).toBe(3), { timeout: 10_000 });
    expect(log.sessions).toBe(2);
    clock.set(T0 + 2000 + 500);
    await vi.waitFor(() => expect(log.read('a', 0, 0, 10)).toHaveLength(1), { timeout: 5_000 });
    const [window] = log.read('a', 0, 0, 10).map((r) => serdes.aggregate.decodeKnown(r.value) as WindowAggregate);
    expect(window!.total).toBe(3);
  });

  it('a changelog ahead of the group offsets resumes from the changelog, counting nothing twice', async () => {
    const log = new MemoryLog({ defaultPartitions: 1 });
    const { serdes, react } = await threeWindowsLog(log);
    const clock = new ManualClock(T0);
    const changelog = new LaggingChangelog(log, 'state');
    await startRunner(log, serdes, clock, createMetrics(), 10, changelog);
    await react(4);
    await vi.waitFor(() => expect(log.committed('agg', 'r', 0)).toBe(4));
    await runner!.close();
    // The group's offsets show an older commit than the changelog (its markers not there yet, or an
    // operator's reset): resuming the 4-reaction snapshot at offset 1 would count 3 of them twice.
    log.commit('agg', [{ topic: 'r', partition: 0, offset: 1 }]);
    await startRunner(log, serdes, clock, createMetrics(), 10, changelog);
    await react(1, 4);
    clock.set(T0 + 2000 + 500);
    await vi.waitFor(() => expect(log.read('a', 0, 0, 10)).toHaveLength(1));
    const [window] = log.read('a', 0, 0, 10).map((r) => serdes.aggregate.decodeKnown(r.value) as WindowAggregate);
    expect(window!.total).toBe(5);
  });
});
