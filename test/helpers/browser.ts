// Headless Chromium for the browser tier: Debian's chromium driven by playwright-core (no browser
// download). A missing Chromium fails the tests, in CI and locally: they are never skipped.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import type { Config, DeepPartial } from '../../src/config/config.js';
import type { Clock } from '../../src/ports/clock.js';
import { repoRoot } from '../../src/domain/schemas-dir.js';
import { startEmbedded, type Pipeline } from '../../src/roles/embedded.js';
import { silentLogger, testConfig } from '../../helpers/fixtures.js';

export const CHROMIUM = process.env.EMO_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.join(repoRoot(), 'test-results/screenshots');

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Browser {
  context: BrowserContext;
  /** A new page whose uncaught errors and console errors are collected in `errors`. */
  newPage(viewport?: { width: number; height: number }): Promise<Page & { errors: string[] }>;
  close(): Promise<void>;
}

/** Launches headless Chromium with a fresh profile (removed on close). */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it (scripts/infra/apt-deps.sh, or apt-get install -y chromium) or set EMO_CHROMIUM`);
  }
  const profile = await mkdtemp(path.join(os.tmpdir(), 'emostream-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 800 },
    timeout: 30_000,
  });
  return {
    context,
    async newPage(viewport) {
      const page = (await context.newPage()) as Page & { errors: string[] };
      page.errors = [];
      page.on('pageerror', (err) => page.errors.push(`pageerror: ${err.message}`));
      // The dashboard asks the archive about the match it shows: a 404 (nothing archived yet) is a normal answer there.
      const archiveProbe = (status: number, url: string) => status === 404 && /\/v1\/matches\/[^/]+\/summary$/.test(new URL(url).pathname);
      page.on('console', (msg) => {
        if (msg.type() === 'error' && !(/status of 404/.test(msg.text()) && archiveProbe(404, msg.location().url))) page.errors.push(`console: ${msg.text()} (${msg.location().url})`);
      });
      page.on('response', (res) => {
        if (res.status() >= 400 && !archiveProbe(res.status(), res.url())) page.errors.push(`HTTP ${res.status()} ${res.url()}`);
      });
      if (viewport) await page.setViewportSize(viewport);
      return page;
    },
    async close() {
      await context.close().catch(() => {});
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Saves test-results/screenshots/NAME.png (a test artifact). `omitBackground` keeps transparency. */
export async function screenshot(page: Page, name: string, o: { fullPage?: boolean; omitBackground?: boolean } = {}): Promise<string> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: o.fullPage ?? false, omitBackground: o.omitBackground ?? false });
  return file;
}

/** The embedded pipeline on 127.0.0.1 with short windows on the system clock (pages use real time). */
export async function startPagesPipeline(overrides: DeepPartial<Config> = {}, clock?: Clock): Promise<{ pipeline: Pipeline; baseUrl: string }> {
  const config = testConfig({ aggregation: { windowMs: 500, graceMs: 500, unitScale: 1, topN: 8 }, punctuateMs: 20, ...overrides });
  const pipeline = await startEmbedded(config, { logger: silentLogger, ...(clock ? { clock } : {}) });
  await pipeline.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = pipeline.app.server.address() as { port: number };
  return { pipeline, baseUrl: `http://127.0.0.1:${port}` };
}

let users = 0;
/** Posts reactions as one batch, one distinct user each (no rate limit in the way). */
export async function postReactions(baseUrl: string, matchId: string, emojis: Record<string, number>, ts?: number): Promise<void> {
  const reactions = Object.entries(emojis).flatMap(([emoji, n]) =>
    Array.from({ length: n }, () => ({ matchId, userId: `browser-test-${users++}`, emoji, ...(ts !== undefined ? { ts } : {}) })),
  );
  for (let i = 0; i < reactions.length; i += 500) {
    const res = await fetch(`${baseUrl}/v1/reactions/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reactions: reactions.slice(i, i + 500) }),
    });
    if (res.status !== 202) throw new Error(`batch answered ${res.status}: ${await res.text()}`);
  }
}

/** An embedded pipeline and a browser for one test file: started before its tests, closed after. */
export function pagesBrowser(overrides: DeepPartial<Config> = {}): { pipeline: Pipeline; baseUrl: string; browser: Browser } {
  const ctx = {} as { pipeline: Pipeline; baseUrl: string; browser: Browser };
  beforeAll(async () => {
    Object.assign(ctx, await startPagesPipeline(overrides));
    ctx.browser = await launchBrowser();
  });
  afterAll(async () => {
    await ctx.browser?.close();
    await ctx.pipeline?.close();
  });
  return ctx;
}
