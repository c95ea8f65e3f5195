import { defineConfig } from 'vitest/config';

// Chaos tier: kills and restarts its own Kafka, registry and Redis (ports 29092/28081/26379, data
// under .infra/chaos), never the shared ones the integration tier uses. One file at a time.
export default defineConfig({
  test: {
    include: ['test/**/*.chaos.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 600_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
