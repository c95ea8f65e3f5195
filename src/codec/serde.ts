import { readFileSync } from 'node:fs';
import path from 'node:path';
import avro from 'avsc';
import { emoError } from '../domain/errors.js';
import { schemasDir } from '../domain/schemas-dir.js';
import type { Reaction, ReactionsFormat, WindowAggregate } from '../domain/types.js';
import { frame, HEADER_SIZE, readSchemaId } from './confluent-frame.js';
import type { SchemaRegistry } from '../ports/schema-registry.js';
import { ReactionCodec, type ReactionBatch } from './reaction-codec.js';

export function loadAvsc(name: 'reaction' | 'reaction-batch' | 'aggregate'): object {
  return JSON.parse(readFileSync(path.join(schemasDir(), `${name}.avsc`), 'utf8')) as object;
}

/**
 * Avro serde in Confluent framing. The writer schema id comes from the registry at init; records
 * written under another schema id (an older or newer writer) are read through a resolver built
 * from the registry's copy of that schema, cached per id.
 */
export class AvroSerde<T> {
  readonly #type: avro.Type;
  readonly #resolvers = new Map<number, avro.Resolver | null>();
  #schemaId = -1;

  private constructor(
    private readonly registry: SchemaRegistry,
    private readonly subject: string,
    private readonly schema: object,
  ) {
    this.#type = avro.Type.forSchema(schema as avro.Schema);
  }

  static async create<T>(registry: SchemaRegistry, subject: string, schema: object): Promise<AvroSerde<T>> {
    const serde = new AvroSerde<T>(registry, subject, schema);
    serde.#schemaId = await registry.register(subject, schema);
    serde.#resolvers.set(serde.#schemaId, null);
    return serde;
  }

  get schemaId(): number {
    return this.#schemaId;
  }

  encode(value: T): Buffer {
    try {
      return frame(this.#schemaId, this.#type.toBuffer(value));
    } catch (cause) {
      throw emoError('CODEC', `cannot encode ${this.subject}: ${(cause as Error).message}`, { cause });
    }
  }

  /** Synchronous decode for ids already known (the hot path); see decode() for unknown ids. */
  decodeKnown(buf: Buffer): T {
    const id = readSchemaId(buf);
    const resolver = this.#resolvers.get(id);
    if (resolver === undefined) throw emoError('UNKNOWN_SCHEMA', `schema id ${id} not loaded`);
    try {
      const body = buf.subarray(HEADER_SIZE);
      return (resolver ? this.#type.fromBuffer(body, resolver) : this.#type.fromBuffer(body)) as T;
    } catch (cause) {
      throw emoError('CODEC', `cannot decode ${this.subject} (schema id ${id})`, { cause });
    }
  }

  async decode(buf: Buffer): Promise<T> {
    const id = readSchemaId(buf);
    if (!this.#resolvers.has(id)) {
      const writer = avro.Type.forSchema((await this.registry.getSchema(id)) as avro.Schema);
      this.#resolvers.set(id, this.#type.createResolver(writer));
    }
    return this.decodeKnown(buf);
  }
}

export interface Serdes {
  reaction: AvroSerde<Reaction>;
  reactionBatch: AvroSerde<ReactionBatch>;
  /** Reactions to reactions-topic records in the configured format, and back from either. */
  reactions: ReactionCodec;
  aggregate: AvroSerde<WindowAggregate>;
}

/** The packed record's subject: topic + record name, beside the single reaction's `<topic>-value`. */
export function reactionBatchSubject(reactionsTopic: string): string {
  return `${reactionsTopic}-io.emostream.v1.ReactionBatch`;
}

export async function createSerdes(
  registry: SchemaRegistry,
  topics: { reactionsTopic: string; aggregatesTopic: string },
  format: ReactionsFormat = 'single',
): Promise<Serdes> {
  const [reaction, reactionBatch, aggregate] = await Promise.all([
    AvroSerde.create<Reaction>(registry, `${topics.reactionsTopic}-value`, loadAvsc('reaction')),
    AvroSerde.create<ReactionBatch>(registry, reactionBatchSubject(topics.reactionsTopic), loadAvsc('reaction-batch')),
    AvroSerde.create<WindowAggregate>(registry, `${topics.aggregatesTopic}-value`, loadAvsc('aggregate')),
  ]);
  return { reaction, reactionBatch, reactions: new ReactionCodec(format, reaction, reactionBatch, registry), aggregate };
}
