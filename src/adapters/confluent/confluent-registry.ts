import { COMPATIBILITY, SchemaRegistry as ConfluentClient, SchemaType } from '@kafkajs/confluent-schema-registry';
import { emoError } from '../../domain/errors.js';
import type { SchemaRegistry } from '../../ports/schema-registry.js';

const REGISTER_ATTEMPTS = 5;

/**
 * The schema-registry port over the Confluent REST API (Confluent's registry, or Apicurio at
 * /apis/ccompat/v7). Ids are the registry's; the client caches them, so each is fetched once.
 */
export class ConfluentSchemaRegistry implements SchemaRegistry {
  readonly #client: ConfluentClient;

  constructor(url: string) {
    this.#client = new ConfluentClient({ host: url, clientId: 'emostream', retry: { retries: 3, initialRetryTimeInSecs: 0.2, maxRetryTimeInSecs: 2 } });
  }

  /**
   * Registers `schema` under `subject`. Roles started together race on a new subject: one
   * registers and then sets BACKWARD, another reads the subject's config in between and sees the
   * default. A refusal is therefore checked against what the subject holds: if the same schema is
   * there, its id is the answer; otherwise the registration is tried again a few times.
   */
  async register(subject: string, schema: object): Promise<number> {
    const type = { type: SchemaType.AVRO as const, schema: JSON.stringify(schema) };
    let last: unknown;
    for (let attempt = 0; attempt < REGISTER_ATTEMPTS; attempt++) {
      try {
        // BACKWARD, Confluent's default: a new reader schema must read data written with the last one.
        const { id } = await this.#client.register(type, { subject, compatibility: COMPATIBILITY.BACKWARD });
        return id;
      } catch (cause) {
        last = cause;
        const existing = await this.#client.getRegistryIdBySchema(subject, type).catch(() => undefined);
        if (existing !== undefined) return existing;
        await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
      }
    }
    throw emoError('REGISTRY', `cannot register ${subject}: ${(last as Error).message}`, { cause: last });
  }

  async getSchema(id: number): Promise<object> {
    try {
      const type = (await this.#client.getSchema(id)) as unknown as { schema(): object };
      return type.schema();
    } catch (cause) {
      // Only the registry's "not found" says the id will never decode. Anything else (refused,
      // timed out, a 5xx) is the registry away: a reader waits for it instead of skipping the
      // record as undecodable (a role started while the registry was down lost every record whose
      // schema id it had not cached yet).
      const status = (cause as { status?: unknown }).status;
      if (status === 404) throw emoError('UNKNOWN_SCHEMA', `schema id ${id}: ${(cause as Error).message}`, { cause });
      throw emoError('REGISTRY', `schema id ${id} could not be fetched: ${(cause as Error).message}`, { cause });
    }
  }

  async close(): Promise<void> {}
}
