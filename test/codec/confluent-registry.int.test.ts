import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfluentSchemaRegistry } from '../../src/adapters/confluent/confluent-registry.js';

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
});
