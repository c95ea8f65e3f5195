import { defineConfig } from 'vitest/config';

// Cluster tier: fault tests against the cluster profile (3 Kafka nodes, Redis + Sentinels, a Spark
// standalone cluster) that test/cluster/setup.ts starts with `scripts/infra/up.sh --profile cluster`.
// One file at a time: each kills a node of a cluster the others need whole.
export default defineConfig({
  test: {
    include: ['test/**/*.cluster.test.ts'],
    testTimeout: 420_000,
    hookTimeout: 300_000,
    pool: 'forks',
    fileParallelism: false,
    globalSetup: ['test/cluster/setup.ts'],
  },
});
