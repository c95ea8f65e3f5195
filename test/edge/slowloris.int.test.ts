import { Agent, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config/config.js';
import { edgeApp, parseRaw, rawClient } from './edge-app.js';

// The slowloris scenario on real sockets, with the default timeouts: 1,000 sockets from one address
// that stall (half of them mid-body, half mid-headers) are all closed within 30 s, while honest
// requests from another address (127.0.0.2) keep their p99 under 100 ms.
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const body = JSON.stringify({ matchId: 'm', userId: 'u1', emoji: '🔥' });

function honestPost(port: number, agent: Agent): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, localAddress: '127.0.0.2', method: 'POST', path: '/v1/reactions', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('slowloris: stalled sockets under the default timeouts', () => {
  it('closes 1,000 stalled bodies and headers within 30 s; another address keeps p99 < 100 ms meanwhile', async () => {
    const defaults = loadConfig({}).http;
    // The per-address cap would refuse most of them at once; here the timeouts alone must cope.
    const e = await edgeApp({ config: { http: { ...defaults, maxConnectionsPerIp: 0 }, ingest: { userBurst: 1_000_000, userRatePerSec: 1_000_000, clientBurst: 1_000_000, clientRatePerSec: 1_000_000 } } });
    app = e.app;
    const stalled = Array.from({ length: 1000 }, (_, i) => {
      const c = rawClient(e.port);
      void c.connected.then(() => {
        if (i % 2 === 0) c.socket.write(`POST /v1/reactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n${body.slice(0, 10)}`);
        else c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n');
      });
      return c;
    });
    await Promise.all(stalled.map((c) => c.connected));
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const latencies: number[] = [];
    let stop = false;
    const honest = (async () => {
      while (!stop) {
        const r = await honestPost(e.port, agent);
        expect(r.status).toBe(202);
        latencies.push(r.ms);
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    const results = await Promise.all(stalled.map((c) => c.closed));
    stop = true;
    await honest;
    agent.destroy();
    const slowest = Math.max(...results.map((r) => r.afterMs));
    expect(slowest).toBeLessThan(30_000);
    // Not before its timeout either: a stalled body lasts the request timeout, stalled headers the headers timeout.
    expect(Math.min(...results.map((r) => r.afterMs))).toBeGreaterThanOrEqual(defaults.headersTimeoutMs - 100);
    for (const r of results) expect(parseRaw(r.received).body).toMatchObject({ code: 'EMO_ERR_REQUEST_TIMEOUT' });
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.floor(latencies.length * 0.99)]!;
    console.log(`stalled sockets closed after ${Math.min(...results.map((r) => r.afterMs))}-${slowest} ms; honest requests from 127.0.0.2: n=${latencies.length}, p50 ${latencies[Math.floor(latencies.length / 2)]!.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);
    expect(latencies.length).toBeGreaterThan(500);
    expect(p99).toBeLessThan(100);
  }, 60_000);
});
