import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics/metrics.js';
import type { ReadinessCheck } from '../stage/stage-progress.js';

export async function healthRoutes(app: FastifyInstance, o: { metrics: Metrics; checks: ReadinessCheck[] }): Promise<void> {
  app.get('/healthz', async (_req, reply) => {
    const stalled = o.checks.filter((c) => c.alive && !c.alive()).map((c) => c.name);
    return stalled.length === 0 ? reply.send({ status: 'ok' }) : reply.code(503).send({ status: 'stalled', stalled });
  });
  app.get('/readyz', async (_req, reply) => {
    const failing = o.checks.filter((c) => !c.ready()).map((c) => c.name);
    return reply.code(failing.length === 0 ? 200 : 503).send({ status: failing.length === 0 ? 'ready' : 'not-ready', failing });
  });
  app.get('/metrics', async (_req, reply) => reply.type(o.metrics.registry.contentType).send(await o.metrics.registry.metrics()));
}
