import { defineConfig } from 'vitest/config';

// Integration tier: real Kafka, schema registry and Redis started by scripts/infra/up.sh (npm test
// does that first). Files run one at a time: they share one broker on a 2-core machine.
export default defineConfig({
  test: {
    include: ['test/**/*.int.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    fileParallelism: false,
    globalSetup: ['test/helpers/infra-setup.ts'],
  },
});
