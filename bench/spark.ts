// npm run bench:spark — the Spark job beside the TypeScript aggregator on the real broker, same
// input, same run (BENCH_REACTIONS, default 200k, over BENCH_MATCHES matches).
//
// 1. live: both aggregators running and warm, the input produced in real time at BENCH_RATE/s,
//    then a flush reaction windowMs + graceMs after the last one. Per window: latency from the
//    moment it becomes closable (windowEnd + graceMs on the wall clock; timestamps are real time)
//    to its aggregate being readable (read_committed) on the aggregates topic; p50/p99/max.
// 2. backlog: the input (produced as fast as possible, real-time ts, + flush) already sits in a
//    fresh topic; each aggregator is started on it, one after the other (2 cores: no sharing), and
//    timed to its last window on the output. reactions/s from the start (Spark: including the
//    JVM/session start) and from the first record consumed (TS: first reaction counted; Spark:
//    start of the first micro-batch with data), plus Spark's own batch time.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfluentSchemaRegistry } from '../src/adapters/confluent/confluent-registry.js';
import { createSerdes, type Serdes } from '../src/codec/serde.js';
import type { Config } from '../src/config/config.js';
import { repoRoot } from '../src/domain/schemas-dir.js';
import type { Reaction } from '../src/domain/types.js';
import { KafkaLog } from '../src/adapters/kafka/kafka-log.js';
import { startRole } from '../src/roles/start.js';
import { silentLogger } from '../helpers/fixtures.js';
import { createTopics, expectedAggregates, kafkaConfig, produceFlush, produceReactions, watchTopics } from '../helpers/kafka.js';
import { ensureSparkInstalled, sparkProgress, startSparkJob, type SparkJob } from '../helpers/spark-job.js';
import { pct, report, sleep, type Row } from './lib.js';
import { applyInfraEnv, infraDir } from '../helpers/infra-env.js';

const N = Number(process.env.BENCH_REACTIONS ?? 200_000);
/** The backlog case's input: larger than the live case's so fixed per-batch costs do not hide the rate. */
const BACKLOG_N = Number(process.env.BENCH_BACKLOG_REACTIONS ?? N);
/** Which cases run (live, backlog; both by default). */
const CASES = new Set((process.env.BENCH_SPARK_CASES ?? 'live,backlog').split(',').map((c) => c.trim()));
const RATE = Number(process.env.BENCH_RATE ?? 10_000);
const MATCHES = Number(process.env.BENCH_MATCHES ?? 10);
/** The reactions topic's record format (REACTIONS_FORMAT, packed by default as the API writes): packed puts each chunk's reactions of one match in one record. */
const FORMAT = process.env.BENCH_REACTIONS_FORMAT === 'single' ? 'single' : 'packed';
const SPARK_MASTER = process.env.BENCH_SPARK_MASTER ?? 'local[2]';
const SPARK_MEMORY = process.env.BENCH_SPARK_MEMORY ?? '1g';
/** Extra Spark conf for the job, comma-separated K=V (e.g. spark.eventLog.enabled=true,spark.eventLog.dir=/tmp/ev). */
const SPARK_CONF = (process.env.BENCH_SPARK_CONF ?? '').split(',').filter((kv) => kv.includes('='));
const FLUSH = 'bench-flush';
const root = repoRoot();
const tmp = mkdtempSync(path.join(tmpdir(), 'emostream-bench-spark-'));
const sparks: SparkJob[] = [];

function infra(): void {
  if (process.env.EMO_SKIP_INFRA_UP !== '1') execFileSync('bash', [path.join(root, 'scripts/infra/up.sh'), 'kafka', 'registry'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const envFile = path.join(infraDir(), 'env');
  applyInfraEnv(envFile, process.env);
}

/** Stamps each window's first arrival on each topic (Spark may write a window twice). */
function watch(config: Config, topics: string[]) {
  const seen = new Map<string, Map<string, number>>(topics.map((t) => [t, new Map()]));
  const watcher = watchTopics(config.kafka.brokers, topics, (m, at) => {
    const byKey = seen.get(m.topic)!;
    const key = m.key?.toString() ?? '';
    if (!byKey.has(key)) byKey.set(key, at);
  });
  return {
    seen,
    /** Resolves with the arrival time of the last of `keys` on `topic`. */
    async until(topic: string, keys: Iterable<string>, timeoutMs: number): Promise<number> {
      const want = [...keys];
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const byKey = seen.get(topic)!;
        if (want.every((k) => byKey.has(k))) return Math.max(...want.map((k) => byKey.get(k)!));
        if (Date.now() > deadline) {
          const missing = want.filter((k) => !byKey.has(k));
          throw new Error(`${topic}: ${missing.length} of ${want.length} windows missing after ${timeoutMs} ms: ${missing.slice(0, 20).join(', ')}`);
        }
        await sleep(20);
      }
    },
    stop: () => watcher.stop(),
  };
}

/** Produces the input (rate-limited or as fast as possible), then the flush windowMs + graceMs after its last ts. */
async function produceInput(config: Config, serdes: Serdes, n: number, perSecond?: number): Promise<{ sent: Reaction[]; firstAt: number; producedAt: number }> {
  const firstAt = Date.now();
  const sent = await produceReactions(config, FORMAT === 'packed' ? [serdes.reactions] : serdes.reaction, n, { matches: MATCHES, ...(perSecond ? { perSecond } : {}) });
  const producedAt = Date.now();
  const lastTs = sent.reduce((m, r) => Math.max(m, r.ts), 0);
  const { windowMs, graceMs } = config.aggregation;
  await sleep(Math.max(0, lastTs + windowMs + graceMs + 50 - Date.now()));
  await produceFlush(config, serdes.reaction, FLUSH, Date.now());
  return { sent, firstAt, producedAt };
}

function spark(config: Config, aggregatesTopic: string, name: string): SparkJob {
  const job = startSparkJob({
    brokers: config.kafka.brokers,
    registryUrl: config.registryUrl,
    reactionsTopic: config.log.reactionsTopic,
    aggregatesTopic,
    checkpoint: path.join(tmp, `${name}-checkpoint`),
    logFile: path.join(tmp, `${name}.log`),
    master: SPARK_MASTER,
    driverMemory: SPARK_MEMORY,
    shufflePartitions: 4, // the job's default
    triggerSeconds: 2, // the job's default
    runSeconds: 900,
    env: { WINDOW_MS: String(config.aggregation.windowMs), GRACE_MS: String(config.aggregation.graceMs) },
    conf: SPARK_CONF,
  });
  sparks.push(job);
  return job;
}

const round = (x: number, d = 0) => +x.toFixed(d);

async function live(): Promise<{ rows: Row[]; extra: Record<string, unknown> }> {
  const config = kafkaConfig({ role: 'aggregator' });
  const sparkTopic = config.log.aggregatesTopic.replace(/\.aggregates$/, '.spark-aggregates');
  await createTopics(config);
  await createTopics({ ...config, log: { ...config.log, aggregatesTopic: sparkTopic } });
  const serdes = await createSerdes(new ConfluentSchemaRegistry(config.registryUrl), config.log, FORMAT);
  const job = spark(config, sparkTopic, 'live');
  const [ts] = await Promise.all([startRole(config, { logger: silentLogger }), job.waitForLine(/query started/, 180_000)]);
  // Warm: let the query run its first (empty) micro-batch before the input starts, if it runs one.
  await job.waitForLine(/progress batch=0 /, 15_000).catch(() => undefined);
  const w = watch(config, [config.log.aggregatesTopic, sparkTopic]);
  try {
    console.error(`[bench:spark] live: ${N} reactions at ${RATE}/s over ${MATCHES} matches, both aggregators warm`);
    const { sent } = await produceInput(config, serdes, N, RATE);
    const expected = expectedAggregates(config, sent);
    const waits = await Promise.allSettled([w.until(config.log.aggregatesTopic, expected.keys(), 90_000), w.until(sparkTopic, expected.keys(), 90_000)]);
    const dropped = (await ts.metrics.reactionsDropped.get()).values.map((v) => `${v.labels.reason}=${v.value}`).join(' ');
    for (const r of waits) if (r.status === 'rejected') console.error(`[bench:spark] live: ${(r.reason as Error).message} (TS dropped: ${dropped || 'none'})`);
    if (waits.every((r) => r.status === 'rejected')) throw new Error('live: neither aggregator produced every window');
    const { windowMs, graceMs } = config.aggregation;
    const latencies = (topic: string) =>
      [...expected.keys()].filter((k) => w.seen.get(topic)!.has(k)).map((k) => {
        const start = Number(k.slice(k.lastIndexOf('|') + 1));
        return w.seen.get(topic)!.get(k)! - (start + windowMs + graceMs);
      });
    const lt = latencies(config.log.aggregatesTopic);
    const ls = latencies(sparkTopic);
    const row = (who: string, l: number[]): Row => ({ case: `live ${RATE}/s: window closable -> output`, aggregator: who, windows: `${l.length}/${expected.size}`, p50Ms: pct(l, 50), p99Ms: pct(l, 99), maxMs: Math.max(...l) });
    const rows = [row('typescript', lt), row('spark', ls)];
    rows[1]!.ratio = round(pct(ls, 50) / Math.max(1, pct(lt, 50)), 1);
    // Spark's own figures while warm: rows per ms of micro-batch execution (batches with input).
    await sleep(500);
    const batches = sparkProgress(job.lines).filter((p) => p.input > 0);
    const input = batches.reduce((a, p) => a + p.input, 0);
    const busyMs = batches.reduce((a, p) => a + p.durationMs, 0);
    rows.push({ case: 'live: warm micro-batches', aggregator: 'spark', measured: `Σ input / Σ duration of ${batches.length} batches`, reactions: input, seconds: round(busyMs / 1000, 2), reactionsPerSec: Math.round(input / (busyMs / 1000)) });
    return {
      rows,
      extra: {
        live: { windows: expected.size, windowMs, graceMs, rate: RATE, sparkBatches: batches.map((p) => ({ batch: p.batch, input: p.input, durationMs: p.durationMs, removed: p.removed, phases: p.phases })) },
      },
    };
  } finally {
    await w.stop();
    await job.stop();
    await ts.close();
  }
}

async function backlog(): Promise<{ rows: Row[]; extra: Record<string, unknown> }> {
  const config = kafkaConfig({ role: 'aggregator' });
  const sparkTopic = config.log.aggregatesTopic.replace(/\.aggregates$/, '.spark-aggregates');
  await createTopics(config);
  await createTopics({ ...config, log: { ...config.log, aggregatesTopic: sparkTopic } });
  const serdes = await createSerdes(new ConfluentSchemaRegistry(config.registryUrl), config.log, FORMAT);
  console.error(`[bench:spark] backlog: producing ${BACKLOG_N} reactions as fast as possible`);
  const { sent, firstAt, producedAt } = await produceInput(config, serdes, BACKLOG_N);
  const expected = expectedAggregates(config, sent);
  const w = watch(config, [config.log.aggregatesTopic, sparkTopic]);
  const rows: Row[] = [];
  try {
    // TypeScript aggregator (its own process would add ~0.5 s of module loading; in-process here)
    console.error('[bench:spark] backlog: TypeScript aggregator');
    const tsStart = Date.now();
    const ts = await startRole(config, { logger: silentLogger });
    let tsFirst = 0;
    const poll = setInterval(() => {
      void ts.metrics.reactionsAggregated.get().then((m) => {
        if (!tsFirst && (m.values[0]?.value ?? 0) > 0) tsFirst = Date.now();
      });
    }, 10);
    const tsDone = await w.until(config.log.aggregatesTopic, expected.keys(), 300_000);
    clearInterval(poll);
    await ts.close();

    console.error('[bench:spark] backlog: Spark job (cold: new JVM + session)');
    const spStart = Date.now();
    const job = spark(config, sparkTopic, 'backlog');
    const spDone = await w.until(sparkTopic, expected.keys(), 300_000);
    await job.waitForLine(/progress batch=\d+ .* removed=[1-9]/, 10_000).catch(() => undefined); // the emitting batch's line
    const progress = sparkProgress(job.lines);
    await job.stop();
    const firstData = progress.find((p) => p.input > 0);
    const upTo = progress.filter((p) => p.startedAt <= spDone);
    const batchMs = upTo.reduce((s, p) => s + Math.max(0, p.durationMs), 0);

    const r = (aggregator: string, measured: string, ms: number): Row => ({ case: 'backlog', aggregator, measured, reactions: BACKLOG_N, windows: expected.size, seconds: round(ms / 1000, 2), reactionsPerSec: Math.round(BACKLOG_N / (ms / 1000)) });
    const tsFromStart = r('typescript', 'start -> last window', tsDone - tsStart);
    const tsFromFirst = r('typescript', 'first reaction counted -> last window', tsDone - (tsFirst || tsStart));
    const spCold = r('spark', 'spawn (JVM + session) -> last window', spDone - spStart);
    const spWarm = r('spark', 'first data batch start -> last window', spDone - (firstData?.startedAt ?? spStart));
    const spBatch = r('spark', `sum of ${upTo.length} batch durations`, batchMs);
    spCold.ratio = round(Number(spCold.reactionsPerSec) / Number(tsFromStart.reactionsPerSec), 3);
    spWarm.ratio = round(Number(spWarm.reactionsPerSec) / Number(tsFromFirst.reactionsPerSec), 3);
    spBatch.ratio = round(Number(spBatch.reactionsPerSec) / Number(tsFromFirst.reactionsPerSec), 3);
    tsFromStart.ratio = 1;
    tsFromFirst.ratio = 1;
    rows.push(tsFromStart, tsFromFirst, spCold, spWarm, spBatch);
    return {
      rows,
      extra: {
        backlog: {
          produceSeconds: round((producedAt - firstAt) / 1000, 2),
          sparkSessionStartMs: firstData ? firstData.startedAt - spStart : null,
          sparkBatches: upTo.map((p) => ({ batch: p.batch, input: p.input, durationMs: p.durationMs, removed: p.removed, phases: p.phases })),
        },
      },
    };
  } finally {
    await w.stop();
  }
}

try {
  infra();
  ensureSparkInstalled();
  const none = { rows: [] as Row[], extra: {} };
  const a = CASES.has('live') ? await live() : none;
  const b = CASES.has('backlog') ? await backlog() : none;
  report('spark', [...a.rows, ...b.rows], { reactions: N, backlogReactions: BACKLOG_N, matches: MATCHES, format: FORMAT, sparkMaster: SPARK_MASTER, sparkDriverMemory: SPARK_MEMORY, ...a.extra, ...b.extra, note: 'ratio: Spark / TypeScript (reactions/s; for latency, p50 Spark / p50 TS)' });
} finally {
  for (const j of sparks) await j.stop();
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(0);
