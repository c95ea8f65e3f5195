import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pipeline } from '../../src/roles/embedded.js';
import { existsSync } from 'node:fs';
import { scrapeMetric } from '../../helpers/metrics.js';
import { CHROMIUM, launchBrowser, postReactions, screenshot, startPagesPipeline, type Browser } from '../helpers/browser.js';

// Windows of 500 ms + 500 ms grace on the system clock (grace > the SDK's 250 ms batching, so a
// click never arrives late): an update reaches the pages about 1 s after its reactions.
let pipeline: Pipeline;
let baseUrl: string;
let browser: Browser;
/** The server's clock is the system clock, unless a test steps it. */
let serverClockOffsetMs = 0;

// Counted as a failure (never a skip) where Chromium is missing, in CI and locally.
it(`Chromium is installed at ${CHROMIUM}`, () => {
  expect(existsSync(CHROMIUM), 'install it: scripts/infra/apt-deps.sh (or apt-get install -y chromium), or set EMO_CHROMIUM').toBe(true);
});

const metric = (name: string): Promise<number> => scrapeMetric(baseUrl, name);

describe('pages in headless Chromium', () => {
  beforeAll(async () => {
    ({ pipeline, baseUrl } = await startPagesPipeline({}, { now: () => Date.now() + serverClockOffsetMs }));
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await pipeline?.close();
  });

  it('overlay: a live update becomes emoji sprites (capped), a jump well above the average bursts', async () => {
    const page = await browser.newPage({ width: 900, height: 640 });
    await page.goto(`${baseUrl}/overlay?matchId=ov-1&maxSprites=40&spritesPerUnit=1&position=full&theme=dark`);
    await page.waitForSelector('body[data-state="connected"]', { timeout: 10_000 });
    expect(await page.locator('.sprite').count()).toBe(0);

    await postReactions(baseUrl, 'ov-1', { '🔥': 6, '😂': 3 });
    await page.waitForSelector('body[data-updates="1"]', { timeout: 10_000 });
    await page.waitForSelector('.sprite[data-emoji="🔥"]', { timeout: 5_000 });
    await page.waitForSelector('.sprite[data-emoji="😂"]', { timeout: 5_000 });
    // Sprites move: a sprite's transform changes between frames.
    const t0 = await page.locator('.sprite').first().evaluate((el) => (el as HTMLElement).style.transform);
    await page.waitForTimeout(150);
    const t1 = await page.locator('.sprite').first().evaluate((el) => (el as HTMLElement).style.transform);
    expect(t1).not.toBe(t0);
    expect(t0).toMatch(/translate3d\(/);
    // Sentiment bar: (6 x 80 + 3 x 70) / 900.
    expect(Number(await page.locator('#sentiment').getAttribute('data-value'))).toBeCloseTo(690 / 900, 6);
    expect(await page.locator('.sentiment-value').textContent()).toBe('+0.77');
    await screenshot(page, 'overlay-swarm');

    // A second ordinary window, then a big moment: 300 x 😱 against a mean of ~9.
    await postReactions(baseUrl, 'ov-1', { '👏': 8, '🔥': 2 });
    await page.waitForSelector('body[data-updates="2"]', { timeout: 10_000 });
    expect(await page.locator('#burst').isHidden()).toBe(true);
    await postReactions(baseUrl, 'ov-1', { '😱': 300, '🔥': 10 });
    await page.waitForSelector('#burst[data-emoji="😱"]:not([hidden])', { timeout: 10_000 });
    expect(await page.locator('body').getAttribute('data-bursts')).toBe('1');
    expect(await page.locator('.burst-count').textContent()).toBe('×300');
    await page.waitForTimeout(700);
    await screenshot(page, 'overlay-burst');
    // However big the window, live sprites never exceed maxSprites.
    for (let i = 0; i < 5; i++) {
      expect(await page.locator('.sprite').count()).toBeLessThanOrEqual(40);
      await page.waitForTimeout(100);
    }
    expect(await page.locator('.sprite[data-emoji="😱"]').count()).toBeGreaterThan(0);
    expect(page.errors).toEqual([]);
    await page.close();
  });

  it('overlay: transparent background and light theme for OBS / vMix', async () => {
    const page = await browser.newPage({ width: 480, height: 640 });
    await page.goto(`${baseUrl}/overlay?matchId=ov-2&bg=transparent&theme=light&position=bottom-left`);
    await page.waitForSelector('body[data-state="connected"]', { timeout: 10_000 });
    const bg = await page.evaluate(() => [getComputedStyle(document.body).backgroundColor, getComputedStyle(document.documentElement).backgroundColor]);
    expect(bg).toEqual(['rgba(0, 0, 0, 0)', 'rgba(0, 0, 0, 0)']);
    expect(await page.locator('body').getAttribute('data-theme')).toBe('light');
    await postReactions(baseUrl, 'ov-2', { '😢': 3, '😡': 2 });
    await page.waitForSelector('.sprite[data-emoji="😢"]', { timeout: 10_000 });
    expect(await page.locator('.sentiment-value').textContent()).toBe(`${((3 * -60 + 2 * -90) / 500).toFixed(2)}`);
    await page.waitForTimeout(600);
    await screenshot(page, 'overlay-transparent-light', { omitBackground: true });
    expect(page.errors).toEqual([]);
    await page.close();
  });

  it('viewer: emoji buttons send through the SDK and come back in the live aggregate', async () => {
    const page = await browser.newPage({ width: 1100, height: 720 });
    await page.goto(`${baseUrl}/?matchId=vw-1`);
    await page.waitForSelector('#state[data-state="connected"]', { timeout: 10_000 });
    const fire = page.locator('#buttons button[data-emoji="🔥"]');
    const laugh = page.locator('#buttons button[data-emoji="😂"]');
    for (let i = 0; i < 5; i++) await fire.click();
    for (let i = 0; i < 2; i++) await laugh.click();
    // Batched (250 ms), acknowledged, aggregated, and back over the WebSocket.
    await page.waitForFunction(() => document.getElementById('sent')?.textContent === '7', undefined, { timeout: 10_000 });
    await page
      .waitForFunction(() => document.getElementById('session')?.textContent === '7', undefined, { timeout: 10_000 })
      .catch(async (err: Error) => {
        throw new Error(`${err.message}; page shows session=${await page.locator('#session').textContent()} total=${await page.locator('#total').textContent()} seq=${await page.locator('#seq').textContent()} errors=${page.errors.join('; ')}`);
      });
    expect(await page.locator('#queued').textContent()).toBe('0');
    expect(await page.locator('#top li').count()).toBeGreaterThan(0);
    const shown = await page.locator('#top li').evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.emoji));
    expect(shown.every((e) => e === '🔥' || e === '😂')).toBe(true);
    expect(await page.locator('#viewers').textContent()).toBe('1');
    expect(await metric('emostream_reactions_accepted_total')).toBeGreaterThanOrEqual(7);
    await screenshot(page, 'viewer');
    expect(page.errors).toEqual([]);
    await page.close();
  });

  it('dashboard: charts (uPlot served locally) grow with each window; counters come from /metrics', async () => {
    const page = await browser.newPage({ width: 1280, height: 900 });
    await page.goto(`${baseUrl}/dashboard?matchId=db-1`);
    await page.waitForSelector('#state[data-state="connected"]', { timeout: 10_000 });
    for (const id of ['chart-totals', 'chart-sentiment', 'chart-rate']) await page.waitForSelector(`#${id} canvas`, { timeout: 10_000 });
    const points = async (id: string): Promise<number> => Number(await page.locator(`#${id}`).getAttribute('data-points'));
    expect(await points('chart-totals')).toBe(0);

    await postReactions(baseUrl, 'db-1', { '🔥': 12, '👏': 5, '😂': 3 });
    await page.waitForFunction(() => Number(document.getElementById('chart-totals')?.dataset.points) >= 1, undefined, { timeout: 10_000 });
    const first = await points('chart-totals');
    expect(await page.locator('#k-total').textContent()).toBe('20');
    await page.waitForTimeout(700); // a later window
    await postReactions(baseUrl, 'db-1', { '😱': 9, '🤦': 4 });
    await page.waitForFunction((n) => Number(document.getElementById('chart-totals')?.dataset.points) > n, first, { timeout: 10_000 });
    expect(await points('chart-sentiment')).toBe(await points('chart-totals'));
    // The chart holds the data: the last point is the second window, quiet windows between are 0.
    const data = await page.evaluate(() => {
      const d = (window as unknown as { __dashboard: { totals: { data: number[][] } } }).__dashboard.totals.data;
      return { xs: d[0]!.length, last: d[1]!.at(-1), first: d[1]![0], between: d[1]!.slice(1, -1) };
    });
    expect(data).toMatchObject({ first: 20, last: 13 });
    expect(data.between.every((v) => v === 0)).toBe(true);
    await page.waitForFunction(() => document.querySelector('#top li')?.getAttribute('data-emoji') === '🔥', undefined, { timeout: 5_000 });

    // A late reaction shows in the late counter via /metrics. A client's ts can no longer make one
    // (windows go by the receive time), but an API whose clock stepped a minute back can.
    serverClockOffsetMs = -60_000;
    await postReactions(baseUrl, 'db-1', { '👍': 2 });
    serverClockOffsetMs = 0;
    await page.waitForFunction(() => Number(document.getElementById('k-late')?.textContent) >= 2, undefined, { timeout: 10_000 });
    await page.waitForFunction(() => Number(document.getElementById('chart-rate')?.dataset.points) >= 1, undefined, { timeout: 10_000 });
    expect(Number((await page.locator('#k-accepted').textContent())!.replace(/,/g, ''))).toBeGreaterThanOrEqual(35);
    expect(await page.locator('#k-wsdrop').textContent()).toBe('0');
    const snippet = await page.locator('#snippet').inputValue();
    expect(snippet).toContain(`<iframe src="${baseUrl}/overlay?matchId=db-1&amp;bg=transparent"`);
    await page.selectOption('#e-position', 'bottom-left');
    expect(await page.locator('#snippet').inputValue()).toContain('position=bottom-left');
    await page.waitForTimeout(800); // let the preview iframe draw
    await screenshot(page, 'dashboard', { fullPage: true });
    expect(page.errors).toEqual([]);
    await page.close();
  });
});
