import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfluentSchemaRegistry } from '../../src/adapters/confluent/confluent-registry.js';
import { isEmoError } from '../../src/domain/errors.js';

const schema = { type: 'record', name: 'Probe', namespace: 'emostream.test', fields: [{ name: 'n', type: 'int' }] };

describe('ConfluentSchemaRegistry on the real Apicurio registry', () => {
  it('concurrent first registrations of a new subject all succeed with one id (a fresh deploy)', async () => {
    const url = process.env.SCHEMA_REGISTRY_URL!;
    // Several rounds: the race (register, then set BACKWARD) is narrow, one round may miss it.
    for (let round = 0; round < 5; round++) {
      const subject = `race-${randomUUID()}-value`;
      const clients = Array.from({ length: 6 }, () => new ConfluentSchemaRegistry(url));
      const ids = await Promise.all(clients.map((c) => c.register(subject, schema)));
      expect(new Set(ids).size).toBe(1);
      expect(ids[0]).toBeGreaterThan(0);
    }
  });

  it('tells an id the registry does not know (never decodable) from a registry that does not answer (wait for it)', async () => {
    const known = new ConfluentSchemaRegistry(process.env.SCHEMA_REGISTRY_URL!);
    const unknown = await known.getSchema(2_000_000_000).catch((e: unknown) => e);
    expect(isEmoError(unknown, 'UNKNOWN_SCHEMA')).toBe(true);
    // Port 9 on loopback: nothing listens, the connection is refused.
    const away = await new ConfluentSchemaRegistry('http://127.0.0.1:9').getSchema(1).catch((e: unknown) => e);
    expect(isEmoError(away, 'REGISTRY')).toBe(true);
  });
});
