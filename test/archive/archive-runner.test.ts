import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryLog } from '../../src/adapters/memory/memory-log.js';
import { MemorySchemaRegistry } from '../../src/adapters/memory/memory-schema-registry.js';
import { openPgliteArchive } from '../../src/adapters/postgres/pglite-window-archive.js';
import { ArchiveRunner } from '../../src/archive/archive-runner.js';
import { createSerdes } from '../../src/codec/serde.js';
import type { WindowAggregate } from '../../src/domain/types.js';
import type { Log, LogConsumer } from '../../src/ports/log.js';
import type { WindowArchive } from '../../src/ports/window-archive.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { silentLogger, testConfig } from '../../helpers/fixtures.js';
import { win } from './archive-suite.js';

const TOPIC = 'emostream.aggregates';
const GROUP = 'emostream-archiver.test';

describe('archive stage on the memory log', () => {
  let archive: WindowArchive;
  beforeAll(async () => {
    archive = await openPgliteArchive({});
  });
  afterAll(async () => {
    await archive?.close();
  });

  it('archives every window exactly once across a death between the database write and the offset commit', async () => {
    const log = new MemoryLog({ defaultPartitions: 1 });
    await log.ensureTopics([{ name: TOPIC, partitions: 1 }]);
    const serdes = await createSerdes(new MemorySchemaRegistry(), testConfig().log, 'packed');
    const producer = await log.producer();
    const windows: WindowAggregate[] = [];
    const produce = async (ws: WindowAggregate[]) => {
      windows.push(...ws);
      await producer.send(await Promise.all(ws.map(async (w) => ({ topic: TOPIC, key: `${w.matchId}|${w.windowStart}`, value: await serdes.aggregate.encode(w) }))));
    };
    await produce(Array.from({ length: 30 }, (_, i) => win(i % 2 ? 'run-a' : 'run-b', i >> 1, { '🔥': i + 1, '😂': 1 })));

    // The first archiver "dies" at its first commit: the database holds the batch, the offsets never move.
    let realConsumer: LogConsumer | undefined;
    let wrote = 0;
    const dyingLog: Log = Object.create(log, {
      consumer: {
        value: async (opts: { groupId: string; topics: string[] }) => {
          const c = await log.consumer(opts);
          realConsumer = c;
          return Object.assign(Object.create(c) as LogConsumer, { poll: c.poll.bind(c), onAssignment: c.onAssignment.bind(c), lag: c.lag.bind(c), rewind: c.rewind.bind(c), commit: () => new Promise<void>(() => undefined), close: c.close.bind(c) });
        },
      },
    });
    const counting: WindowArchive = Object.assign(Object.create(archive) as WindowArchive, {
      upsert: async (ws: readonly WindowAggregate[]) => {
        await archive.upsert(ws);
        wrote += ws.length;
      },
    });
    const first = new ArchiveRunner({ log: dyingLog, archive: counting, serde: serdes.aggregate, aggregatesTopic: TOPIC, groupId: GROUP, metrics: createMetrics(), logger: silentLogger, retentionMs: 0, pollTimeoutMs: 20 });
    await first.start();
    await vi.waitFor(() => expect(wrote).toBe(30));
    await realConsumer!.close(); // its process is gone: the group forgets it, nothing was committed
    expect(log.committed(GROUP, TOPIC, 0)).toBe(0);

    // More windows meanwhile, and a redelivery of windows already written (an aggregator replaying after its own kill -9).
    await produce(Array.from({ length: 10 }, (_, i) => win('run-a', 15 + i, { '😢': i + 1 })));
    await produce(windows.slice(0, 5));

    const second = new ArchiveRunner({ log, archive, serde: serdes.aggregate, aggregatesTopic: TOPIC, groupId: GROUP, metrics: createMetrics(), logger: silentLogger, retentionMs: 0, pollTimeoutMs: 20 });
    await second.start();
    await vi.waitFor(() => expect(log.committed(GROUP, TOPIC, 0)).toBe(45));
    await second.close();

    const distinct = new Map(windows.map((w) => [`${w.matchId}|${w.windowStart}`, w]));
    const stored = [...(await archive.windows('run-a', 0, 1000)), ...(await archive.windows('run-b', 0, 1000))];
    expect(stored).toHaveLength(distinct.size);
    expect(stored.length).toBe(40);
    for (const w of stored) expect(w).toEqual(distinct.get(`${w.matchId}|${w.windowStart}`));
    await log.close();
  });

  it('sweeps matches past retention on start, and keeps the others', async () => {
    const log = new MemoryLog({ defaultPartitions: 1 });
    await log.ensureTopics([{ name: TOPIC, partitions: 1 }]);
    const serdes = await createSerdes(new MemorySchemaRegistry(), testConfig().log, 'packed');
    const now = 1_800_000_000_000 + 40 * 86_400_000;
    await archive.upsert([win('ancient', 0, { '🔥': 1 }), win('recent', 0, { '🔥': 1 }, now - 86_400_000)]);
    const runner = new ArchiveRunner({ log, archive, serde: serdes.aggregate, aggregatesTopic: TOPIC, groupId: 'g2', metrics: createMetrics(), logger: silentLogger, retentionMs: 30 * 86_400_000, now: () => now, pollTimeoutMs: 20 });
    await runner.start();
    await vi.waitFor(async () => expect(await archive.version('ancient')).toBe(0));
    expect(await archive.series('recent')).toHaveLength(1);
    await runner.close();
    await log.close();
  });
});
