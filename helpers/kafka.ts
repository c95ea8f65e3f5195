import type { ReactionCodec } from '../src/codec/reaction-codec.js';
import { createRequire } from 'node:module';
import type * as RdKafka from 'node-rdkafka';
import { compressWindow } from '../src/aggregate/compress.js';
import { eventTimeOf, windowStartFor } from '../src/domain/windows.js';
import type { AvroSerde } from '../src/codec/serde.js';
import { loadConfig, type Config, type DeepPartial } from '../src/config/config.js';
import type { Reaction, WindowAggregate } from '../src/domain/types.js';
import { KafkaLog } from '../src/adapters/kafka/kafka-log.js';
import { topicsFor } from '../src/roles/adapters.js';
import { catalog, silentLogger } from './fixtures.js';

const Kafka = createRequire(import.meta.url)('node-rdkafka') as typeof RdKafka;
let n = 0;

/** Topic and group names no other test (or earlier run) uses. */
export function unique(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${n++}`;
}

/** Config for the real adapters, with this test's own topics. */
export function kafkaConfig(overrides: DeepPartial<Config> = {}): Config {
  const id = unique('t');
  return loadConfig(
    { ...process.env, LOG_ADAPTER: 'kafka', REGISTRY_ADAPTER: 'confluent', BUS_ADAPTER: 'redis' },
    {
      port: 0,
      ...overrides,
      log: { reactionsTopic: `${id}.reactions`, aggregatesTopic: `${id}.aggregates`, ...overrides.log },
      kafka: { reactionsPartitions: 6, ...overrides.kafka },
      redis: { keyPrefix: `${id}:`, ...overrides.redis },
    },
  );
}

export function envFor(config: Config): Record<string, string> {
  return {
    LOG_ADAPTER: config.adapters.log,
    REGISTRY_ADAPTER: config.adapters.registry,
    BUS_ADAPTER: config.adapters.bus,
    KAFKA_BROKERS: config.kafka.brokers,
    SCHEMA_REGISTRY_URL: config.registryUrl,
    REDIS_URL: config.redis.url,
    REDIS_KEY_PREFIX: config.redis.keyPrefix,
    REACTIONS_TOPIC: config.log.reactionsTopic,
    AGGREGATES_TOPIC: config.log.aggregatesTopic,
    KAFKA_REACTIONS_PARTITIONS: String(config.kafka.reactionsPartitions),
    WINDOW_MS: String(config.aggregation.windowMs),
    GRACE_MS: String(config.aggregation.graceMs),
    UNIT_SCALE: String(config.aggregation.unitScale),
    TOP_N: String(config.aggregation.topN),
    LOG_LEVEL: 'warn',
  };
}

export async function createTopics(config: Config): Promise<void> {
  const log = new KafkaLog(config.kafka, silentLogger);
  await log.ensureTopics(topicsFor(config));
  await log.close();
}

/** The match id produceReactions gives its m-th match (0 <= m < matches). */
export const matchIdOf = (m: number): string => `match-${m}`;

/**
 * Produces reactions straight to the reactions topic (acks=all), with real-time timestamps, in
 * order. Returns what was acknowledged: the expected input of every aggregate check.
 */
export async function produceReactions(
  config: Config,
  /** One record per reaction, or codecs (each chunk of 500 through the next, round robin: a mix of formats). */
  serde: AvroSerde<Reaction> | ReactionCodec[],
  count: number,
  opts: {
    matches: number;
    perSecond?: number;
    emojis?: string[];
    onProgress?: (sent: number) => void | Promise<void>;
    /** The client's ts for a reaction received at `now` (default: now): skewed clocks. */
    clientTs?: (now: number, j: number) => number;
    /**
     * Chunks sent before the oldest is acknowledged (default 1). One at a time caps the rate at
     * a chunk per acknowledgement round trip, ~45k reactions/s on the bench machine.
     */
    inFlight?: number;
  },
): Promise<Reaction[]> {
  const log = new KafkaLog(config.kafka, silentLogger);
  const producer = await log.producer();
  const emojis = opts.emojis ?? catalog.entries.map((e) => e.emoji);
  const sent: Reaction[] = [];
  const chunk = 500;
  const started = Date.now();
  const pending: Promise<void>[] = [];
  try {
    for (let i = 0; i < count; i += chunk) {
      const now = Date.now();
      const batch: Reaction[] = [];
      for (let j = i; j < Math.min(count, i + chunk); j++) {
        // A skewed mix so top-N and ties matter: emoji k appears with weight ~ 1/(k+1).
        const k = Math.floor(emojis.length * Math.random() ** 2);
        batch.push({ matchId: matchIdOf(j % opts.matches), userId: `u${j}`, emoji: emojis[k]!, ts: opts.clientTs?.(now, j) ?? now, receivedAt: now });
      }
      const topic = config.log.reactionsTopic;
      pending.push(producer.send(Array.isArray(serde) ? serde[(i / chunk) % serde.length]!.records(topic, batch) : batch.map((r) => ({ topic, key: r.matchId, value: serde.encode(r) }))));
      // The oldest first: a failed send rejects here, and chunks before it are acknowledged.
      while (pending.length >= (opts.inFlight ?? 1)) await pending.shift();
      sent.push(...batch);
      await opts.onProgress?.(sent.length);
      if (opts.perSecond) {
        const ahead = (sent.length / opts.perSecond) * 1000 - (Date.now() - started);
        if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
      }
    }
    await Promise.all(pending);
  } finally {
    for (const p of pending) p.catch(() => {});
    await log.close();
  }
  return sent;
}

/** What an exact aggregator must output for this input. */
export function expectedAggregates(config: Config, reactions: Reaction[]): Map<string, WindowAggregate> {
  const counts = new Map<string, { matchId: string; start: number; byIndex: number[] }>();
  for (const r of reactions) {
    const start = windowStartFor(eventTimeOf(r.ts, r.receivedAt, config.aggregation.tsToleranceMs), config.aggregation.windowMs);
    const key = `${r.matchId}|${start}`;
    let c = counts.get(key);
    if (!c) counts.set(key, (c = { matchId: r.matchId, start, byIndex: new Array(catalog.size).fill(0) }));
    c.byIndex[catalog.get(r.emoji)!.index]! += 1;
  }
  const out = new Map<string, WindowAggregate>();
  for (const [key, c] of counts) out.set(key, compressWindow(catalog, config.aggregation, c.matchId, c.start, c.start + config.aggregation.windowMs, c.byIndex));
  return out;
}

export interface ConsumedRecord {
  key: string;
  value: Buffer;
  partition: number;
  offset: number;
}

/** Reads a topic from the start with read_committed until `done` says so or the time runs out. */
export async function consumeUntil(config: Config, topic: string, done: (records: ConsumedRecord[]) => boolean, timeoutMs = 120_000): Promise<ConsumedRecord[]> {
  const consumer = new Kafka.KafkaConsumer(
    { 'bootstrap.servers': config.kafka.brokers, 'group.id': unique('reader'), 'enable.auto.commit': false, 'isolation.level': 'read_committed' } as RdKafka.ConsumerGlobalConfig,
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  consumer.subscribe([topic]);
  consumer.setDefaultConsumeTimeout(200);
  const records: ConsumedRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  try {
    while (!done(records)) {
      if (Date.now() > deadline) break;
      const msgs = await new Promise<RdKafka.Message[]>((resolve, reject) => consumer.consume(1000, (err, m) => (err ? reject(err) : resolve(m))));
      for (const m of msgs) records.push({ key: m.key?.toString() ?? '', value: m.value!, partition: m.partition, offset: m.offset });
    }
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
  return records;
}

/**
 * The aggregates topic read from the start (read_committed), decoded, until their totals reach
 * `expectedTotal`: the records and the aggregates in topic order.
 */
export async function readAggregates(config: Config, serde: AvroSerde<WindowAggregate>, expectedTotal: number, timeoutMs?: number): Promise<{ aggregates: WindowAggregate[]; records: ConsumedRecord[] }> {
  const aggregates: WindowAggregate[] = [];
  let total = 0;
  const records = await consumeUntil(
    config,
    config.log.aggregatesTopic,
    (rs) => {
      while (aggregates.length < rs.length) {
        const a = serde.decodeKnown(rs[aggregates.length]!.value);
        aggregates.push(a);
        total += a.total;
      }
      return total >= expectedTotal;
    },
    timeoutMs,
  );
  return { aggregates, records };
}

/** Compares the aggregates topic with the expected windows: every window exactly once, exact figures. */
export function diffAggregates(expected: Map<string, WindowAggregate>, actual: WindowAggregate[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, WindowAggregate>();
  for (const a of actual) {
    const key = `${a.matchId}|${a.windowStart}`;
    if (seen.has(key)) problems.push(`duplicate window ${key}`);
    seen.set(key, a);
  }
  for (const [key, e] of expected) {
    const a = seen.get(key);
    if (!a) problems.push(`missing window ${key} (${e.total} reactions)`);
    else if (JSON.stringify(normal(a)) !== JSON.stringify(normal(e))) problems.push(`window ${key}: expected ${JSON.stringify(normal(e))}, got ${JSON.stringify(normal(a))}`);
  }
  for (const key of seen.keys()) if (!expected.has(key)) problems.push(`unexpected window ${key}`);
  return problems;
}

function normal(a: WindowAggregate) {
  const sort = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).sort(([x], [y]) => (x < y ? -1 : 1)));
  return { matchId: a.matchId, windowStart: a.windowStart, windowEnd: a.windowEnd, counts: sort(a.counts), units: sort(a.units), total: a.total, sentiment: a.sentiment };
}

/**
 * Reads topics from the start (read_committed) in the background and hands each record to
 * `onRecord` with its arrival time (`clock`): the one read loop the benches time windows with.
 * `ready` resolves once subscribed; `stop` ends the loop and disconnects.
 */
export function watchTopics(brokers: string, topics: string[], onRecord: (m: RdKafka.Message, at: number) => void | Promise<void>, clock: () => number = Date.now): { ready: Promise<void>; stop(): Promise<void> } {
  const consumer = new Kafka.KafkaConsumer(
    { 'bootstrap.servers': brokers, 'group.id': unique('watch'), 'enable.auto.commit': false, 'isolation.level': 'read_committed', 'fetch.wait.max.ms': 20 } as RdKafka.ConsumerGlobalConfig,
    { 'auto.offset.reset': 'earliest' },
  );
  let stopped = false;
  let connected!: () => void;
  const ready = new Promise<void>((r) => (connected = r));
  const loop = (async () => {
    await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
    consumer.subscribe(topics);
    consumer.setDefaultConsumeTimeout(20);
    connected();
    while (!stopped) {
      const msgs = await new Promise<RdKafka.Message[]>((resolve, reject) => consumer.consume(1000, (err, m) => (err ? reject(err) : resolve(m))));
      const at = clock();
      for (const m of msgs) await onRecord(m, at);
    }
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  })();
  return {
    ready,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/**
 * One reaction of a match nobody else uses, stamped `ts`: it moves the reactions topic's stream
 * time past the last real window, so both aggregators close it without waiting on the wall clock.
 */
export async function produceFlush(config: Config, serde: AvroSerde<Reaction>, matchId: string, ts: number): Promise<void> {
  const log = new KafkaLog(config.kafka, silentLogger);
  try {
    const producer = await log.producer();
    const r: Reaction = { matchId, userId: 'flush', emoji: '🔥', ts, receivedAt: ts };
    await producer.send([{ topic: config.log.reactionsTopic, key: r.matchId, value: serde.encode(r) }]);
  } finally {
    await log.close();
  }
}
