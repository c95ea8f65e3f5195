import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { MemorySchemaRegistry } from '../../src/adapters/memory/memory-schema-registry.js';
import { MemoryBus } from '../../src/adapters/memory/memory-bus.js';
import { MemoryLog } from '../../src/adapters/memory/memory-log.js';
import { createSerdes } from '../../src/codec/serde.js';
import type { Config, DeepPartial } from '../../src/config/config.js';
import { systemClock, type Clock } from '../../src/ports/clock.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { catalog, silentLogger, testConfig } from '../../helpers/fixtures.js';
import type { Logger } from 'pino';
import { localRateLimits } from '../../src/adapters/memory/memory-rate-buckets.js';

/** Every route a public node serves (ingest, live, pages) on the memory adapters, listening on loopback. */
export async function edgeApp(opts: { config?: DeepPartial<Config>; clock?: Clock; logger?: Logger; listen?: boolean } = {}) {
  const config = testConfig(opts.config);
  const clock = opts.clock ?? systemClock;
  const log = new MemoryLog({ capacity: 1_000_000, retryAfterSec: 1 });
  await log.ensureTopics([{ name: config.log.reactionsTopic, partitions: 2 }]);
  const serdes = await createSerdes(new MemorySchemaRegistry(), config.log, config.log.reactionsFormat);
  const bus = new MemoryBus({ historySize: 100 });
  const metrics = createMetrics();
  const app: FastifyInstance = await buildApp({
    config,
    catalog,
    clock,
    metrics,
    logger: opts.logger ?? silentLogger,
    ingest: { producer: await log.producer(), codec: serdes.reactions, limits: localRateLimits(config.ingest, clock) },
    fanout: { bus, nodeId: 'edge' },
    pages: true,
  });
  let port = 0;
  if (opts.listen !== false) {
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as net.AddressInfo).port;
  }
  return { app, config, bus, log, metrics, port, url: `http://127.0.0.1:${port}` };
}

/** A raw TCP client: what it sends is exactly what the server reads; `closed` resolves with everything it received. */
export function rawClient(port: number, localAddress = '127.0.0.1') {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  let received = '';
  socket.on('data', (d) => (received += d.toString()));
  socket.on('error', () => {});
  const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const startedAt = Date.now();
  const closed = new Promise<{ afterMs: number; received: string }>((resolve) => socket.once('close', () => resolve({ afterMs: Date.now() - startedAt, received })));
  return { socket, connected, closed, received: () => received };
}

/** The status and JSON body of a raw HTTP/1.1 answer. */
export function parseRaw(raw: string): { status: number; headers: Record<string, string>; body: Record<string, unknown> | undefined } {
  const [head = '', body = ''] = raw.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: body ? (JSON.parse(body) as Record<string, unknown>) : undefined };
}
