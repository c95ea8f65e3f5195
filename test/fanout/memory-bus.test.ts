import { MemoryBus } from '../../src/adapters/memory/memory-bus.js';
import { busContract } from './bus-suite.js';

busContract('memory', {
  create: async ({ historySize }) => new MemoryBus({ historySize }),
  settle: async () => {},
});
