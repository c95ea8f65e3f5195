import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { pagesBrowser, postReactions, screenshot } from '../helpers/browser.js';

interface Chart { scales: { x: { min: number; max: number } }; axes: { _values?: string[] }[]; data: number[][] }
interface AxisView { name: string; min: number; max: number; labels: string[]; points: number }

/** The x scale and the tick labels uPlot drew (on a canvas, so read from the chart: axis._values). */
async function timeAxes(page: Page): Promise<AxisView[]> {
  return page.evaluate(() => {
    const d = (window as unknown as { __dashboard: Record<string, Chart> }).__dashboard;
    return ['totals', 'sentiment'].map((name) => {
      const c = d[name]!;
      return { name, min: c.scales.x.min, max: c.scales.x.max, labels: c.axes[0]!._values ?? [], points: c.data[0]!.length };
    });
  });
}

/** Seconds, minutes or clock times of one day: ":14", ":14.500", "9:09am", "9:09:14am"; never a month or a year. */
const TIME_OF_DAY = /^(:\d{2}(\.\d+)?|\d{1,2}:\d{2}(:\d{2})?(am|pm)?)$/;

function expectCurrentMinute(axes: AxisView[], windows: number): void {
  const now = Date.now() / 1000;
  for (const a of axes) {
    expect(a.points, a.name).toBeGreaterThanOrEqual(windows);
    expect(a.max - a.min, `${a.name} x span, s`).toBeLessThanOrEqual(60);
    expect(a.min, a.name).toBeGreaterThan(now - 120);
    expect(a.max, a.name).toBeLessThan(now + 60);
    expect(a.labels.length, a.name).toBeGreaterThan(1);
    for (const label of a.labels) expect(label.split('\n')[0], `${a.name} tick label`).toMatch(TIME_OF_DAY);
    // The first tick carries the date: today's.
    const date = a.labels[0]!.split('\n')[1] ?? '';
    const today = new Date();
    expect(date, a.name).toContain(`${today.getMonth() + 1}/${today.getDate()}/${String(today.getFullYear()).slice(2)}`);
  }
}

describe('dashboard time axis', () => {
  // 2 s windows as in production; the pages run on the system clock.
  const env = pagesBrowser({ aggregation: { windowMs: 2000, graceMs: 500, unitScale: 1, topN: 8 } });

  it('labels the per-window charts with times of the current minute, from the first window on, not years', async () => {
    const page = await env.browser.newPage({ width: 1280, height: 900 });
    await page.goto(`${env.baseUrl}/dashboard?matchId=axis-1`);
    await page.waitForSelector('#state[data-state="connected"]', { timeout: 10_000 });
    const points = () => page.evaluate(() => Number(document.getElementById('chart-totals')?.dataset.points));

    await postReactions(env.baseUrl, 'axis-1', { '🔥': 5 });
    await page.waitForFunction(() => Number(document.getElementById('chart-totals')?.dataset.points) >= 1, undefined, { timeout: 10_000 });
    // One window: uPlot's own range would span 86.4 M seconds (2027 … 2029).
    expectCurrentMinute(await timeAxes(page), 1);

    const before = await points();
    await postReactions(env.baseUrl, 'axis-1', { '😂': 3 });
    await page.waitForFunction((n) => Number(document.getElementById('chart-totals')?.dataset.points) > n, before, { timeout: 10_000 });
    const axes = await timeAxes(page);
    expectCurrentMinute(axes, 2);
    expect(page.errors).toEqual([]);
    await screenshot(page, 'dashboard-time-axis', { fullPage: true });
  });
});
