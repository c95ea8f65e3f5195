import { COMPATIBILITY, SchemaRegistry as ConfluentClient, SchemaType } from '@kafkajs/confluent-schema-registry';
import { emoError } from '../domain/errors.js';
import type { SchemaRegistry } from './registry.js';

/**
 * The schema-registry port over the Confluent REST API (Confluent's registry, or Apicurio at
 * /apis/ccompat/v7). Ids are the registry's; the client caches them, so each is fetched once.
 */
export class ConfluentSchemaRegistry implements SchemaRegistry {
  readonly #client: ConfluentClient;

  constructor(url: string) {
    this.#client = new ConfluentClient({ host: url, clientId: 'emostream', retry: { retries: 3, initialRetryTimeInSecs: 0.2, maxRetryTimeInSecs: 2 } });
  }

  async register(subject: string, schema: object): Promise<number> {
    try {
      // BACKWARD, Confluent's default: a new reader schema must read data written with the last one.
      const { id } = await this.#client.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject, compatibility: COMPATIBILITY.BACKWARD });
      return id;
    } catch (cause) {
      throw emoError('REGISTRY', `cannot register ${subject}: ${(cause as Error).message}`, { cause });
    }
  }

  async getSchema(id: number): Promise<object> {
    try {
      const type = (await this.#client.getSchema(id)) as unknown as { schema(): object };
      return type.schema();
    } catch (cause) {
      throw emoError('UNKNOWN_SCHEMA', `schema id ${id}: ${(cause as Error).message}`, { cause });
    }
  }

  async close(): Promise<void> {}
}
