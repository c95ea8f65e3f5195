import { emoError } from '../../domain/errors.js';
import type { SchemaRegistry } from '../../ports/schema-registry.js';

/** Ids are stable for a process's lifetime; like a real registry, the same schema text gets the same id. */
export class MemorySchemaRegistry implements SchemaRegistry {
  readonly #byId = new Map<number, object>();
  readonly #idByText = new Map<string, number>();
  #nextId = 1;

  async register(_subject: string, schema: object): Promise<number> {
    const text = JSON.stringify(schema);
    let id = this.#idByText.get(text);
    if (id === undefined) {
      id = this.#nextId++;
      this.#idByText.set(text, id);
      this.#byId.set(id, schema);
    }
    return id;
  }

  async getSchema(id: number): Promise<object> {
    const schema = this.#byId.get(id);
    if (!schema) throw emoError('UNKNOWN_SCHEMA', `schema id ${id} is not registered`);
    return schema;
  }

  async close(): Promise<void> {}
}
