import { afterEach, describe, expect, it, vi } from 'vitest';
import { KafkaLog } from '../../src/adapters/kafka/kafka-log.js';
import { rdkafka } from '../../src/adapters/kafka/rdkafka.js';
import { stateTopic, topicsFor } from '../../src/roles/adapters.js';
import type { AggregatorSnapshot } from '../../src/ports/window-state-store.js';
import type { TransactionalSession } from '../../src/ports/log.js';
import { kafkaConfig, unique } from '../../helpers/kafka.js';
import { silentLogger } from '../../helpers/fixtures.js';

/*
 * The changelog tells the aggregator's restore whether a transaction is open on it: that, not the
 * group coordinator's stable offset fetch, is what lets a partition resume when the fetch hangs
 * (see src/aggregate/resume-point.ts). On the real broker: a snapshot inside an open transaction is
 * not read, the load says a transaction is open, and a fence of the writer's id ends it.
 */
const logs: KafkaLog[] = [];
afterEach(async () => {
  for (const l of logs.splice(0)) await l.close();
});

const snapshot = (offset: number): AggregatorSnapshot => ({ streamTime: 1, offset, matches: [] });

describe('Kafka window state store', () => {
  it('reads the last committed snapshot, says when a transaction is open on the changelog, and a fence of its writer ends it', async () => {
    const config = kafkaConfig({ role: 'aggregator' });
    const log = new KafkaLog(config.kafka, silentLogger);
    logs.push(log);
    await log.ensureTopics(topicsFor(config));
    const store = log.windowStateStore(stateTopic(config));
    const tp = { topic: config.log.reactionsTopic, partition: 2 };
    const transactionalId = unique('tx');
    const session: TransactionalSession = await log.transactionalSession({ transactionalId, groupId: unique('g'), topics: [config.log.reactionsTopic] });

    expect(await store.load(tp)).toEqual({ snapshot: null, openTransaction: false });
    await session.commit([store.record(tp, snapshot(10))], []);
    // A commit returns before the coordinator has written its markers: for a moment the snapshot
    // is still behind an open transaction (the race the restore waits out).
    await vi.waitFor(async () => expect(await store.load(tp)).toEqual({ snapshot: snapshot(10), openTransaction: false }), { timeout: 10_000, interval: 50 });

    // A second instance under the same id stands in for a member that wrote a snapshot and then
    // hung before its commit (the runner's own producer never leaves one open on purpose).
    const Kafka = rdkafka();
    const raw = new Kafka.Producer({ 'bootstrap.servers': config.kafka.brokers, 'transactional.id': transactionalId, 'transaction.timeout.ms': 60_000, dr_cb: false }, {});
    await new Promise<void>((resolve, reject) => raw.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
    await new Promise<void>((resolve, reject) => raw.initTransactions(20_000, (err) => (err ? reject(err) : resolve())));
    await new Promise<void>((resolve, reject) => raw.beginTransaction((err) => (err ? reject(err) : resolve())));
    const open = store.record(tp, snapshot(20));
    raw.produce(open.topic, open.partition ?? null, open.value, open.key);
    await new Promise<void>((resolve, reject) => raw.flush(10_000, (err) => (err ? reject(err) : resolve())));

    // The open snapshot is not read, and the load says why the answer may be about to change, and
    // where (a record without a writer: the fence's own id is the guess).
    const changelog = { topic: stateTopic(config), partition: 2 };
    const loaded = await store.load(tp);
    expect(loaded).toEqual({ snapshot: snapshot(10), openTransaction: true, openAt: { tp: changelog } });

    // The session's fence: a new instance under the id, whose start aborts the open transaction,
    // and a transaction it aborts on the partition (what ends one the coordinator lost track of).
    await session.fence(loaded.openAt);
    await vi.waitFor(async () => expect(await store.load(tp)).toEqual({ snapshot: snapshot(10), openTransaction: false }), { timeout: 10_000, interval: 50 });
    // The fenced instance cannot commit it any more.
    await expect(new Promise<void>((resolve, reject) => raw.commitTransaction(10_000, (err) => (err ? reject(err) : resolve())))).rejects.toBeDefined();
    await new Promise<void>((resolve) => raw.disconnect(() => resolve()));
    // The aborted write of the fence left nothing a reader sees, and the session goes on committing.
    await session.commit([store.record(tp, snapshot(30))], []);
    await vi.waitFor(async () => expect(await store.load(tp)).toEqual({ snapshot: snapshot(30), openTransaction: false }), { timeout: 10_000, interval: 50 });
    await session.close();
  });

  it("names the writer of a transaction left open, and another member's fence of that writer ends it and fences the writer", async () => {
    const config = kafkaConfig({ role: 'aggregator' });
    const log = new KafkaLog(config.kafka, silentLogger);
    logs.push(log);
    await log.ensureTopics(topicsFor(config));
    const store = log.windowStateStore(stateTopic(config));
    const tp = { topic: config.log.reactionsTopic, partition: 1 };

    // A previous owner of the partition (its own transactional id) left a snapshot in an open transaction.
    const writer = unique('tx-previous-owner');
    const Kafka = rdkafka();
    const raw = new Kafka.Producer({ 'bootstrap.servers': config.kafka.brokers, 'transactional.id': writer, 'transaction.timeout.ms': 60_000, dr_cb: false }, {});
    await new Promise<void>((resolve, reject) => raw.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
    await new Promise<void>((resolve, reject) => raw.initTransactions(20_000, (err) => (err ? reject(err) : resolve())));
    await new Promise<void>((resolve, reject) => raw.beginTransaction((err) => (err ? reject(err) : resolve())));
    const open = store.record(tp, { ...snapshot(20), writer });
    raw.produce(open.topic, open.partition ?? null, open.value, open.key);
    await new Promise<void>((resolve, reject) => raw.flush(10_000, (err) => (err ? reject(err) : resolve())));

    const loaded = await store.load(tp);
    expect(loaded).toEqual({ snapshot: null, openTransaction: true, openAt: { tp: { topic: stateTopic(config), partition: 1 }, writer } });

    // The new owner, under another id, ends it with a producer of its own under the writer's id.
    const owner = await log.transactionalSession({ transactionalId: unique('tx-owner'), groupId: unique('g'), topics: [config.log.reactionsTopic] });
    await owner.fence(loaded.openAt);
    await vi.waitFor(async () => expect(await store.load(tp)).toEqual({ snapshot: null, openTransaction: false }), { timeout: 10_000, interval: 50 });
    // The previous owner, were it alive, is fenced: its snapshot never commits.
    await expect(new Promise<void>((resolve, reject) => raw.commitTransaction(10_000, (err) => (err ? reject(err) : resolve())))).rejects.toBeDefined();
    await new Promise<void>((resolve) => raw.disconnect(() => resolve()));
    // The owner's own producer was left alone: it commits.
    await owner.commit([store.record(tp, snapshot(30))], []);
    await vi.waitFor(async () => expect(await store.load(tp)).toEqual({ snapshot: snapshot(30), openTransaction: false }), { timeout: 10_000, interval: 50 });
    await owner.close();
  });
});
