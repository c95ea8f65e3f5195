// WS_MAX_CONNECTIONS_PER_IP has a default a deployment would choose (100), not the node's whole
// capacity; behind TRUST_PROXY it counts the forwarded client address.
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config, type DeepPartial } from '../../src/config/config.js';
import { systemClock } from '../../src/ports/clock.js';
import { MemoryBus } from '../../src/adapters/memory/memory-bus.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { catalog, silentLogger, testConfig } from '../../helpers/fixtures.js';

let app: FastifyInstance | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  await app?.close();
  app = undefined;
});

async function node(config: DeepPartial<Config> = {}): Promise<string> {
  app = await buildApp({ config: testConfig(config), catalog, clock: systemClock, metrics: createMetrics(), logger: silentLogger, fanout: { bus: new MemoryBus({ historySize: 10 }), nodeId: 'n' }, pages: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `ws://127.0.0.1:${(app.server.address() as { port: number }).port}/v1/live?matchId=m`;
}

/** 'open' or the HTTP status of the refused upgrade. */
function connect(url: string, headers: Record<string, string> = {}): Promise<'open' | number> {
  const ws = new WebSocket(url, { headers });
  sockets.push(ws);
  ws.on('error', () => {});
  return new Promise((resolve) => {
    ws.once('open', () => resolve('open'));
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
  });
}

describe('per-address WebSocket limit', () => {
  it('defaults to 100 connections per address (was the whole node, 60,000)', async () => {
    expect(loadConfig({}).fanout.maxConnectionsPerIp).toBe(100);
    expect(loadConfig({ WS_MAX_CONNECTIONS_PER_IP: '5000' }).fanout.maxConnectionsPerIp).toBe(5000);
    const url = await node();
    const opened = await Promise.all(Array.from({ length: 100 }, () => connect(url)));
    expect(opened.every((r) => r === 'open')).toBe(true);
    expect(await connect(url)).toBe(429);
  });

  it('behind TRUST_PROXY=1 the forwarded address is counted, not the proxy', async () => {
    expect(loadConfig({ TRUST_PROXY: '1' }).trustProxy).toBe(true);
    expect(() => loadConfig({ TRUST_PROXY: 'yes' })).toThrow(/TRUST_PROXY/);
    const url = await node({ trustProxy: true, fanout: { maxConnectionsPerIp: 2 } });
    const a = { 'x-forwarded-for': '203.0.113.1' };
    expect([await connect(url, a), await connect(url, a), await connect(url, a)]).toEqual(['open', 'open', 429]);
    expect(await connect(url, { 'x-forwarded-for': '203.0.113.2' })).toBe('open');
  });
});
