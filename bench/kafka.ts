// npm run bench:kafka — EmoStream against the real broker (scripts/infra/up.sh kafka registry), all
// figures from one run so that their ratios mean something:
//
// 1. http: an `api` role process (Kafka log, Confluent registry, limiter out of the way) loaded
//    with autocannon (in this process) on POST /v1/reactions/batch (100 per request) and
//    POST /v1/reactions, with KAFKA_ACK_MODE=durable (202 after acks=all) and =queued (202 once
//    librdkafka holds it), beside the same role on the in-memory log. After each Kafka process is
//    stopped (its producer flushes), the reactions topic's end offsets are compared with what
//    was acknowledged, so `queued` is shown to land too.
// 2. producer: KafkaLog's producer alone, pre-encoded reactions as fast as possible, durable, with
//    at most BENCH_PRODUCER_WINDOW records unacknowledged (sends of BENCH_PRODUCER_CHUNK), over
//    linger.ms × compression; msgs/s, per-send ack latency and bytes on the broker's disk.
// 3. aggregator: BENCH_AGG_REACTIONS (5M) reactions with timestamps a minute back pre-produced to a
//    fresh topic, then an `aggregator` role process started on it, timed until the totals of the
//    windows on the aggregates topic (read_committed) sum to N; beside it, the same runner on the
//    in-memory log over the same records in this process (ratioToMemory). A backlog of 500k packed
//    reactions is 5k records, read in well under a second: fixed costs (fetch waits, the first
//    transaction) then dominate; the default 5M gives a rate per core.
//
// Env: BENCH_SECONDS (10 per HTTP case), BENCH_CONNECTIONS (50), BENCH_PRODUCER_MESSAGES (500k),
// BENCH_PRODUCER_WINDOW (10000), BENCH_PRODUCER_CHUNK (1000), BENCH_LINGERS (0,5,50),
// BENCH_COMPRESSIONS (lz4,zstd,none), BENCH_AGG_REACTIONS (5000000), BENCH_MATCHES (50),
// BENCH_PARTITIONS (12), BENCH_PARTS (http,producer,aggregator), BENCH_FORMATS (single,packed:
// the reactions topic's record format, REACTIONS_FORMAT), BENCH_PACK (100 reactions per packed
// record in the aggregator case), EMO_SKIP_INFRA_UP=1.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import path from 'node:path';
import type * as RdKafka from 'node-rdkafka';
import { ConfluentSchemaRegistry } from '../src/adapters/confluent/confluent-registry.js';
import { createSerdes, type AvroSerde } from '../src/codec/serde.js';
import { loadConfig, type Config } from '../src/config/config.js';
import { EmojiCatalog } from '../src/domain/catalog.js';
import { repoRoot } from '../src/domain/schemas-dir.js';
import type { Reaction, WindowAggregate } from '../src/domain/types.js';
import type { KafkaOptions } from '../src/config/kafka-options.js';
import { KafkaLog } from '../src/adapters/kafka/kafka-log.js';
import { topicsFor } from '../src/roles/adapters.js';
import { MemoryLog } from '../src/adapters/memory/memory-log.js';
import { MemorySchemaRegistry } from '../src/adapters/memory/memory-schema-registry.js';
import { AggregatorRunner } from '../src/aggregate/aggregator-runner.js';
import { createMetrics } from '../src/metrics/metrics.js';
import { systemClock } from '../src/ports/clock.js';
import { silentLogger } from '../helpers/fixtures.js';
import { watchTopics } from '../helpers/kafka.js';
import { cannon as cannonWith, pct, report, sleep, startRoleChild, stopChild, type CannonResult, type Row } from './lib.js';
import { applyInfraEnv, infraDir } from '../helpers/infra-env.js';
import { scrapeMetric } from '../helpers/metrics.js';

const Kafka = createRequire(import.meta.url)('node-rdkafka') as typeof RdKafka;
const root = repoRoot();
const env = process.env;
const num = (name: string, fallback: number) => Number(env[name] ?? fallback);
const list = (name: string, fallback: string) => (env[name] ?? fallback).split(',').map((s) => s.trim()).filter(Boolean);

const SECONDS = num('BENCH_SECONDS', 10);
const CONNECTIONS = num('BENCH_CONNECTIONS', 50);
const PRODUCER_MESSAGES = num('BENCH_PRODUCER_MESSAGES', 500_000);
const PRODUCER_WINDOW = num('BENCH_PRODUCER_WINDOW', 10_000);
const PRODUCER_CHUNK = num('BENCH_PRODUCER_CHUNK', 1000);
const LINGERS = list('BENCH_LINGERS', '0,5,50').map(Number);
const COMPRESSIONS = list('BENCH_COMPRESSIONS', 'lz4,zstd,none') as Array<KafkaOptions['compression']>;
const AGG_N = num('BENCH_AGG_REACTIONS', 5_000_000);
const MATCHES = num('BENCH_MATCHES', 50);
const PARTITIONS = num('BENCH_PARTITIONS', 12);
const PARTS = new Set(list('BENCH_PARTS', 'http,producer,aggregator'));
/** Topic formats measured (REACTIONS_FORMAT): single, one record per reaction; packed, one per request and match. */
const FORMATS = list('BENCH_FORMATS', 'single,packed').filter((f): f is 'single' | 'packed' => f === 'single' || f === 'packed');
/** Reactions per packed record in the aggregator case (an SDK batch of one match). */
const PACK = num('BENCH_PACK', 100);
const RUN = `bench-kafka-${process.pid}-${Date.now().toString(36)}`;
const catalog = EmojiCatalog.load();
const round = (x: number, d = 0) => +x.toFixed(d);
const now = () => performance.timeOrigin + performance.now();
const createdTopics: string[] = [];
const log = (msg: string) => console.error(`[bench:kafka] ${msg}`);

const cannon = (url: string, bodies: string[], perRequest: number, seconds: number) => cannonWith(url, bodies, perRequest, seconds, CONNECTIONS);

function infra(): void {
  if (env.EMO_SKIP_INFRA_UP !== '1') execFileSync('bash', [path.join(root, 'scripts/infra/up.sh'), 'kafka', 'registry'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const envFile = path.join(infraDir(env), 'env');
  applyInfraEnv(envFile, env, { keepExisting: true });
}

/** This run's own topics: nobody else's tests see them (and they are deleted at the end). */
function kafkaConfig(name: string, kafka: Partial<KafkaOptions> = {}): Config {
  return loadConfig(
    { ...env, LOG_ADAPTER: 'kafka', REGISTRY_ADAPTER: 'confluent' },
    { port: 0, log: { reactionsTopic: `${RUN}-${name}.reactions`, aggregatesTopic: `${RUN}-${name}.aggregates` }, kafka: { reactionsPartitions: PARTITIONS, ...kafka } },
  );
}

async function createTopics(config: Config): Promise<void> {
  const kl = new KafkaLog(config.kafka, silentLogger);
  const topics = topicsFor(config);
  await kl.ensureTopics(topics);
  await kl.close();
  createdTopics.push(...topics.map((t) => t.name));
}

async function deleteTopics(brokers: string): Promise<void> {
  if (createdTopics.length === 0) return;
  const admin = Kafka.AdminClient.create({ 'bootstrap.servers': brokers, 'client.id': `${RUN}-cleanup` });
  for (const t of createdTopics.splice(0)) await new Promise<void>((resolve) => admin.deleteTopic(t, 10_000, () => resolve()));
  admin.disconnect();
}

/** Sum of the end offsets (high watermarks) of a topic's partitions: records the broker holds. */
async function endOffsets(brokers: string, topic: string, partitions: number): Promise<number> {
  const c = new Kafka.KafkaConsumer({ 'bootstrap.servers': brokers, 'group.id': `${RUN}-offsets` } as RdKafka.ConsumerGlobalConfig, {});
  await new Promise<void>((resolve, reject) => c.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  let total = 0;
  try {
    for (let p = 0; p < partitions; p++) {
      total += await new Promise<number>((resolve, reject) => c.queryWatermarkOffsets(topic, p, 10_000, (err, o) => (err ? reject(err) : resolve(o.highOffset))));
    }
  } finally {
    await new Promise<void>((resolve) => c.disconnect(() => resolve()));
  }
  return total;
}

/** Bytes of a topic's log segments on the local broker's disk, when its data dir is known. */
function diskBytes(topic: string): number | null {
  const dir = env.BENCH_KAFKA_DATA_DIR ?? path.join(env.EMOSTREAM_INFRA_DIR ?? path.join(root, '.infra'), 'kafka/data');
  if (!existsSync(dir)) return null;
  let bytes = 0;
  for (const d of readdirSync(dir)) {
    if (!d.startsWith(`${topic}-`) || !/-\d+$/.test(d)) continue;
    for (const f of readdirSync(path.join(dir, d))) if (f.endsWith('.log')) bytes += statSync(path.join(dir, d, f)).size;
  }
  return bytes;
}

function reaction(i: number, ts: number): Reaction {
  // A skewed emoji mix (weight ~ 1/(k+1)), matches round-robin, users spread.
  const k = Math.floor(catalog.size * ((i * 0.6180339887) % 1) ** 2);
  return { matchId: `match-${i % MATCHES}`, userId: `u${i % 100_000}`, emoji: catalog.entries[k]!.emoji, ts, receivedAt: ts };
}

// ---------------------------------------------------------------------------------------------
// 1. HTTP -> log
// ---------------------------------------------------------------------------------------------


// Single reactions rotate over MATCHES matches (so over the partitions); a batch holds 100 of them.
const singles = Array.from({ length: MATCHES }, (_, m) => JSON.stringify({ matchId: `match-${m}`, userId: `u${m}`, emoji: catalog.entries[m % catalog.size]!.emoji }));
// As an SDK sends them: one viewer, one match per request (what packing groups by).
const oneMatchBatches = Array.from({ length: 10 }, (_, b) =>
  JSON.stringify({ reactions: Array.from({ length: 100 }, (_, i) => ({ matchId: `match-${b % MATCHES}`, userId: `u${b}`, emoji: catalog.entries[(i * 7) % 4]!.emoji })) }),
);
const batches = Array.from({ length: 10 }, (_, b) =>
  JSON.stringify({ reactions: Array.from({ length: 100 }, (_, i) => ({ matchId: `match-${(b * 100 + i) % MATCHES}`, userId: `u${b * 100 + i}`, emoji: catalog.entries[(i * 7) % 4]!.emoji })) }),
);

async function apiProcess(extraEnv: Record<string, string>) {
  // Limits high enough that the benchmark measures the path, not the per-user limiter.
  return startRoleChild({ ROLE: 'api', USER_RATE_PER_SEC: '1000000', USER_BURST: '10000000', CLIENT_RATE_PER_SEC: '10000000', CLIENT_BURST: '100000000', INSTANCE_ID: `${RUN}-api`, ...extraEnv });
}

async function httpCases(): Promise<Row[]> {
  const rows: Row[] = [];
  const variants: Array<{ name: string; format: 'single' | 'packed'; env: Record<string, string>; config?: Config }> = [];
  for (const format of FORMATS) {
    variants.push({ name: 'memory', format, env: { LOG_ADAPTER: 'memory', REGISTRY_ADAPTER: 'memory', LOG_CAPACITY: '200000000', REACTIONS_FORMAT: format } });
  }
  for (const [mode, format] of [['durable', 'single'], ['queued', 'single'], ['durable', 'packed']] as const) {
    if (!FORMATS.includes(format)) continue;
    const config = kafkaConfig(`api-${mode}-${format}`, { ackMode: mode });
    await createTopics(config);
    variants.push({
      name: `kafka ${mode}`,
      format,
      config,
      env: {
        REACTIONS_FORMAT: format,
        LOG_ADAPTER: 'kafka',
        REGISTRY_ADAPTER: 'confluent',
        KAFKA_ACK_MODE: mode,
        KAFKA_BROKERS: config.kafka.brokers,
        SCHEMA_REGISTRY_URL: config.registryUrl,
        REACTIONS_TOPIC: config.log.reactionsTopic,
        AGGREGATES_TOPIC: config.log.aggregatesTopic,
        KAFKA_REACTIONS_PARTITIONS: String(PARTITIONS),
      },
    });
  }
  const base = new Map<string, CannonResult>();
  for (const v of variants) {
    log(`http: api on the ${v.name} log, ${v.format} records`);
    const server = await apiProcess(v.env);
    const url = server.url;
    let accepted = 0;
    try {
      accepted += (await cannon(`${url}/v1/reactions/batch`, batches, 100, 2)).accepted; // warm-up (JIT, connections)
      const cases = [
        ['POST /v1/reactions/batch (100/req)', await cannon(`${url}/v1/reactions/batch`, batches, 100, SECONDS)],
        ['POST /v1/reactions/batch (100/req, one match)', await cannon(`${url}/v1/reactions/batch`, oneMatchBatches, 100, SECONDS)],
        ['POST /v1/reactions', await cannon(`${url}/v1/reactions`, singles, 1, SECONDS)],
      ] as const;
      for (const [c, r] of cases) {
        accepted += r.accepted;
        // Against the memory log writing the same format, in this run.
        if (v.name === 'memory') base.set(`${v.format} ${c}`, r);
        const b = base.get(`${v.format} ${c}`);
        const { accepted: _a, ...figures } = r;
        rows.push({ part: 'http', case: c, log: v.name, format: v.format, ...figures, ratioToMemory: b ? round(r.reactionsPerSec / b.reactionsPerSec, 3) : 1 });
      }
    } finally {
      await stopChild(server); // the producer flushes on SIGTERM
    }
    if (v.config) {
      const inLog = await endOffsets(v.config.kafka.brokers, v.config.log.reactionsTopic, PARTITIONS);
      // ≥ acked: autocannon stops counting at the deadline while its last requests still land.
      // Packed: records, not reactions (one per request and match).
      for (const r of rows.filter((x) => x.log === v.name && x.format === v.format)) r.inLogVsAcked = v.format === 'single' ? `${inLog}/${accepted}` : `${inLog} records/${accepted}`;
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// 2. producer alone
// ---------------------------------------------------------------------------------------------

/**
 * Sends `values` through KafkaLog's producer (durable: each send resolves on acks=all) in sends of
 * `chunk` records with at most `window` records unacknowledged. `encode(i)` is called per record
 * just before its send when values are produced live (real-time timestamps).
 */
async function produceWindowed(config: Config, topic: string, count: number, value: (i: number) => { key: string; value: Buffer }, window = PRODUCER_WINDOW, chunk = PRODUCER_CHUNK) {
  const kl = new KafkaLog({ ...config.kafka, ackMode: 'durable' }, silentLogger);
  const producer = await kl.producer();
  const latencies: number[] = [];
  const inflight = new Set<Promise<void>>();
  let unacked = 0;
  const t0 = now();
  try {
    for (let i = 0; i < count; i += chunk) {
      while (unacked + chunk > window && inflight.size > 0) await Promise.race(inflight);
      const n = Math.min(chunk, count - i);
      const records = [];
      for (let j = i; j < i + n; j++) {
        const r = value(j);
        records.push({ topic, key: r.key, value: r.value });
      }
      const sentAt = now();
      unacked += n;
      const p: Promise<void> = producer.send(records).then(() => {
        latencies.push(now() - sentAt);
        unacked -= n;
        inflight.delete(p);
      });
      inflight.add(p);
    }
    await Promise.all(inflight);
  } finally {
    await kl.close();
  }
  const seconds = (now() - t0) / 1000;
  return { seconds, msgsPerSec: count / seconds, ackP50Ms: pct(latencies, 50), ackP99Ms: pct(latencies, 99) };
}

async function producerCases(serde: AvroSerde<Reaction>): Promise<Row[]> {
  const rows: Row[] = [];
  const t = Date.now();
  const encoded = Array.from({ length: PRODUCER_MESSAGES }, (_, i) => {
    const r = reaction(i, t);
    return { key: r.matchId, value: serde.encode(r) };
  });
  const avgValueBytes = encoded.reduce((s, e) => s + e.value.length, 0) / encoded.length;
  const matrix: Array<[number, KafkaOptions['compression']]> = [];
  for (const c of COMPRESSIONS) for (const l of LINGERS) matrix.push([l, c]);
  let reference: number | undefined;
  for (const [lingerMs, compression] of matrix) {
    const config = kafkaConfig(`producer-l${lingerMs}-${compression}`, { lingerMs, compression });
    const topic = config.log.reactionsTopic;
    const kl = new KafkaLog(config.kafka, silentLogger);
    await kl.ensureTopics([{ name: topic, partitions: PARTITIONS }]);
    await kl.close();
    createdTopics.push(topic);
    log(`producer: linger.ms=${lingerMs} compression=${compression}`);
    const r = await produceWindowed(config, topic, PRODUCER_MESSAGES, (i) => encoded[i]!);
    await sleep(300); // let the broker roll its writes to disk before counting bytes
    const disk = diskBytes(topic);
    reference ??= r.msgsPerSec;
    rows.push({
      part: 'producer',
      case: `durable, window ${PRODUCER_WINDOW}, sends of ${PRODUCER_CHUNK}`,
      lingerMs,
      compression,
      messages: PRODUCER_MESSAGES,
      seconds: round(r.seconds, 2),
      msgsPerSec: Math.round(r.msgsPerSec),
      ackP50Ms: round(r.ackP50Ms, 1),
      ackP99Ms: round(r.ackP99Ms, 1),
      diskBytesPerMsg: disk === null ? 'n/a' : round(disk / PRODUCER_MESSAGES, 1),
      ratio: round(r.msgsPerSec / reference, 3),
    });
  }
  rows.forEach((r) => (r.avgValueBytes = round(avgValueBytes, 1)));
  return rows;
}

// ---------------------------------------------------------------------------------------------
// 3. aggregator end to end through Kafka
// ---------------------------------------------------------------------------------------------

/** Reads the aggregates topic (read_committed) from the start; resolves when the totals sum to `n`. */
function watchAggregates(config: Config, serde: AvroSerde<WindowAggregate>, n: number) {
  const state = { sum: 0, windows: 0, duplicates: 0, doneAt: 0, firstAt: 0 };
  const keys = new Set<string>();
  const watcher = watchTopics(
    config.kafka.brokers,
    [config.log.aggregatesTopic],
    async (m) => {
      const a = await serde.decode(m.value!);
      const key = `${a.matchId}|${a.windowStart}`;
      if (keys.has(key)) {
        state.duplicates++;
        return;
      }
      keys.add(key);
      state.windows++;
      state.sum += a.total;
      state.firstAt ||= now();
      if (state.sum >= n && !state.doneAt) state.doneAt = now();
    },
    now,
  );
  return {
    state,
    ready: watcher.ready,
    async until(timeoutMs: number): Promise<number> {
      const deadline = Date.now() + timeoutMs;
      while (!state.doneAt) {
        if (Date.now() > deadline) throw new Error(`aggregates sum to ${state.sum} of ${n} after ${timeoutMs} ms (${state.windows} windows)`);
        await sleep(10);
      }
      return state.doneAt;
    },
    stop: () => watcher.stop(),
  };
}

/**
 * The records of the aggregator case, stamped with the wall clock a minute back as they are made
 * (the input spans its production time): every window is closable by the time the aggregator has
 * read the backlog, so both runs measure work, not the wait for the last window's end + grace.
 * Packed: records of PACK reactions of one match, as an SDK's batch becomes.
 */
function aggregatorInput(serdes: Awaited<ReturnType<typeof createSerdes>>, topic: string, format: 'single' | 'packed') {
  const records = format === 'single' ? AGG_N : Math.ceil(AGG_N / PACK);
  const record = (i: number) => {
    const now = Date.now() - 60_000;
    if (format === 'single') {
      const r = reaction(i, now);
      return { key: r.matchId, value: serdes.reaction.encode(r) };
    }
    const matchId = `match-${i % MATCHES}`;
    const rs = Array.from({ length: Math.min(PACK, AGG_N - i * PACK) }, (_, k) => ({ ...reaction(i * PACK + k, now), matchId }));
    return serdes.reactions.records(topic, rs)[0]!;
  };
  return { records, record };
}

/**
 * The in-run baseline: the same AggregatorRunner, rules and records on the in-memory log, in this
 * process (one core), timed from its start until the aggregates it wrote sum to N.
 */
async function aggregatorInMemory(format: 'single' | 'packed', config: Config): Promise<Row> {
  const serdes = await createSerdes(new MemorySchemaRegistry(), { reactionsTopic: 'r', aggregatesTopic: 'a' }, format);
  const input = aggregatorInput(serdes, 'r', format);
  const log = new MemoryLog({ capacity: input.records + 1000, capacityBytes: 16 * 1024 ** 3, defaultPartitions: PARTITIONS });
  await log.ensureTopics([{ name: 'r', partitions: PARTITIONS }, { name: 'a', partitions: 1 }]);
  const producer = await log.producer();
  for (let i = 0; i < input.records; i += PRODUCER_CHUNK) {
    const chunk = [];
    for (let j = i; j < Math.min(input.records, i + PRODUCER_CHUNK); j++) chunk.push({ topic: 'r', ...input.record(j) });
    await producer.send(chunk);
  }
  const runner = new AggregatorRunner({
    log,
    serdes,
    catalog: EmojiCatalog.load(),
    rules: config.aggregation,
    reactionsTopic: 'r',
    aggregatesTopic: 'a',
    groupId: 'agg',
    transactionalId: 'agg-0',
    clock: systemClock,
    metrics: createMetrics(),
    logger: silentLogger,
    punctuateMs: config.punctuateMs,
  });
  // The memory log's waits are unref'd (they never hold a process open): keep this one alive.
  const keepAlive = setInterval(() => {}, 1000);
  const start = now();
  await runner.start();
  let sum = 0;
  let windows = 0;
  let from = 0;
  const deadline = Date.now() + 300_000;
  while (sum < AGG_N) {
    if (Date.now() > deadline) throw new Error(`in-memory aggregates sum to ${sum} of ${AGG_N}`);
    for (const r of log.read('a', 0, from, 10_000)) {
      from = r.offset + 1;
      sum += serdes.aggregate.decodeKnown(r.value).total;
      windows++;
    }
    if (sum < AGG_N) await sleep(5);
  }
  const seconds = (now() - start) / 1000;
  await runner.close();
  await log.close();
  clearInterval(keepAlive);
  return { part: 'aggregator', case: 'same runner on the in-memory log (in-run baseline)', format, measured: 'start -> done', reactions: AGG_N, windows, seconds: round(seconds, 2), reactionsPerSec: Math.round(AGG_N / seconds) };
}

async function aggregatorCase(format: 'single' | 'packed'): Promise<Row[]> {
  const config = kafkaConfig(`agg-${format}`);
  await createTopics(config);
  const serdes = await createSerdes(new ConfluentSchemaRegistry(config.registryUrl), config.log, format);
  log(`aggregator: the same runner on the in-memory log (baseline), ${AGG_N} reactions, ${format} records`);
  const baseline = await aggregatorInMemory(format, config);
  log(`aggregator: producing ${AGG_N} reactions (ts a minute back, ${format} records) to ${config.log.reactionsTopic}`);
  const { records, record } = aggregatorInput(serdes, config.log.reactionsTopic, format);
  const prod = await produceWindowed(config, config.log.reactionsTopic, records, record);
  const inLog = await endOffsets(config.kafka.brokers, config.log.reactionsTopic, PARTITIONS);
  if (inLog !== records) throw new Error(`reactions topic holds ${inLog}, expected ${records}`);
  const w = watchAggregates(config, serdes.aggregate, AGG_N);
  await w.ready;
  const rows: Row[] = [];
  log('aggregator: starting the aggregator role process on the backlog');
  const spawnAt = now();
  const agg = await startRoleChild({
      ROLE: 'aggregator',
      LOG_ADAPTER: 'kafka',
      REGISTRY_ADAPTER: 'confluent',
      KAFKA_BROKERS: config.kafka.brokers,
      SCHEMA_REGISTRY_URL: config.registryUrl,
      REACTIONS_TOPIC: config.log.reactionsTopic,
      AGGREGATES_TOPIC: config.log.aggregatesTopic,
      KAFKA_REACTIONS_PARTITIONS: String(PARTITIONS),
      INSTANCE_ID: `${RUN}-agg`, // its own transactional id: fences nobody else's aggregator
  });
  const readyAt = now();
  const url = agg.url;
  let firstAt = 0;
  const poll = setInterval(() => {
    if (firstAt) return;
    void scrapeMetric(url, 'emostream_aggregator_reactions_total').then(
      (v) => {
        if (v > 0 && !firstAt) firstAt = now();
      },
      () => {},
    );
  }, 25);
  try {
    const doneAt = await w.until(300_000);
    clearInterval(poll);
    const dropped = await scrapeMetric(url, 'emostream_aggregator_dropped_total');
    const emitted = await scrapeMetric(url, 'emostream_windows_emitted_total');
    await sleep(500); // any duplicate would show by now
    const r = (measured: string, ms: number): Row => ({
      part: 'aggregator',
      case: 'backlog -> aggregates sum to N (read_committed)',
      format,
      measured,
      reactions: AGG_N,
      windows: w.state.windows,
      seconds: round(ms / 1000, 2),
      reactionsPerSec: Math.round(AGG_N / (ms / 1000)),
    });
    rows.push(r('spawn -> done', doneAt - spawnAt), r('process up -> done', doneAt - readyAt), r('first reaction counted -> done', doneAt - (firstAt || readyAt)));
    rows.forEach((x) => Object.assign(x, { duplicates: w.state.duplicates, droppedLate: dropped, windowsEmitted: emitted, partitions: PARTITIONS, ratioToMemory: round(Number(x.reactionsPerSec) / Number(baseline.reactionsPerSec), 2) }));
    rows.push(baseline);
    rows.push({ part: 'aggregator', case: 'pre-production of the input (durable, windowed)', format, measured: 'producer', reactions: AGG_N, records, seconds: round(prod.seconds, 2), reactionsPerSec: Math.round((prod.msgsPerSec * AGG_N) / records) });
  } finally {
    clearInterval(poll);
    await stopChild(agg);
    await w.stop();
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------

infra();
const brokers = env.KAFKA_BROKERS ?? '127.0.0.1:19092';
// Measured first, reported together at the end (one table per part; one JSON file each).
const results: Array<[string, Row[]]> = [];
try {
  if (PARTS.has('http')) results.push(['kafka-http', await httpCases()]);
  if (PARTS.has('producer')) {
    const c = kafkaConfig('serde');
    const serdes = await createSerdes(new ConfluentSchemaRegistry(c.registryUrl), c.log);
    results.push(['kafka-producer', await producerCases(serdes.reaction)]);
  }
  if (PARTS.has('aggregator')) {
    const rows: Row[] = [];
    for (const format of FORMATS) rows.push(...(await aggregatorCase(format)));
    results.push(['kafka-aggregator', rows]);
  }
  const extra = {
    run: RUN,
    seconds: SECONDS,
    connections: CONNECTIONS,
    partitions: PARTITIONS,
    matches: MATCHES,
    producer: { messages: PRODUCER_MESSAGES, window: PRODUCER_WINDOW, chunk: PRODUCER_CHUNK },
    loadavg: loadavg().map((x) => round(x, 2)),
    note: 'One broker; 2 cores shared by the broker, the registry, the measured process and the load generator. http ratioToMemory: reactions/s vs the api on the memory log; inLogVsAcked: records on the broker after the api stopped vs 2xx-acknowledged reactions; producer ratio: msgs/s vs the first row.',
  };
  for (const [name, rows] of results) report(name, rows, extra);
} finally {
  await deleteTopics(brokers).catch((err) => log(`topic cleanup failed: ${(err as Error).message}`));
}
process.exit(0);
