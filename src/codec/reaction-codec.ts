import { emoError } from '../domain/errors.js';
import type { Reaction, ReactionsFormat } from '../domain/types.js';
import type { ProducerRecord } from '../ports/log.js';
import type { SchemaRegistry } from '../ports/schema-registry.js';
import { readSchemaId } from './confluent-frame.js';


/**
 * What the codec needs of a record serde (serde.ts's AvroSerde is one): its schema's id, and
 * encode/decode in Confluent framing. Named here so that this file and serde.ts, which builds a
 * ReactionCodec, do not import each other.
 */
export interface RecordSerde<T> {
  readonly schemaId: number;
  encode(value: T): Buffer;
  /** A record whose schema id is this serde's own. */
  decodeKnown(buf: Buffer): T;
  decode(buf: Buffer): Promise<T>;
}

export type { ReactionsFormat } from '../domain/types.js';

export interface ReactionItem {
  userId: string;
  emoji: string;
  ts: number;
}

export interface ReactionBatch {
  matchId: string;
  receivedAt: number;
  reactions: ReactionItem[];
}

type Kind = 'single' | 'packed';

export class ReactionCodec {
  /** Schema id -> which record it frames; ids of other versions are learnt from the registry. */
  readonly #kinds = new Map<number, Kind>();

  constructor(
    readonly format: ReactionsFormat,
    private readonly single: RecordSerde<Reaction>,
    private readonly packed: RecordSerde<ReactionBatch>,
    private readonly registry: SchemaRegistry,
  ) {
    this.#kinds.set(single.schemaId, 'single');
    this.#kinds.set(packed.schemaId, 'packed');
  }

  /**
   * The records for reactions accepted together (one request, one receivedAt), keyed by match:
   * packed, one per match in first-seen order; single, one per reaction in request order.
   */
  records(topic: string, reactions: Reaction[]): ProducerRecord[] {
    if (this.format === 'single') return reactions.map((r) => ({ topic, key: r.matchId, value: this.single.encode(r) }));
    const byMatch = new Map<string, ReactionBatch>();
    for (const r of reactions) {
      let b = byMatch.get(r.matchId);
      if (!b) {
        b = { matchId: r.matchId, receivedAt: r.receivedAt, reactions: [] };
        byMatch.set(r.matchId, b);
      } else if (b.receivedAt !== r.receivedAt) {
        throw emoError('INTERNAL', 'reactions packed together must share one receivedAt');
      }
      b.reactions.push({ userId: r.userId, emoji: r.emoji, ts: r.ts });
    }
    const out: ProducerRecord[] = [];
    for (const b of byMatch.values()) out.push({ topic, key: b.matchId, value: this.packed.encode(b) });
    return out;
  }

  /**
   * The reactions a record holds, calling `each` per reaction in record order. Synchronous for
   * schema ids already known (the hot path); a promise when the registry must be asked first.
   */
  forEach(value: Buffer, each: (r: Reaction) => void): void | Promise<void> {
    const kind = this.#kinds.get(readSchemaId(value));
    if (kind === undefined) return this.#learn(value).then(() => this.forEach(value, each));
    if (kind === 'single') {
      each(this.single.decodeKnown(value));
      return;
    }
    const b = this.packed.decodeKnown(value);
    for (const it of b.reactions) each({ matchId: b.matchId, userId: it.userId, emoji: it.emoji, ts: it.ts, receivedAt: b.receivedAt });
  }

  /** All of a record's reactions (tests, tools); the aggregator uses forEach. */
  async decode(value: Buffer): Promise<Reaction[]> {
    const out: Reaction[] = [];
    await this.forEach(value, (r) => out.push(r));
    return out;
  }

  async #learn(value: Buffer): Promise<void> {
    const id = readSchemaId(value);
    const schema = (await this.registry.getSchema(id)) as { name?: string; namespace?: string };
    const name = schema.name?.includes('.') ? schema.name : `${schema.namespace ?? ''}.${schema.name ?? ''}`;
    let kind: Kind;
    if (name === 'io.emostream.v1.ReactionBatch') kind = 'packed';
    else if (name === 'io.emostream.v1.Reaction') kind = 'single';
    else throw emoError('UNKNOWN_SCHEMA', `schema id ${id} (${name}) is not a reaction record`);
    // The serde builds the resolver from the writer schema of this id (another version of it).
    await (kind === 'single' ? this.single.decode(value) : this.packed.decode(value));
    this.#kinds.set(id, kind);
  }
}
