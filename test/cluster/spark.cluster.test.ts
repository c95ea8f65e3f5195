// Faults of the Spark standalone cluster, one after the other, with reactions flowing through the
// API and live clients fed from the Spark job's output (publisher -> Redis -> fan-out):
//   1. a worker node dies (kill -9 of the worker daemon and its executor): the job goes on;
//   2. the driver is kill -9'd and started again: it resumes from its checkpoint (local disk), and
//      the windows it writes again reach no client twice (the publisher's dedupe).
// The TypeScript aggregator reads the same reactions into its own topic: Spark's windows must
// equal its windows, and the clients' windows must equal what the API acknowledged.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HEADER_SIZE } from '../../src/codec/confluent-frame.js';
import { ConfluentSchemaRegistry } from '../../src/adapters/confluent/confluent-registry.js';
import { createSerdes } from '../../src/codec/serde.js';
import type { WindowAggregate } from '../../src/domain/types.js';
import { consumeUntil } from '../../helpers/kafka.js';
import { ensureSparkInstalled, sparkProgress, startSparkJob, type SparkJob, type SparkJobOptions } from '../../helpers/spark-job.js';
import { closeAll, clusterDir, infra, kill9, printMemory, printRow, rssMiB, sleep, startFlow, startPipeline, verify, waitFor } from './harness.js';

const GRACE_MS = 2000; // both aggregators; Spark's watermark is global over partitions (spark/README.md)
const jobs: SparkJob[] = [];
let workerDown = false;

afterAll(async () => {
  for (const j of jobs) await j.stop();
  await closeAll();
  if (workerDown) infra('spark-cluster', 'start');
});

/** The executors a worker runs (children started with its --worker-url). */
function executorsOf(workerPort: number): number[] {
  try {
    return execFileSync('pgrep', ['-f', `CoarseGrainedExecutorBackend.*--worker-url spark://Worker@127.0.0.1:${workerPort}( |$)`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The JVM a python driver launched (its child running SparkSubmit). */
function driverJvm(job: SparkJob): number | undefined {
  try {
    const out = execFileSync('pgrep', ['-g', String(job.pid), '-f', 'org.apache.spark.deploy.SparkSubmit'], { encoding: 'utf8' }).trim();
    return out ? Number(out.split('\n')[0]) : undefined;
  } catch {
    return undefined;
  }
}

async function progressedSince(job: SparkJob, since: number, timeoutMs: number): Promise<void> {
  await waitFor('a Spark micro-batch with input', () => sparkProgress(job.lines).some((p) => p.at > since && p.input > 0), timeoutMs, 500);
}

describe('cluster: Spark standalone (master + 2 workers) loses a worker, then its driver', () => {
  it('goes on without the worker, resumes from its checkpoint after the driver dies; windows equal the TypeScript aggregator\'s, each reaches clients once', { timeout: 1_500_000 }, async () => {
    ensureSparkInstalled();
    const pipeline = await startPipeline({ aggregators: 1, graceMs: GRACE_MS, publisherTopic: (c) => `${c.log.aggregatesTopic}.spark` });
    const { config } = pipeline;
    const sparkTopic = `${config.log.aggregatesTopic}.spark`;
    const { windowMs } = config.aggregation;
    const checkpoint = path.join(clusterDir, 'spark/checkpoints', sparkTopic);
    rmSync(checkpoint, { recursive: true, force: true });
    mkdirSync(path.dirname(checkpoint), { recursive: true });
    const jobOptions = (n: number): SparkJobOptions => ({
      brokers: config.kafka.brokers,
      registryUrl: config.registryUrl,
      reactionsTopic: config.log.reactionsTopic,
      aggregatesTopic: sparkTopic,
      checkpoint,
      logFile: path.join(clusterDir, `logs/spark-driver-${n}.log`),
      master: process.env.SPARK_MASTER_URL!,
      driverMemory: '768m',
      shufflePartitions: 2,
      triggerSeconds: 2,
      runSeconds: 900,
      env: { WINDOW_MS: String(windowMs), GRACE_MS: String(GRACE_MS), UNIT_SCALE: String(config.aggregation.unitScale), TOP_N: String(config.aggregation.topN), SPARK_CONF_DIR: process.env.SPARK_CONF_DIR! },
    });
    let job = startSparkJob(jobOptions(1));
    jobs.push(job);
    await job.waitForLine(/query started/, 300_000);
    // The first micro-batch of a cold job takes a while on a loaded 2-core machine (code
    // generation, executors' first tasks): generous first-output deadline.
    const { viewers, load, t0 } = await startFlow(pipeline, { batchSize: 10, everyMs: 50, firstUpdateTimeoutMs: 400_000 });
    const memory: Record<string, { pid: number }> = { 'spark driver (python)': { pid: job.pid } };
    const jvm = driverJvm(job);
    if (jvm) memory['spark driver (JVM)'] = { pid: jvm };
    printMemory({ ...memory, api: pipeline.api, 'aggregator agg-0': pipeline.aggregators[0]!, publisher: pipeline.publisher, 'fanout 0': pipeline.fanouts[0]!, 'fanout 1': pipeline.fanouts[1]! });

    // ---- 1. a worker node dies: the worker daemon and its executor, kill -9 ----
    const workerPort = 31078;
    const executors = executorsOf(workerPort);
    expect(executors.length).toBeGreaterThan(0);
    const workerKilledAt = Date.now();
    await kill9(Number(infra('spark-cluster', 'pid', 'worker-1')));
    workerDown = true;
    for (const e of executors) await kill9(e).catch(() => undefined);
    await progressedSince(job, workerKilledAt + 4000, 180_000);
    await waitFor('Spark windows after the worker died at every client', () => [...viewers.got.values()].every((l) => l.some((r) => r.at > workerKilledAt && r.msg.windowStart > workerKilledAt)), 180_000);
    const workerRecoveredAt = Date.now();
    infra('spark-cluster', 'start', 'worker-1');
    workerDown = false;
    const workerRow = {
      fault: `Spark worker-1 kill -9 (daemon + ${executors.length} executor) mid-stream`,
      'no updates (s)': (viewers.longestSilence(workerKilledAt - 1000, workerRecoveredAt) / 1000).toFixed(1),
      'acked during fault': load.acknowledged(workerKilledAt, workerRecoveredAt),
      'non-202 answers': 0,
      lost: 0,
      duplicated: 0,
      windows: 0,
    };

    // ---- 2. the driver dies: kill -9 of the python driver and its JVM, then started again ----
    await sleep(5000);
    const driverKilledAt = Date.now();
    const driverPids = [job.pid, driverJvm(job)].filter((p): p is number => p !== undefined);
    for (const p of driverPids) await kill9(p).catch(() => undefined);
    await job.stop(1000);
    job = startSparkJob(jobOptions(2));
    jobs.push(job);
    await job.waitForLine(/query started/, 300_000);
    await progressedSince(job, driverKilledAt, 300_000);
    await waitFor('Spark windows after the driver restart at every client', () => [...viewers.got.values()].every((l) => l.some((r) => r.at > driverKilledAt && r.msg.windowStart > driverKilledAt)), 300_000);
    const driverRecoveredAt = Date.now();
    await sleep(6000);

    // ---- drain: stop the load, then one newer reaction moves Spark's watermark past the last window ----
    await load.stop();
    const lastTs = Math.max(...load.batches.flatMap((b) => b.reactions.map((r) => r.ts)));
    const lastWindowEnd = Math.floor(lastTs / windowMs) * windowMs + windowMs;
    await sleep(Math.max(0, lastTs + windowMs + GRACE_MS + 200 - Date.now()));
    expect(await load.one('flush')).toBe(202);
    await waitFor('the last window at every client', () => [...viewers.got.values()].every((l) => l.some((r) => r.msg.windowStart + windowMs >= lastWindowEnd)), 90_000);
    await sleep(2000);

    // ---- Spark's windows = the TypeScript aggregator's (Spark may write a window twice: same bytes) ----
    const isLoad = (k: string) => !k.startsWith('flush|') && Number(k.slice(k.lastIndexOf('|') + 1)) + windowMs <= lastWindowEnd;
    const serdes = await createSerdes(new ConfluentSchemaRegistry(config.registryUrl), config.log);
    const read = async (topic: string) => {
      const recs = await consumeUntil({ ...config, log: { ...config.log } }, topic, (rs) => rs.some((r) => Number(r.key.slice(r.key.lastIndexOf('|') + 1)) + windowMs >= lastWindowEnd && !r.key.startsWith('flush|')), 60_000);
      const bodies = new Map<string, Buffer>();
      const differing: string[] = [];
      let duplicates = 0;
      for (const r of recs.filter((x) => isLoad(x.key))) {
        const body = r.value.subarray(HEADER_SIZE);
        const prev = bodies.get(r.key);
        if (prev) {
          duplicates++;
          if (!prev.equals(body)) differing.push(r.key);
        } else bodies.set(r.key, body);
      }
      return { bodies, duplicates, differing, decoded: recs.filter((x) => isLoad(x.key)).map((x) => serdes.aggregate.decodeKnown(x.value)) };
    };
    const ts = await read(config.log.aggregatesTopic);
    const spark = await read(sparkTopic);
    const firstSparkWindow = Math.min(...spark.decoded.map((a: WindowAggregate) => a.windowStart));
    const keysTs = [...ts.bodies.keys()].filter((k) => Number(k.slice(k.lastIndexOf('|') + 1)) >= firstSparkWindow).sort();
    const keysSpark = [...spark.bodies.keys()].sort();
    const notEqual = keysTs.filter((k) => !spark.bodies.get(k)?.equals(ts.bodies.get(k)!));

    // ---- the clients: each window once, in order, counts = what the API acknowledged ----
    const verdict = verify(load, viewers, windowMs, { from: Math.max(t0, firstSparkWindow), until: lastWindowEnd });
    const driverRow = {
      fault: 'Spark driver kill -9, started again from its checkpoint',
      'no updates (s)': (viewers.longestSilence(driverKilledAt - 1000, driverRecoveredAt) / 1000).toFixed(1),
      'acked during fault': load.acknowledged(driverKilledAt, driverRecoveredAt),
      'non-202 answers': load.batches.filter((b) => b.status !== 202).reduce((n, b) => n + b.reactions.length, 0),
      lost: verdict.lost,
      duplicated: verdict.duplicated,
      windows: verdict.windowsChecked,
    };
    printRow({ ...workerRow, lost: verdict.lost, duplicated: verdict.duplicated, windows: verdict.windowsChecked });
    printRow(driverRow);
    const late = sparkProgress(jobs.flatMap((j) => j.lines)).reduce((n, p) => n + p.droppedLate, 0);
    console.log(`[cluster] Spark wrote ${spark.duplicates} window(s) twice (byte-identical: ${spark.differing.length === 0}); windows compared with TypeScript: ${keysTs.length}; dropped late by Spark: ${late}; driver RSS now ${rssMiB(job.pid)} MiB (python) + ${rssMiB(driverJvm(job) ?? 0)} MiB (JVM)`);
    if (verdict.problems.length > 0) console.error(verdict.problems.slice(0, 20).join('\n'));

    expect(load.statuses()).toEqual({ '202': load.batches.length });
    expect(spark.differing).toEqual([]);
    expect(keysSpark).toEqual(keysTs);
    expect(notEqual).toEqual([]);
    expect(keysTs.length).toBeGreaterThan(40);
    expect(late).toBe(0);
    expect(verdict.problems).toEqual([]);
    expect(verdict.lost).toBe(0);
    expect(verdict.duplicated).toBe(0);
  });
});
