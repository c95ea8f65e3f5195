// bench:fanout's node when no Redis is at hand (BENCH_FANOUT_BUS=memory): the fan-out app
// (buildApp: the live routes, rooms, shared frames; config from the environment like a role) on the
// in-process memory bus, plus POST /publish, which publishes the body on that bus as the
// aggregator's publisher would. So the path measured is bus -> rooms -> every connection, without
// Redis's pub/sub hop; the node's CPU per update per client compares with the bare-ws floor.
import { pino } from 'pino';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { EmojiCatalog } from '../src/domain/catalog.js';
import { MemoryBus } from '../src/adapters/memory/memory-bus.js';
import { createMetrics } from '../src/metrics/metrics.js';
import { systemClock } from '../src/ports/clock.js';

const config = loadConfig(process.env);
const bus = new MemoryBus({ historySize: 300 });
const app = await buildApp({ config, catalog: EmojiCatalog.load(), clock: systemClock, metrics: createMetrics({ defaults: true }), logger: pino({ level: 'warn' }), fanout: { bus, nodeId: 'bench' }, pages: false });
app.post('/publish', async (req) => ((await bus.publish(req.body as Parameters<MemoryBus['publish']>[0])) === null ? 'dedupe' : 'ok'));
const url = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
console.log(`listening on ${url}`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
