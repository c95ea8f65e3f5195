import { describe, expect, it } from 'vitest';
import { pagesBrowser, screenshot } from '../helpers/browser.js';

describe('/docs in headless Chromium', () => {
  const env = pagesBrowser();

  it('renders every operation of /openapi.json from local assets only', async () => {
    const page = await env.browser.newPage({ width: 1280, height: 1000 });
    const foreign: string[] = [];
    page.on('request', (req) => {
      const url = new URL(req.url());
      if (url.protocol !== 'data:' && url.host !== new URL(env.baseUrl).host) foreign.push(req.url());
    });
    await page.goto(`${env.baseUrl}/docs`);
    await page.waitForSelector('.opblock', { timeout: 20_000 });
    const doc = (await (await fetch(`${env.baseUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.values(doc.paths).reduce((n, p) => n + Object.keys(p).length, 0);
    await page.waitForFunction((n) => document.querySelectorAll('.opblock').length === n, operations, { timeout: 10_000 });
    expect(await page.locator('.opblock-summary-path').allTextContents()).toEqual(expect.arrayContaining(['/v1/reactions', '/v1/reactions/batch', '/v1/live', '/v1/emojis']));
    await page.locator('.title').first().waitFor();
    expect(await page.locator('.title').first().textContent()).toContain('EmoStream API');
    expect(foreign).toEqual([]);
    expect(page.errors).toEqual([]);
    await screenshot(page, 'docs', { fullPage: true });
  });
});
