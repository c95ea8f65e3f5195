import { createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConfluentSchemaRegistry, registryAway } from '../../src/adapters/confluent/confluent-registry.js';
import { isEmoError } from '../../src/domain/errors.js';

describe('Confluent registry adapter: the registry away', () => {
  it('reads refused, timed out, throttled and 5xx as away; not found and the rest as never decodable', () => {
    for (const status of [400, 408, 429, 500, 503]) expect(registryAway({ status })).toBe(true);
    for (const err of [{ status: 404 }, { status: 422 }, new Error('unsupported schema type'), undefined]) expect(registryAway(err)).toBe(false);
  });

  it('a registry that takes the connection and never answers is away after the bound, not a hang', async () => {
    const sockets: Socket[] = [];
    const server = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const err = await new ConfluentSchemaRegistry(url, 300).getSchema(1).catch((e: unknown) => e);
      expect(isEmoError(err, 'REGISTRY')).toBe(true);
      expect(sockets.length).toBeGreaterThan(0);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
