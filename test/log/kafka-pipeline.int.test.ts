import { afterAll, describe, expect, it } from 'vitest';
import { readSchemaId } from '../../src/codec/confluent-frame.js';
import { ConfluentSchemaRegistry } from '../../src/adapters/confluent/confluent-registry.js';
import { createSerdes, reactionBatchSubject } from '../../src/codec/serde.js';
import type { Reaction } from '../../src/domain/types.js';
import { startRole, type Pipeline } from '../../src/roles/start.js';
import { silentLogger } from '../../helpers/fixtures.js';
import { consumeUntil, createTopics, diffAggregates, expectedAggregates, kafkaConfig, produceReactions, readAggregates } from '../../helpers/kafka.js';

const running: Pipeline[] = [];
afterAll(async () => {
  for (const p of running.splice(0)) await p.close();
});

async function registryIdOf(url: string, subject: string): Promise<number> {
  const res = await fetch(`${url}/subjects/${encodeURIComponent(subject)}/versions/latest`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: number }).id;
}

describe('ingest API on real Kafka with the schema registry', () => {
  it('REACTIONS_FORMAT=single lands each accepted reaction Avro-encoded in Confluent framing with the registry\'s schema id, keyed by match', async () => {
    const config = kafkaConfig({ role: 'api', log: { reactionsFormat: 'single' } });
    const api = await startRole(config, { logger: silentLogger });
    running.push(api);
    const now = Date.now();
    const body = { reactions: Array.from({ length: 20 }, (_, i) => ({ matchId: `m${i % 3}`, userId: `u${i}`, emoji: i % 2 ? '🔥' : '😂', ts: now - i })) };
    const res = await api.app.inject({ method: 'POST', url: '/v1/reactions/batch', payload: body });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 20 });
    expect((await api.app.inject({ method: 'POST', url: '/v1/reactions', payload: { matchId: 'm9', userId: 'solo', emoji: '🎉' } })).statusCode).toBe(202);

    const records = await consumeUntil(config, config.log.reactionsTopic, (r) => r.length >= 21, 60_000);
    expect(records).toHaveLength(21);
    const id = await registryIdOf(config.registryUrl, `${config.log.reactionsTopic}-value`);
    const serdes = await createSerdes(new ConfluentSchemaRegistry(config.registryUrl), config.log);
    expect(serdes.reaction.schemaId).toBe(id);
    for (const r of records) {
      expect(r.value[0]).toBe(0);
      expect(readSchemaId(r.value)).toBe(id);
      const decoded = await serdes.reaction.decode(r.value);
      expect(r.key).toBe(decoded.matchId);
    }
    const users = new Set(await Promise.all(records.map(async (r) => (await serdes.reaction.decode(r.value)).userId)));
    expect(users).toEqual(new Set([...body.reactions.map((x) => x.userId), 'solo']));
    const ready = await api.app.inject('/readyz');
    expect(ready.json()).toEqual({ status: 'ready', failing: [] });
  });
});

describe('packed reactions on real Kafka (REACTIONS_FORMAT=packed)', () => {
  it('the API writes one record per request and match under the ReactionBatch subject, holding every reaction', async () => {
    const config = kafkaConfig({ role: 'api', log: { reactionsFormat: 'packed' } });
    const api = await startRole(config, { logger: silentLogger });
    running.push(api);
    const now = Date.now();
    const body = { reactions: Array.from({ length: 30 }, (_, i) => ({ matchId: `m${i % 3}`, userId: `u${i}`, emoji: i % 2 ? '🔥' : '😂', ts: now - i })) };
    expect((await api.app.inject({ method: 'POST', url: '/v1/reactions/batch', payload: body })).json()).toEqual({ accepted: 30 });
    expect((await api.app.inject({ method: 'POST', url: '/v1/reactions', payload: { matchId: 'm9', userId: 'solo', emoji: '🎉' } })).statusCode).toBe(202);

    const records = await consumeUntil(config, config.log.reactionsTopic, (r) => r.length >= 4, 60_000);
    expect(records).toHaveLength(4); // 3 matches in the batch + the single POST
    const id = await registryIdOf(config.registryUrl, reactionBatchSubject(config.log.reactionsTopic));
    const serdes = await createSerdes(new ConfluentSchemaRegistry(config.registryUrl), config.log);
    const got: Reaction[] = [];
    for (const r of records) {
      expect(readSchemaId(r.value)).toBe(id);
      const rs = await serdes.reactions.decode(r.value);
      expect(new Set(rs.map((x) => x.matchId))).toEqual(new Set([r.key]));
      got.push(...rs);
    }
    expect(got.map((r) => r.userId).sort()).toEqual([...body.reactions.map((x) => x.userId), 'solo'].sort());
    for (const r of got.filter((x) => x.userId !== 'solo')) expect(r.ts).toBe(body.reactions.find((x) => x.userId === r.userId)!.ts);
  });

  it('the aggregator counts a topic of packed and single records exactly, each window once', async () => {
    const config = kafkaConfig({ role: 'aggregator', aggregation: { graceMs: 1500 } });
    await createTopics(config);
    const aggregator = await startRole(config, { logger: silentLogger });
    running.push(aggregator);
    const registry = new ConfluentSchemaRegistry(config.registryUrl);
    const [packed, single] = await Promise.all([createSerdes(registry, config.log, 'packed'), createSerdes(registry, config.log, 'single')]);
    const sent = await produceReactions(config, [packed.reactions, single.reactions], 60_000, { matches: 5, perSecond: 20_000 });
    const expected = expectedAggregates(config, sent);
    const { aggregates: decoded } = await readAggregates(config, packed.aggregate, sent.length);
    expect(diffAggregates(expected, decoded)).toEqual([]);
  });
});

describe('TypeScript aggregator on real Kafka', () => {
  it('writes exact window aggregates for 100k reactions over several matches, each window once', async () => {
    const config = kafkaConfig({ role: 'aggregator', aggregation: { graceMs: 1500 } });
    await createTopics(config);
    const aggregator = await startRole(config, { logger: silentLogger });
    running.push(aggregator);
    const serdes = await createSerdes(new ConfluentSchemaRegistry(config.registryUrl), config.log);
    const sent = await produceReactions(config, serdes.reaction, 100_000, { matches: 7, perSecond: 25_000 });
    const expected = expectedAggregates(config, sent);
    expect(expected.size).toBeGreaterThanOrEqual(7 * 2);

    const { aggregates: decoded, records } = await readAggregates(config, serdes.aggregate, sent.length);
    expect(diffAggregates(expected, decoded)).toEqual([]);
    for (const r of records) expect(r.key).toBe(`${serdes.aggregate.decodeKnown(r.value).matchId}|${serdes.aggregate.decodeKnown(r.value).windowStart}`);
    const metrics = (await aggregator.app.inject('/metrics')).body;
    expect(metrics).not.toMatch(/emostream_aggregator_dropped_total\{reason="late"\} [1-9]/);
  });
});
