import { describe, expect, it } from 'vitest';
import { MemorySchemaRegistry } from '../../src/adapters/memory/memory-schema-registry.js';
import { readSchemaId } from '../../src/codec/confluent-frame.js';
import { AvroSerde, createSerdes, loadAvsc, reactionBatchSubject } from '../../src/codec/serde.js';
import type { ReactionBatch } from '../../src/codec/reaction-codec.js';
import { isEmoError } from '../../src/domain/errors.js';
import type { Reaction } from '../../src/domain/types.js';

const topics = { reactionsTopic: 'r', aggregatesTopic: 'a' };
const T = 1_800_000_000_000;
const request = (n: number): Reaction[] => Array.from({ length: n }, (_, i) => ({ matchId: `m${i % 3}`, userId: `u${i}`, emoji: i % 2 ? '🔥' : '😂', ts: T - i, receivedAt: T }));
const plain = (rs: Reaction[]) => rs.map((r) => ({ ...r }));

describe('ReactionCodec', () => {
  it('packed: one record per match of a request, keyed by match, under the ReactionBatch subject; every reaction back in order', async () => {
    const registry = new MemorySchemaRegistry();
    const { reactions: codec, reactionBatch } = await createSerdes(registry, topics, 'packed');
    const rs = request(10);
    const records = codec.records('r', rs);
    expect(records.map((r) => r.key)).toEqual(['m0', 'm1', 'm2']);
    for (const r of records) expect(readSchemaId(r.value)).toBe(reactionBatch.schemaId);
    expect(reactionBatch.schemaId).toBe(await registry.register(reactionBatchSubject('r'), loadAvsc('reaction-batch')));
    const back = (await Promise.all(records.map((r) => codec.decode(r.value)))).flat();
    const byMatch = (m: string) => rs.filter((r) => r.matchId === m);
    expect(plain(back)).toEqual([...byMatch('m0'), ...byMatch('m1'), ...byMatch('m2')]);
  });

  it('single: one record per reaction, as before; a packed reader decodes those too', async () => {
    const registry = new MemorySchemaRegistry();
    const single = await createSerdes(registry, topics, 'single');
    const packed = await createSerdes(registry, topics, 'packed');
    const rs = request(4);
    const records = single.reactions.records('r', rs);
    expect(records).toHaveLength(4);
    for (const r of records) expect(readSchemaId(r.value)).toBe(single.reaction.schemaId);
    const back = (await Promise.all(records.map((r) => packed.reactions.decode(r.value)))).flat();
    expect(plain(back)).toEqual(rs);
  });

  it('learns the id of another writer version from the registry, then decodes it synchronously', async () => {
    const registry = new MemorySchemaRegistry();
    const { reactions: codec } = await createSerdes(registry, topics, 'packed');
    // A newer writer with an extra field (BACKWARD-compatible for the reader, which ignores it).
    const v2 = loadAvsc('reaction-batch') as { fields: object[] };
    const writer = await AvroSerde.create<ReactionBatch & { region: string }>(registry, 'elsewhere', { ...v2, fields: [...v2.fields, { name: 'region', type: 'string', default: '' }] });
    const buf = writer.encode({ matchId: 'm', receivedAt: T, reactions: [{ userId: 'u', emoji: '🔥', ts: T - 5 }], region: 'eu' });
    const seen: Reaction[] = [];
    const first = codec.forEach(buf, (r) => seen.push(r));
    expect(first).toBeInstanceOf(Promise);
    await first;
    expect(codec.forEach(buf, (r) => seen.push(r))).toBeUndefined();
    expect(plain(seen)).toEqual([0, 1].map(() => ({ matchId: 'm', userId: 'u', emoji: '🔥', ts: T - 5, receivedAt: T })));
  });

  it('refuses a record framed with a schema that is not a reaction record, counting nothing', async () => {
    const registry = new MemorySchemaRegistry();
    const serdes = await createSerdes(registry, topics, 'packed');
    const other = await AvroSerde.create<{ x: number }>(registry, 'other', { type: 'record', name: 'Other', namespace: 'io.example', fields: [{ name: 'x', type: 'int' }] });
    const seen: Reaction[] = [];
    const err = await Promise.resolve(serdes.reactions.forEach(other.encode({ x: 1 }), (r) => seen.push(r))).catch((e: unknown) => e);
    expect(isEmoError(err, 'UNKNOWN_SCHEMA')).toBe(true);
    // A truncated packed record: the whole record fails before any of it counts.
    const good = serdes.reactions.records('r', request(6))[0]!.value;
    expect(() => serdes.reactions.forEach(good.subarray(0, good.length - 3), (r) => seen.push(r))).toThrow();
    expect(seen).toEqual([]);
  });
});
