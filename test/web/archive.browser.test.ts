import { copyFileSync, existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { MemoryBus } from '../../src/adapters/memory/memory-bus.js';
import { openPgliteArchive } from '../../src/adapters/postgres/pglite-window-archive.js';
import type { WindowAggregate } from '../../src/domain/types.js';
import type { WindowArchive } from '../../src/ports/window-archive.js';
import { systemClock } from '../../src/ports/clock.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { catalog, silentLogger, testConfig } from '../../helpers/fixtures.js';
import { CHROMIUM, launchBrowser, screenshot, type Browser } from '../helpers/browser.js';

// A whole 3.5-hour match in the archive (6,300 windows of 2 s): a crowd that grows through the
// match, and big moments, among them the wicket at 1:12:40 and the six at 2:03:14.
const T0 = 1_800_000_000_000;
const M = 'final-2026';
const WICKET = 4_360_000; // 1:12:40
const SIX = 7_394_000; // 2:03:14
const MOMENTS: Array<[number, string, number]> = [[WICKET, '😱', 40_000], [SIX, '🏏', 30_000], [1_800_000, '🎉', 14_000], [9_900_000, '😢', 20_000], [11_400_000, '🔥', 26_000]];

function crowd(): WindowAggregate[] {
  const out: WindowAggregate[] = [];
  let seed = 7;
  const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 6300; i++) {
    const offset = i * 2000;
    const base = 1500 + 2500 * (i / 6300) + 400 * Math.sin(i / 300);
    const counts: Record<string, number> = { '🔥': Math.round(base * (0.35 + 0.1 * rnd())), '👏': Math.round(base * (0.2 + 0.1 * rnd())), '😂': Math.round(base * 0.15 * rnd()), '👍': Math.round(base * 0.1) };
    for (const [at, emoji, n] of MOMENTS) {
      const d = (offset - at) / 2000;
      if (d >= 0 && d < 4) counts[emoji] = (counts[emoji] ?? 0) + Math.round(n / (1 + 2 * d));
    }
    const byCatalog = catalog.entries.filter((e) => counts[e.emoji]);
    const total = byCatalog.reduce((a, e) => a + counts[e.emoji]!, 0);
    const top = [...byCatalog].sort((a, b) => counts[b.emoji]! - counts[a.emoji]! || a.index - b.index).slice(0, 8);
    out.push({
      matchId: M,
      windowStart: T0 + offset,
      windowEnd: T0 + offset + 2000,
      counts: Object.fromEntries(byCatalog.map((e) => [e.emoji, counts[e.emoji]!])),
      units: Object.fromEntries(top.map((e) => [e.emoji, Math.ceil(counts[e.emoji]! / 1000)])),
      total,
      sentiment: byCatalog.reduce((a, e) => a + counts[e.emoji]! * e.valenceCenti, 0) / (100 * total),
    });
  }
  return out;
}

it(`Chromium is installed at ${CHROMIUM}`, () => {
  expect(existsSync(CHROMIUM), 'install it: scripts/infra/apt-deps.sh (or apt-get install -y chromium), or set EMO_CHROMIUM').toBe(true);
});

describe('archive in the pages: the overlay follows a playhead, the dashboard shows the whole match', () => {
  let store: WindowArchive;
  let app: FastifyInstance;
  let baseUrl: string;
  let browser: Browser;

  beforeAll(async () => {
    store = await openPgliteArchive({});
    await store.upsert(crowd());
    // The pages, the live routes (nothing live: the match is over) and the archive's routes.
    app = await buildApp({ config: testConfig(), catalog, clock: systemClock, metrics: createMetrics(), logger: silentLogger, fanout: { bus: new MemoryBus({ historySize: 10 }), nodeId: 'pages' }, archive: { store }, pages: true });
    await app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await store?.close();
  });

  const sprites = (page: Awaited<ReturnType<Browser['newPage']>>) =>
    page.evaluate(() => {
      const n: Record<string, number> = {};
      for (const el of Array.from(document.querySelectorAll<HTMLElement>('.sprite'))) n[el.dataset.emoji!] = (n[el.dataset.emoji!] ?? 0) + 1;
      return n;
    });
  const dominantOf = (n: Record<string, number>) => Object.entries(n).sort((a, b) => b[1] - a[1])[0]?.[0];

  it('overlay ?playhead=: replays from that point and shows its swarm (the wicket at 1:12:40)', async () => {
    const page = await browser.newPage({ width: 900, height: 640 });
    await page.goto(`${baseUrl}/overlay?matchId=${M}&playhead=${WICKET - 8000}&speed=4&position=full&maxSprites=60`);
    await page.waitForSelector('body[data-mode="replay"][data-replay="playing"]', { timeout: 10_000 });
    expect(Number(await page.locator('body').getAttribute('data-playhead'))).toBe(WICKET - 8000);
    // Four ordinary windows, then the wicket's: the swarm turns to 😱 and the overlay bursts.
    await page.waitForSelector('#burst[data-emoji="😱"]:not([hidden])', { timeout: 10_000 });
    await page.waitForTimeout(600);
    expect(dominantOf(await sprites(page))).toBe('😱');
    expect(Number(await page.locator('body').getAttribute('data-seq'))).toBeGreaterThanOrEqual((T0 + WICKET) / 2000);
    await screenshot(page, 'overlay-replay-wicket');
    expect(page.errors).toEqual([]);
    await page.close();
  });

  it('overlay driven by its embedder with postMessage, as a VOD player: jumps to the six at 2:03:14, pauses', async () => {
    const page = await browser.newPage({ width: 900, height: 640 });
    // A stand-in for a VOD player's page: it embeds the overlay and posts its playhead.
    await page.goto(`${baseUrl}/overlay?matchId=${M}&playhead=0&speed=4&position=full&maxSprites=60`);
    await page.waitForSelector('body[data-replay="playing"]', { timeout: 10_000 });
    await page.evaluate(() => document.body.setAttribute('data-test', 'vod'));
    const post = (msg: object) => page.evaluate((m) => window.postMessage(m, location.origin), msg);
    await post({ type: 'emostream:playhead', offset: SIX - 8000, playing: true });
    await page.waitForFunction((want) => Number(document.body.dataset.playhead) === want, SIX - 8000, { timeout: 10_000 });
    expect(await page.evaluate(() => (window as unknown as { __overlay: { replay: { seeks: number } } }).__overlay.replay.seeks)).toBe(1);
    // Small drift (a player's time updates) is not a seek.
    await post({ type: 'emostream:playhead', offset: SIX - 7000 });
    await page.waitForSelector('#burst[data-emoji="🏏"]:not([hidden])', { timeout: 10_000 });
    await page.waitForTimeout(600);
    expect(dominantOf(await sprites(page))).toBe('🏏');
    expect(await page.evaluate(() => (window as unknown as { __overlay: { replay: { seeks: number } } }).__overlay.replay.seeks)).toBe(1);
    await post({ type: 'emostream:playhead', playing: false });
    await page.waitForSelector('body[data-replay="paused"]', { timeout: 5_000 });
    const seq = await page.locator('body').getAttribute('data-seq');
    await page.waitForTimeout(1200);
    expect(await page.locator('body').getAttribute('data-seq')).toBe(seq);
    expect(page.errors).toEqual([]);
    await page.close();
  });

  it('dashboard: the whole match timeline from the API, the moments marked and listed', async () => {
    const page = await browser.newPage({ width: 1280, height: 900 });
    await page.goto(`${baseUrl}/dashboard?matchId=${M}`);
    await page.waitForSelector('#archive[data-state="loaded"]', { timeout: 15_000 });
    const points = Number(await page.locator('#chart-match').getAttribute('data-points'));
    // 3.5 h in about 600 points: 11 windows (22 s) a point, steps aligned to the epoch like the windows.
    expect(points).toBe(new Set(Array.from({ length: 6300 }, (_, i) => Math.floor((T0 + i * 2000) / 22_000))).size);
    // The dashboard asks for the top 10: only the five real moments stand out of the crowd's noise.
    expect(Number(await page.locator('#chart-match').getAttribute('data-moments'))).toBe(MOMENTS.length);
    const listed = await page.locator('#moments li').evaluateAll((lis) => lis.map((li) => [li.querySelector('b')!.textContent, li.querySelector('.emoji')!.textContent]));
    expect(listed).toHaveLength(MOMENTS.length);
    expect(listed).toEqual(expect.arrayContaining([['1:12:40', '😱'], ['2:03:14', '🏏'], ['30:00', '🎉'], ['2:45:00', '😢'], ['3:10:00', '🔥']]));
    expect(listed[0]).toEqual(['1:12:40', '😱']); // the largest jump over its baseline
    await page.locator('#archive').scrollIntoViewIfNeeded();
    const file = await screenshot(page, 'dashboard-archive-timeline');
    await page.locator('#archive').screenshot({ path: file });
    if (process.env.EMO_ARCHIVE_SCREENSHOT) copyFileSync(file, process.env.EMO_ARCHIVE_SCREENSHOT);
    expect(page.errors).toEqual([]);
    await page.close();
  });
});
