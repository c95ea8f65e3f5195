import { COMPATIBILITY, SchemaRegistry as ConfluentClient, SchemaType } from '@kafkajs/confluent-schema-registry';
import { emoError } from '../../domain/errors.js';
import type { SchemaRegistry } from '../../ports/schema-registry.js';

const REGISTER_ATTEMPTS = 5;
const GET_SCHEMA_MS = 10_000;

/**
 * A failure that says the registry is away rather than that the id will never decode. The client
 * (mappersmith) reports a refused connection or a socket error as status 400, a timeout as 400 or
 * 408; the registry's own answers are 404 (unknown id), 429 and 5xx.
 */
export function registryAway(err: unknown): boolean {
  const status = (err as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && (status === 400 || status === 408 || status === 429 || status >= 500);
}

/**
 * The schema-registry port over the Confluent REST API (Confluent's registry, or Apicurio at
 * /apis/ccompat/v7). Ids are the registry's; the client caches them, so each is fetched once.
 */
export class ConfluentSchemaRegistry implements SchemaRegistry {
  readonly #client: ConfluentClient;

  constructor(
    url: string,
    /** One schema fetch, the client's own retries included. */
    private readonly getSchemaTimeoutMs = GET_SCHEMA_MS,
  ) {
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
    let timer: NodeJS.Timeout | undefined;
    // The client sets no timeout of its own: a registry that hangs (a frozen process) would hold a
    // stage that waits for it for good, and its shutdown with it.
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`no answer in ${this.getSchemaTimeoutMs} ms`), { status: 408 })), this.getSchemaTimeoutMs);
    });
    try {
      const type = (await Promise.race([this.#client.getSchema(id), timeout])) as unknown as { schema(): object };
      return type.schema();
    } catch (cause) {
      // The registry away (no answer, refused, timed out, overloaded, a 5xx) is waited for by the
      // stages; anything else (not found, a schema the client cannot parse) will never decode.
      // Before, every failure read as "unknown schema", and a role started while the registry was
      // down skipped every record whose schema id it had not cached yet.
      if (registryAway(cause)) throw emoError('REGISTRY', `schema id ${id} could not be fetched: ${(cause as Error).message}`, { cause });
      throw emoError('UNKNOWN_SCHEMA', `schema id ${id}: ${(cause as Error).message}`, { cause });
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {}
}
