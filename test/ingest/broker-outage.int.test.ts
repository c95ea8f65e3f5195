import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSerdes } from '../../src/codec/serde.js';
import { MemorySchemaRegistry } from '../../src/adapters/memory/memory-schema-registry.js';
import { startRole, type Pipeline } from '../../src/roles/start.js';
import { EmoStreamClient } from '../../packages/sdk/src/index.js';
import { silentLogger } from '../../helpers/fixtures.js';
import { consumeUntil, kafkaConfig } from '../../helpers/kafka.js';

// This test stops its broker on purpose, so it runs its own (other ports, own data dir) rather
// than the shared one other tests use. OUTAGE_KAFKA_* move it when another checkout on this
// machine runs the same tier at the same time.
const root = path.resolve(import.meta.dirname, '../..');
const brokerEnv = {
  ...process.env,
  EMOSTREAM_INFRA_DIR: path.join(root, '.infra/outage-broker'),
  KAFKA_PORT: process.env.OUTAGE_KAFKA_PORT ?? '19192',
  KAFKA_CONTROLLER_PORT: process.env.OUTAGE_KAFKA_CONTROLLER_PORT ?? '19193',
  KAFKA_HEAP_OPTS: '-Xms128m -Xmx512m',
};
const kafka = (cmd: string) => execFileSync('bash', [path.join(root, 'scripts/infra/kafka.sh'), cmd], { env: brokerEnv, stdio: 'inherit' });

let api: Pipeline | undefined;
beforeAll(() => kafka('start'));
afterAll(async () => {
  await api?.close();
  kafka('stop');
});

describe('broker outage under load', () => {
  it('answers 503 with Retry-After while Kafka is down and loses no acknowledged reaction once it is back', async () => {
    // Per-user limits out of the way: four load clients stand for many users here.
    const config = kafkaConfig({
      role: 'api',
      adapters: { registry: 'memory' },
      kafka: { brokers: `127.0.0.1:${brokerEnv.KAFKA_PORT}`, messageTimeoutMs: 8000 },
      ingest: { userRatePerSec: 1_000_000, userBurst: 10_000_000, clientRatePerSec: 10_000_000, clientBurst: 100_000_000 },
    });
    api = await startRole(config, { logger: silentLogger });
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    const baseUrl = `http://127.0.0.1:${(api.app.server.address() as { port: number }).port}`;

    const clients = Array.from({ length: 4 }, (_, i) => new EmoStreamClient({ baseUrl, userId: `load-${i}`, batchSize: 50, flushMs: 20, retryBaseMs: 100, retryMaxMs: 2000 }));
    const statuses: Array<number | 'network'> = [];
    const rejected: string[] = [];
    for (const c of clients) {
      c.sender.on('retry', (r) => statuses.push(r.status));
      c.sender.on('rejected', (e) => rejected.push(e.code));
    }
    // Every reaction carries a unique match id, so the topic must hold each acknowledged one by name.
    let n = 0;
    const sentKeys = new Set<string>();
    const load = setInterval(() => {
      for (const c of clients) {
        for (let k = 0; k < 5; k++) {
          const matchId = `o${n++}`;
          if (c.react(matchId, '🔥')) sentKeys.add(matchId);
        }
      }
    }, 20);
    try {
      await new Promise((r) => setTimeout(r, 1500));
      kafka('stop');
      // While the broker is down: a direct request is refused with 503 + Retry-After, never 202 or 500.
      let direct: Response | undefined;
      for (let i = 0; i < 40; i++) {
        direct = await fetch(`${baseUrl}/v1/reactions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ matchId: 'outage-match', userId: 'probe', emoji: '😢' }) });
        if (direct.status === 503) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(direct!.status).toBe(503);
      expect(Number(direct!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(['EMO_ERR_LOG_UNAVAILABLE', 'EMO_ERR_BACKPRESSURE']).toContain(((await direct!.json()) as { code: string }).code);
      expect((await api.app.inject('/readyz')).statusCode).toBe(503);
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      clearInterval(load);
      kafka('start');
    }
    const t0 = Date.now();
    await Promise.all(clients.map((c) => c.flush(90_000)));
    console.log(`flushed ${sentKeys.size} reactions in ${Date.now() - t0} ms after the broker came back; retries by status: ${JSON.stringify(statuses.reduce<Record<string, number>>((m, s) => ((m[s] = (m[s] ?? 0) + 1), m), {}))}`);
    for (const c of clients) expect(c.sender.pending).toBe(0);
    expect(statuses).toContain(503);
    expect(statuses).not.toContain(429);
    expect(rejected).toEqual([]);

    const serdes = await createSerdes(new MemorySchemaRegistry(), config.log);
    const found = new Set<string>();
    let read = 0;
    await consumeUntil(
      config,
      config.log.reactionsTopic,
      (records) => {
        // Either record format: one reaction per record, or one record per request and match.
        for (; read < records.length; read++) {
          const unknownId = serdes.reactions.forEach(records[read]!.value, (r) => found.add(r.matchId));
          if (unknownId) throw new Error(`record ${read} carries a schema id this registry did not give out`);
        }
        return [...sentKeys].every((k) => found.has(k));
      },
      90_000,
    );
    const missing = [...sentKeys].filter((k) => !found.has(k));
    expect(sentKeys.size).toBeGreaterThan(1000);
    expect(missing).toEqual([]);
    for (const c of clients) await c.close(1000);
  });
});
