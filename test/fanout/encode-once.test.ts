// Compact frames are encoded once per update per match, whatever the number of connections: the
// encoder is counted while one update goes to five compact viewers (three WebSockets, two SSE).
import { afterEach, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { WebSocket } from 'ws';
import { buildApp } from '../../src/app.js';
import { systemClock } from '../../src/ports/clock.js';
import { MemoryBus } from '../../src/adapters/memory/memory-bus.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { catalog, silentLogger, testConfig } from '../../helpers/fixtures.js';
import * as compact from '../../src/wire/compact.js';

vi.mock('../../src/wire/compact.js', async (importOriginal) => {
  const real = await importOriginal<typeof compact>();
  return { ...real, encodeCompact: vi.fn(real.encodeCompact) };
});

let app: FastifyInstance | undefined;
const closers: Array<() => void> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  await app?.close();
});

it('one encode per update for every compact connection of the match, on both transports', async () => {
  const bus = new MemoryBus({ historySize: 10 });
  app = await buildApp({ config: testConfig(), catalog, clock: systemClock, metrics: createMetrics(), logger: silentLogger, fanout: { bus, nodeId: 'n1' }, pages: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const got: number[] = [0, 0, 0, 0, 0];
  await Promise.all([0, 1, 2].map((i) => new Promise((resolve) => {
    const ws = new WebSocket(`ws://${base}/v1/live?matchId=m&format=compact`);
    ws.on('message', (_d, isBinary) => isBinary && got[i]!++);
    ws.once('open', resolve);
    closers.push(() => ws.terminate());
  })));
  for (const i of [3, 4]) {
    const ctrl = new AbortController();
    closers.push(() => ctrl.abort());
    const res = await fetch(`http://${base}/v1/live/events?matchId=m&format=compact`, { signal: ctrl.signal });
    const reader = res.body!.getReader();
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        if (Buffer.from(value).toString().startsWith('id:')) got[i]!++;
      }
    })().catch(() => {});
  }
  await vi.waitFor(async () => expect(await bus.viewers('m')).toBe(5));
  const encode = vi.mocked(compact.encodeCompact);
  encode.mockClear();
  await bus.publish({ matchId: 'm', seq: 7, windowStart: 14_000, windowEnd: 16_000, counts: { '🔥': 3 }, units: { '🔥': 1 }, total: 3, sentiment: 0.8 });
  await vi.waitFor(() => expect(got).toEqual([1, 1, 1, 1, 1]));
  expect(encode).toHaveBeenCalledTimes(1);
});
