// Conformance: the TypeScript aggregator and the Spark job read the SAME reactions topic (real
// Kafka, real registry, real Spark in a child process) and must write the same windows: same
// counts, units, total, sentiment, and the same Avro bytes after the Confluent header. Nothing is
// skipped: if Spark, Kafka or the registry cannot start, the test fails.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADER_SIZE, readSchemaId } from '../../src/codec/confluent-frame.js';
import { ConfluentSchemaRegistry } from '../../src/adapters/confluent/confluent-registry.js';
import { createSerdes, loadAvsc } from '../../src/codec/serde.js';
import type { Config } from '../../src/config/config.js';
import type { WindowAggregate } from '../../src/domain/types.js';
import { startRole, type Pipeline } from '../../src/roles/start.js';
import { silentLogger } from '../../helpers/fixtures.js';
import { consumeUntil, createTopics, produceFlush, diffAggregates, expectedAggregates, kafkaConfig, produceReactions, type ConsumedRecord } from '../../helpers/kafka.js';
import { ensureSparkInstalled, sparkProgress, startSparkJob, type SparkJob } from '../../helpers/spark-job.js';

const REACTIONS = Number(process.env.EMO_CONFORMANCE_REACTIONS ?? 60_000);
const PER_SECOND = 12_000; // ~5 s of event time: 3-4 windows of 2 s per match
const MATCHES = 8;
const GRACE_MS = 1000; // both sides; generous so a CPU hiccup on a shared 2-core box drops nothing
const FLUSH_MATCH = 'conformance-flush';

const running: Pipeline[] = [];
let spark: SparkJob | undefined;
let tmp: string | undefined;

beforeAll(() => {
  // First install may fetch pip packages and Maven jars; cached afterwards (~0.3 s).
  ensureSparkInstalled();
});

afterAll(async () => {
  await spark?.stop();
  for (const p of running.splice(0)) await p.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every match's windows in ascending windowStart order: the publisher drops anything else. */
function orderProblems(keys: string[]): string[] {
  const last = new Map<string, number>();
  const problems: string[] = [];
  for (const k of keys) {
    const i = k.lastIndexOf('|');
    const m = k.slice(0, i);
    const start = Number(k.slice(i + 1));
    if (start <= (last.get(m) ?? -Infinity)) problems.push(`${k} after ${m}|${last.get(m)}`);
    last.set(m, Math.max(start, last.get(m) ?? -Infinity));
  }
  return problems;
}

describe('Spark job vs TypeScript aggregator on the same reactions topic', () => {
  it(`writes identical window aggregates (bytes included) for ${REACTIONS} reactions over ${MATCHES} matches, across a driver kill -9 and a restart on a backlog, Spark's windows closing on an idle stream`, async () => {
    const t0 = Date.now();
    const configA = kafkaConfig({ role: 'aggregator', aggregation: { graceMs: GRACE_MS } });
    const topicB = configA.log.aggregatesTopic.replace(/\.aggregates$/, '.spark-aggregates');
    const configB: Config = { ...configA, log: { ...configA.log, aggregatesTopic: topicB } };
    await createTopics(configA);
    await createTopics(configB);
    const { windowMs, graceMs } = configA.aggregation;
    expect(graceMs).toBe(GRACE_MS);

    tmp = mkdtempSync(path.join(tmpdir(), 'emostream-conformance-'));
    const jobOptions = (n: number) => ({
      brokers: configA.kafka.brokers,
      registryUrl: configA.registryUrl,
      reactionsTopic: configA.log.reactionsTopic,
      aggregatesTopic: topicB,
      checkpoint: path.join(tmp!, 'checkpoint'),
      logFile: path.join(tmp!, `spark-${n}.log`),
      master: 'local[2]',
      driverMemory: '1g',
      shufflePartitions: 2,
      triggerMs: 1000,
      runSeconds: 300,
      // No warm-up run before the query: it buys the first batch's speed, not its result.
      env: { WINDOW_MS: String(windowMs), GRACE_MS: String(graceMs), UNIT_SCALE: String(configA.aggregation.unitScale), TOP_N: String(configA.aggregation.topN), TS_TOLERANCE_MS: String(configA.aggregation.tsToleranceMs), SPARK_WARM_UP: 'false' },
    });
    spark = startSparkJob(jobOptions(1));
    const firstJob = spark;
    // Both aggregators up before the first reaction: Spark's session start (~15 s) overlaps the
    // TS aggregator's group join.
    const [aggregator] = await Promise.all([startRole(configA, { logger: silentLogger }), spark.waitForLine(/query started/, 120_000)]);
    running.push(aggregator);
    const tReady = Date.now();

    const serdes = await createSerdes(new ConfluentSchemaRegistry(configA.registryUrl), configA.log);
    // Client clocks of every kind: a third an hour off either way, a third just behind the receive
    // time (trusted), a third exact. Both engines must place each reaction by the same rule.
    const clientTs = (now: number, j: number) => (j % 3 === 0 ? now + Math.round((Math.random() * 2 - 1) * 3_600_000) : j % 3 === 1 ? now - Math.floor(Math.random() * 400) : now);
    // Both topic formats, chunk by chunk: packed (one ReactionBatch per match of a chunk) and single.
    const packed = await createSerdes(new ConfluentSchemaRegistry(configA.registryUrl), configA.log, 'packed');
    // The first half live; then the driver is kill -9'd with windows open in its state; the second
    // half waits in the topic (a backlog) until a new driver starts on the same checkpoint. Both
    // halves are whole 1,000s so the packed/single alternation of 500-reaction chunks runs on.
    const half = Math.floor(REACTIONS / 2000) * 1000;
    const sent1 = await produceReactions(configA, [packed.reactions, serdes.reactions], half, { matches: MATCHES, perSecond: PER_SECOND, clientTs });
    await spark.waitForLine(/progress batch=\d+ input=[1-9]/, 60_000);
    await spark.kill();
    const sent2 = await produceReactions(configA, [packed.reactions, serdes.reactions], REACTIONS - half, { matches: MATCHES, perSecond: PER_SECOND, clientTs });
    const sent = [...sent1, ...sent2];
    spark = startSparkJob(jobOptions(2));
    expect(sent.filter((r) => Math.abs(r.ts - r.receivedAt) > 60_000).length).toBeGreaterThan(REACTIONS / 4);
    const lastTs = Math.max(...sent.map((r) => r.receivedAt));
    const expected = expectedAggregates(configA, sent);
    expect(expected.size).toBeGreaterThanOrEqual(MATCHES * 3);
    const isFlush = (key: string) => key.startsWith(`${FLUSH_MATCH}|`);
    const allSeen = (rs: ConsumedRecord[]) => {
      const keys = new Set(rs.map((r) => r.key));
      for (const k of expected.keys()) if (!keys.has(k)) return false;
      return true;
    };
    // Spark first, on an idle stream: nothing newer than the last reaction is in the topic, and
    // every window must still close (by processing time, in the batch that starts at end + grace).
    const recB = await consumeUntil(configB, topicB, allSeen, 90_000);
    const tSparkIdle = Date.now();
    // Then a newer reaction, in its own match, windowMs + graceMs after the last real one: the
    // TypeScript aggregator's stream time passes every window with it (its own window is left out
    // of the comparison).
    await sleep(Math.max(0, lastTs + windowMs + graceMs + 100 - Date.now()));
    const flushTs = Date.now();
    await produceFlush(configA, serdes.reaction, FLUSH_MATCH, flushTs);
    expect(flushTs - lastTs).toBeGreaterThanOrEqual(windowMs + graceMs);
    const tProduced = Date.now();
    const recA = await consumeUntil(configA, configA.log.aggregatesTopic, allSeen, 90_000);
    const tConsumed = Date.now();

    // ---- Spark output: at-least-once, so dedupe by key; a duplicate must be byte-identical ----
    const aggregateType = avro.Type.forSchema(loadAvsc('aggregate') as avro.Schema);
    const sparkSubjectId = ((await (await fetch(`${configA.registryUrl}/subjects/${encodeURIComponent(`${topicB}-value`)}/versions/latest`)).json()) as { id: number }).id;
    const bodyB = new Map<string, Buffer>();
    const duplicates: string[] = [];
    for (const r of recB) {
      expect(r.value[0]).toBe(0);
      expect(readSchemaId(r.value)).toBe(sparkSubjectId);
      const body = r.value.subarray(HEADER_SIZE);
      const prev = bodyB.get(r.key);
      if (prev) {
        duplicates.push(r.key);
        expect(body.equals(prev), `Spark duplicate ${r.key} differs`).toBe(true);
      } else bodyB.set(r.key, body);
    }
    const decodedB = [...bodyB].filter(([k]) => !isFlush(k)).map(([k, b]) => {
      const a = aggregateType.fromBuffer(b) as WindowAggregate;
      expect(k).toBe(`${a.matchId}|${a.windowStart}`);
      return a;
    });

    // ---- TypeScript output: transactional, each window exactly once ----
    const bodyA = new Map<string, Buffer>();
    for (const r of recA) {
      expect(bodyA.has(r.key), `TS duplicate ${r.key}`).toBe(false);
      expect(readSchemaId(r.value)).toBe(serdes.aggregate.schemaId);
      bodyA.set(r.key, r.value.subarray(HEADER_SIZE));
    }
    const decodedA = recA.filter((r) => !isFlush(r.key)).map((r) => serdes.aggregate.decodeKnown(r.value));

    // Both equal the input's exact aggregates...
    expect(diffAggregates(expected, decodedA)).toEqual([]);
    expect(diffAggregates(expected, decodedB)).toEqual([]);
    // ...and each other, window by window, down to the Avro bytes.
    const keysA = [...bodyA.keys()].filter((k) => !isFlush(k)).sort();
    const keysB = [...bodyB.keys()].filter((k) => !isFlush(k)).sort();
    expect(keysB).toEqual(keysA);
    const differing = keysA.filter((k) => !bodyA.get(k)!.equals(bodyB.get(k)!));
    expect(differing).toEqual([]);
    // The publisher keeps, per match, only seqs above the last one: both topics must be in order.
    expect(orderProblems(recA.map((r) => r.key))).toEqual([]);
    expect(orderProblems(recB.map((r) => r.key))).toEqual([]);

    // Nothing dropped as late on either side.
    const late = (await aggregator.metrics.reactionsDropped.get()).values.filter((v) => v.labels.reason === 'late').reduce((s, v) => s + v.value, 0);
    expect(late).toBe(0);
    // Spark's input rows are Kafka records: a packed chunk is one per match, a single chunk one per reaction.
    let records = 1; // the flush
    for (let i = 0; i < sent.length; i += 500) {
      const chunk = sent.slice(i, i + 500);
      records += (i / 500) % 2 === 0 ? new Set(chunk.map((r) => r.matchId)).size : chunk.length;
    }
    // A batch's progress line comes after its sink wrote: wait for the lines of the batches whose
    // windows were just consumed (the flush's batch can be the last).
    const restarted = spark;
    const progressNow = () => [...sparkProgress(firstJob.lines), ...sparkProgress(restarted.lines)];
    for (const until = Date.now() + 30_000; progressNow().reduce((s, p) => s + p.input, 0) < records && Date.now() < until; ) await sleep(200);
    const progress = progressNow();
    expect(progress.reduce((s, p) => s + p.droppedLate, 0)).toBe(0);
    // A batch cut short by the kill runs again after the restart: its records count twice.
    expect(progress.reduce((s, p) => s + p.input, 0)).toBeGreaterThanOrEqual(records);
    expect(sparkProgress(spark.lines).some((p) => p.input > 0), 'the restarted driver reads the backlog').toBe(true);

    console.log(
      `[conformance] ${REACTIONS} reactions, ${expected.size} windows, ${MATCHES} matches; Spark duplicates: ${duplicates.length}; ` +
        `setup+ready ${tReady - t0} ms, Spark's windows all out (idle stream) ${tSparkIdle - tReady} ms, TS's ${tConsumed - tProduced} ms after the flush; ` +
        `schema ids TS ${serdes.aggregate.schemaId} / Spark ${sparkSubjectId}`,
    );
    // Two Spark session starts (before and after the kill) on a shared 2-core machine.
  }, 420_000);
});
