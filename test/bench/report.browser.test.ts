// The bench report in Chromium, opened from disk (file://, as an artifact is): every chart draws
// with the inlined uPlot and nothing is fetched.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareRuns } from '../../bench/compare.js';
import { metricsOf, type RunRecord } from '../../bench/history.js';
import { chartsOf, renderReport } from '../../bench/report.js';
import { launchBrowser, screenshot, type Browser } from '../helpers/browser.js';

// Five nights of embedded figures, the last one slower on the single-reaction route.
const nights = [
  [21.0, 7.9, 196, 1.38],
  [21.4, 8.1, 199, 1.41],
  [20.8, 7.8, 190, 1.35],
  [21.2, 8.0, 201, 1.40],
  [21.1, 6.1, 188, 1.37],
];
const runs: RunRecord[] = nights.map(([bare, single, batch, agg], i) => ({
  id: `night-${i}`,
  at: new Date(Date.UTC(2026, 10, 20 + i, 2, 17)).toISOString(),
  commit: `c0ffee${i}`,
  node: 'v20.20.2',
  smoke: false,
  budgetS: 5400,
  benches: [{ name: 'embedded', status: 'ok', seconds: 75, files: [] }],
  metrics: metricsOf({
    bench: 'embedded',
    rows: [
      { case: 'bare node:http 202 (baseline)', rps: bare! * 1000, p99Ms: 9, ratio: 1 },
      { case: 'POST /v1/reactions', rps: single! * 1000, p99Ms: 18 + i, ratio: +(single! / bare!).toFixed(3) },
      { case: 'POST /v1/reactions/batch (100/req)', rps: batch! * 10, reactionsPerSec: batch! * 1000, p99Ms: 60, ratio: +((batch! * 10) / (bare! * 1000)).toFixed(3) },
      { case: 'aggregator decode+window+emit (1 core)', reactionsPerSec: agg! * 1e6 },
    ],
  }),
}));

describe('bench report in the browser', () => {
  let browser: Browser;
  let dir: string;
  beforeAll(async () => {
    browser = await launchBrowser();
    dir = mkdtempSync(path.join(tmpdir(), 'emostream-bench-report-'));
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('draws one chart per metric over the runs, offline, and marks the regression', async () => {
    const current = runs.at(-1)!;
    const charts = chartsOf(runs, false);
    const file = path.join(dir, 'report.html');
    writeFileSync(file, renderReport({ generatedAt: current.at, current, thresholdPct: 15, charts, comparisons: compareRuns(runs.slice(0, -1), current, 15) }));
    const page = await browser.newPage({ width: 1240, height: 1300 });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`file://${file}`);
    await page.waitForFunction((n) => document.querySelectorAll('.chart canvas').length === n, charts.length);
    expect(requests).toEqual([`file://${file}`]);
    expect(page.errors).toEqual([]);
    const rps = page.locator('[data-chart="embedded:rps"]');
    await expect.poll(() => rps.locator('.u-legend .u-series').count()).toBe(4); // x + three cases
    expect(await page.locator('tr.bad').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('POST /v1/reactions')]));
    expect(await page.locator('.summary').textContent()).toMatch(/^[1-9]\d* regression\(s\) beyond 15%/);
    await screenshot(page, 'bench-report', { fullPage: true });
  });
});
