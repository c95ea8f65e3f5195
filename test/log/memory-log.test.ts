import { describe, expect, it } from 'vitest';
import { MemoryLog } from '../../src/adapters/memory/memory-log.js';
import { logContract } from './log-suite.js';

const CAPACITY = 1000;
let n = 0;

logContract('memory', {
  create: async () => new MemoryLog({ capacity: CAPACITY, defaultPartitions: 3 }),
  name: (prefix) => `${prefix}-${n++}`,
  // More than the topic may hold: the log refuses the whole transaction (EMO_ERR_BACKPRESSURE).
  refusedRecords: (topic) => Array.from({ length: CAPACITY + 1 }, (_, i) => ({ topic, key: `r${i}`, value: Buffer.from('r') })),
  rebalances: false,
  readTimeoutMs: 2000,
});

describe('MemoryLog capacity in bytes', () => {
  it('refuses with EMO_ERR_BACKPRESSURE once the unread bytes would pass LOG_CAPACITY_BYTES, and takes more once they are read', async () => {
    const log = new MemoryLog({ capacity: 1000, capacityBytes: 10_000, defaultPartitions: 1 });
    const big = (i: number) => ({ topic: 't', key: `k${i}`, value: Buffer.alloc(3000) });
    const consumer = await log.consumer({ groupId: 'g', topics: ['t'] });
    log.append([big(0), big(1), big(2)]);
    // Four records are far below the record count, but not below the bytes.
    expect(() => log.append([big(3)])).toThrow(expect.objectContaining({ code: 'EMO_ERR_BACKPRESSURE' }));
    expect(log.retainedBytes('t')).toBe(3 * 3002);
    const read = await consumer.poll(10, 100);
    expect(read).toHaveLength(3);
    await consumer.commit([{ topic: 't', partition: 0, offset: read.at(-1)!.offset + 1 }]);
    log.append([big(3)]);
    expect(log.retainedBytes('t')).toBe(3002);
    await log.close();
  });
});

describe('MemoryLog wakeups and trimming', () => {
  it("wakes a reader only for its own topics (the publisher does not poll on every reaction)", async () => {
    const log = new MemoryLog({ defaultPartitions: 1 });
    let woken = false;
    const waiting = log.waitForData(60_000, new Set(['a'])).then(() => (woken = true));
    log.append([{ topic: 'r', key: 'k', value: Buffer.from('x') }]);
    await new Promise((r) => setImmediate(r));
    expect(woken).toBe(false);
    log.append([{ topic: 'a', key: 'k', value: Buffer.from('x') }]);
    await waiting;
    expect(woken).toBe(true);
    await log.close();
  });

  it('drops records every group has read in runs, so what it holds stays bounded', async () => {
    const log = new MemoryLog({ defaultPartitions: 1 });
    const consumer = await log.consumer({ groupId: 'g', topics: ['t'] });
    for (let i = 0; i < 5000; i++) {
      log.append([{ topic: 't', key: 'k', value: Buffer.from('x') }]);
      const read = await consumer.poll(10, 0);
      await consumer.commit([{ topic: 't', partition: 0, offset: read.at(-1)!.offset + 1 }]);
    }
    // Read and committed: at most one run of records awaits the next trim.
    expect(log.retained('t')).toBeLessThanOrEqual(1024);
    await log.close();
  });
});
