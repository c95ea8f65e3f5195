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
