/** The schema-registry port: the in-memory adapter (embedded) and the Confluent-API adapter share it. */
export interface SchemaRegistry {
  /** Registers (or finds) the schema under the subject and returns its global id. */
  register(subject: string, schema: object): Promise<number>;
  /** The writer schema for an id read off the wire. */
  getSchema(id: number): Promise<object>;
  close(): Promise<void>;
}
