// The pages on the compact profile (and the viewer over Server-Sent Events) render what they render
// on JSON: the same page, the same match, the same windows, side by side in one Chromium. unitScale
// is 1 here (startPagesPipeline), so the units the compact profile carries equal the counts.
import { describe, expect, it } from 'vitest';
import { pagesBrowser, postReactions } from '../helpers/browser.js';

const ctx = pagesBrowser();

describe('pages on the compact profile and over SSE', () => {
  it('viewer: json/ws, compact/ws and compact/sse show the same window', async () => {
    const variants = ['', '&format=compact', '&format=compact&transport=sse', '&transport=sse'];
    const pages = await Promise.all(variants.map(() => ctx.browser.newPage({ width: 1100, height: 720 })));
    // What actually went over the wire: binary WebSocket frames on compact/ws, an event stream on sse.
    let binaryFrames = 0;
    pages[1]!.on('websocket', (ws) => ws.on('framereceived', (f) => typeof f.payload !== 'string' && binaryFrames++));
    const streams: string[] = [];
    pages[2]!.on('request', (r) => r.url().includes('/v1/live/events') && streams.push(r.url()));
    await Promise.all(pages.map((p, i) => p.goto(`${ctx.baseUrl}/?matchId=pv-1${variants[i]}`)));
    for (const p of pages) await p.waitForSelector('#state[data-state="connected"]', { timeout: 10_000 });
    await postReactions(ctx.baseUrl, 'pv-1', { '🔥': 5, '😂': 2, '😢': 1 });
    const shown = (p: (typeof pages)[number]) =>
      p.evaluate(() => ({
        total: document.getElementById('total')?.textContent,
        sentiment: document.getElementById('sentiment')?.textContent,
        seq: document.getElementById('seq')?.textContent,
        window: document.getElementById('window')?.textContent,
        top: Array.from(document.querySelectorAll('#top li'), (li) => li.textContent),
      }));
    for (const p of pages) await p.waitForFunction(() => document.getElementById('total')?.textContent === '8', undefined, { timeout: 10_000 });
    const views = await Promise.all(pages.map(shown));
    expect(views[0]!.top).toEqual(['🔥5 (5u)', '😂2 (2u)', '😢1 (1u)']);
    for (const v of views.slice(1)) expect(v).toEqual(views[0]);
    expect(binaryFrames).toBeGreaterThan(0);
    expect(streams.some((u) => u.includes('format=compact'))).toBe(true);
    expect(await pages[2]!.evaluate(() => location.search)).toContain('format=compact&transport=sse');
    for (const p of pages) expect(p.errors).toEqual([]);
    await Promise.all(pages.map((p) => p.close()));
  });

  it('overlay: json and compact draw the same emojis, sentiment and burst', async () => {
    const variants = ['', '&format=compact', '&format=compact&transport=sse'];
    const pages = await Promise.all(variants.map(() => ctx.browser.newPage({ width: 900, height: 640 })));
    await Promise.all(pages.map((p, i) => p.goto(`${ctx.baseUrl}/overlay?matchId=po-1&maxSprites=40&spritesPerUnit=1&position=full${variants[i]}`)));
    for (const p of pages) await p.waitForSelector('body[data-state="connected"]', { timeout: 10_000 });
    const seen = (p: (typeof pages)[number]) =>
      p.evaluate(() => ({
        seq: document.body.dataset.seq,
        sentiment: document.querySelector('.sentiment-value')?.textContent,
        bursts: document.body.dataset.bursts,
        burst: document.getElementById('burst')?.dataset.emoji,
        burstCount: document.querySelector('.burst-count')?.textContent,
      }));
    await postReactions(ctx.baseUrl, 'po-1', { '🔥': 6, '😂': 3 });
    for (const p of pages) await p.waitForSelector('body[data-updates="1"]', { timeout: 10_000 });
    for (const p of pages) {
      await p.waitForSelector('.sprite[data-emoji="🔥"]', { timeout: 5_000 });
      await p.waitForSelector('.sprite[data-emoji="😂"]', { timeout: 5_000 });
    }
    const first = await Promise.all(pages.map(seen));
    expect(first[0]!.sentiment).toBe('+0.77');
    for (const v of first.slice(1)) expect(v).toEqual(first[0]);
    await postReactions(ctx.baseUrl, 'po-1', { '👏': 8, '🔥': 2 });
    for (const p of pages) await p.waitForSelector('body[data-updates="2"]', { timeout: 10_000 });
    await postReactions(ctx.baseUrl, 'po-1', { '😱': 300, '🔥': 10 });
    for (const p of pages) await p.waitForSelector('#burst[data-emoji="😱"]:not([hidden])', { timeout: 10_000 });
    const burst = await Promise.all(pages.map(seen));
    expect(burst[0]).toMatchObject({ bursts: '1', burst: '😱', burstCount: '×300' });
    for (const v of burst.slice(1)) expect(v).toEqual(burst[0]);
    for (const p of pages) expect(p.errors).toEqual([]);
    await Promise.all(pages.map((p) => p.close()));
  });
});
