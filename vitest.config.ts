import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tiers by file name: *.test.ts need nothing running; *.int.test.ts talk to the real Kafka, Redis
// and Spark that scripts/infra starts; *.cluster.test.ts run on its cluster profile; *.browser.test.ts
// drive Debian's Chromium.
export default defineConfig({
  // The SDK by its package name from its sources, as tsconfig.json's paths (src/crowd uses it).
  resolve: { alias: { '@emostream/sdk': fileURLToPath(new URL('./packages/sdk/src/index.ts', import.meta.url)) } },
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'test/**/*.int.test.ts', 'test/**/*.browser.test.ts', 'test/**/*.cluster.test.ts', 'test/**/*.chaos.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
