import { buildApp } from '../../src/app.js';
import { MemorySchemaRegistry } from '../../src/adapters/memory/memory-schema-registry.js';
import { createSerdes } from '../../src/codec/serde.js';
import type { Reaction } from '../../src/domain/types.js';
import type { Config, DeepPartial } from '../../src/config/config.js';
import { ManualClock } from '../../helpers/manual-clock.js';
import { MemoryLog } from '../../src/adapters/memory/memory-log.js';
import type { RateBuckets } from '../../src/ports/rate-buckets.js';
import type { LogProducer } from '../../src/ports/log.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { catalog, silentLogger, testConfig } from '../../helpers/fixtures.js';
import { localRateLimits } from '../../src/adapters/memory/memory-rate-buckets.js';

export const NOW = 1_800_000_000_000;

/** The real app on the memory log; `producer` can wrap the log's to inject failures. */
export async function ingestApp(opts: { config?: DeepPartial<Config>; wrap?: (p: LogProducer) => LogProducer; capacity?: number; limits?: { client: RateBuckets; user: RateBuckets } } = {}) {
  const config = testConfig(opts.config);
  const clock = new ManualClock(NOW);
  const log = new MemoryLog({ capacity: opts.capacity ?? 1000, retryAfterSec: config.ingest.retryAfterSec });
  await log.ensureTopics([{ name: config.log.reactionsTopic, partitions: 4 }]);
  const serdes = await createSerdes(new MemorySchemaRegistry(), config.log, config.log.reactionsFormat);
  const producer = opts.wrap ? opts.wrap(await log.producer()) : await log.producer();
  const metrics = createMetrics();
  const app = await buildApp({ config, catalog, clock, metrics, logger: silentLogger, ingest: { producer, codec: serdes.reactions, limits: opts.limits ?? localRateLimits(config.ingest, clock) }, pages: false });
  /** Every reaction the log holds, whatever the record format (one per reaction, or packed per match). */
  const stored = async () => {
    const out: Reaction[] = [];
    for (let p = 0; p < 4; p++) for (const r of log.read(config.log.reactionsTopic, p, 0, 1_000_000)) out.push(...(await serdes.reactions.decode(r.value)));
    return out;
  };
  return { app, log, clock, serdes, metrics, config, stored };
}
