import { defineConfig } from 'vitest/config';

// Browser tier: the pages in Debian's headless Chromium (playwright-core, no browser download),
// against the embedded pipeline started in-process. One browser per file, files one at a time.
export default defineConfig({
  test: {
    include: ['test/**/*.browser.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
    globalSetup: ['test/web/global-setup.ts'],
  },
});
