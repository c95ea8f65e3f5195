import { describe, expect, it } from 'vitest';
import { readSchemaId } from '../../src/codec/confluent-frame.js';
import { MemorySchemaRegistry } from '../../src/adapters/memory/memory-schema-registry.js';
import { AvroSerde, createSerdes, loadAvsc } from '../../src/codec/serde.js';
import { isEmoError } from '../../src/domain/errors.js';
import type { Reaction } from '../../src/domain/types.js';

const topics = { reactionsTopic: 'r', aggregatesTopic: 'a' };

describe('Avro serde in Confluent framing', () => {
  it('round-trips a reaction and an aggregate with the registry id in the header', async () => {
    const registry = new MemorySchemaRegistry();
    const serdes = await createSerdes(registry, topics);
    const reaction: Reaction = { matchId: 'm1', userId: 'u1', emoji: '🔥', ts: 1_700_000_000_123, receivedAt: 1_700_000_000_200 };
    const buf = serdes.reaction.encode(reaction);
    expect(buf[0]).toBe(0);
    expect(readSchemaId(buf)).toBe(serdes.reaction.schemaId);
    expect({ ...serdes.reaction.decodeKnown(buf) }).toEqual(reaction);

    const agg = { matchId: 'm1', windowStart: 2000, windowEnd: 4000, counts: { '🔥': 3 }, units: { '🔥': 1 }, total: 3, sentiment: 0.8 };
    const abuf = serdes.aggregate.encode(agg);
    expect(readSchemaId(abuf)).toBe(serdes.aggregate.schemaId);
    expect(serdes.aggregate.schemaId).not.toBe(serdes.reaction.schemaId);
    expect({ ...(await serdes.aggregate.decode(abuf)) }).toEqual(agg);
  });

  it('reads records written with an older writer schema through the registry', async () => {
    const registry = new MemorySchemaRegistry();
    const current = loadAvsc('reaction') as { fields: Array<{ name: string }> };
    // A v0 writer without receivedAt: the reader's schema needs a default for it to resolve.
    const old = { ...current, fields: current.fields.filter((f) => f.name !== 'receivedAt') };
    const reader = { ...current, fields: current.fields.map((f) => (f.name === 'receivedAt' ? { ...f, default: 0 } : f)) };
    const oldSerde = await AvroSerde.create<Omit<Reaction, 'receivedAt'>>(registry, 'r-value', old);
    const newSerde = await AvroSerde.create<Reaction>(registry, 'r-value', reader);
    const buf = oldSerde.encode({ matchId: 'm', userId: 'u', emoji: '🔥', ts: 5 });
    expect(() => newSerde.decodeKnown(buf)).toThrow(/not loaded/);
    expect({ ...(await newSerde.decode(buf)) }).toEqual({ matchId: 'm', userId: 'u', emoji: '🔥', ts: 5, receivedAt: 0 });
  });

  it('refuses bytes without the Confluent magic byte with EMO_ERR_CODEC', async () => {
    const serdes = await createSerdes(new MemorySchemaRegistry(), topics);
    try {
      serdes.reaction.decodeKnown(Buffer.from([1, 0, 0, 0, 1, 2]));
      expect.unreachable();
    } catch (err) {
      expect(isEmoError(err, 'CODEC')).toBe(true);
    }
  });

  it('refuses to encode a record that does not fit the schema', async () => {
    const serdes = await createSerdes(new MemorySchemaRegistry(), topics);
    expect(() => serdes.reaction.encode({ matchId: 'm' } as Reaction)).toThrow(/cannot encode/);
  });
});
