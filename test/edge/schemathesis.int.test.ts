import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.js';
import { startRole, type Pipeline } from '../../src/roles/start.js';

// Schemathesis (from PyPI, installed by scripts/schemathesis.sh into a venv under .infra/) against
// the document of a server the test starts on the memory adapters: `npm start`'s defaults, and an
// api role with JWT_SECRET set. `--checks all`, 0 failures; and the batch route must have answered
// 202 to generated data. A failed install fails this test: nothing here skips.
const root = path.resolve(import.meta.dirname, '../..');
let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

async function serve(env: Record<string, string>): Promise<string> {
  const config = loadConfig({ ...env, HOST: '127.0.0.1', PORT: '0' });
  pipeline = await startRole(config, { logger: pino({ level: 'silent' }) });
  return pipeline.app.listen({ host: '127.0.0.1', port: 0 });
}

function schemathesis(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('bash', [path.join(root, 'scripts/schemathesis.sh'), ...args], { cwd: root, maxBuffer: 64 * 1024 * 1024, timeout: 540_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, output: `${stdout}\n${stderr}` });
    });
  });
}

/** Runs `st run --checks all` and returns the count of answers per "METHOD path status", from its HAR report. */
async function fuzz(url: string, extra: string[] = []): Promise<Map<string, number>> {
  const reports = mkdtempSync(path.join(tmpdir(), 'emo-st-'));
  const r = await schemathesis([
    '--config-file', path.join(root, 'test/edge/schemathesis.toml'),
    'run', `${url}/openapi.json`, '--checks', 'all', '--workers', '1',
    '--report', 'har', '--report-dir', reports, ...extra,
  ]);
  expect(r.output).toContain('Test cases:');
  // The whole output on failure: each failure comes with its curl reproduction and the seed.
  expect(r.code, r.output).toBe(0);
  expect(r.output).not.toMatch(/\d+ failures? in/);
  const file = readdirSync(reports).find((f) => f.endsWith('.json'));
  const har = JSON.parse(readFileSync(path.join(reports, file!), 'utf8')) as { log: { entries: { request: { method: string; url: string }; response: { status: number } }[] } };
  const counts = new Map<string, number>();
  for (const e of har.log.entries) {
    const key = `${e.request.method} ${new URL(e.request.url).pathname} ${e.response.status}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

describe('schemathesis --checks all against the served document', () => {
  it('the embedded defaults (npm start): 0 failures, the batch route answers 202 to generated data', async () => {
    const url = await serve({});
    const counts = await fuzz(url);
    expect(counts.get('POST /v1/reactions/batch 202') ?? 0).toBeGreaterThan(0);
    expect(counts.get('POST /v1/reactions 202') ?? 0).toBeGreaterThan(0);
    // Never a 5xx other than the documented, retryable ones.
    const fivexx = [...counts].filter(([k]) => / 5\d\d$/.test(k));
    expect(fivexx).toEqual([]);
  }, 600_000);

  it('an api role with JWT_SECRET (and a server token for the fuzzer): 0 failures, 202s, and unauthenticated calls refused 401', async () => {
    const serverToken = 'fuzzer-server-token-0123456789';
    const url = await serve({ ROLE: 'api', JWT_SECRET: 'an-api-role-secret-of-at-least-32-chars', API_TOKENS: serverToken });
    // ignored_auth (part of `all`) also sends each authenticated operation without the header and with a wrong one.
    const counts = await fuzz(url, ['--header', `Authorization: Bearer ${serverToken}`]);
    expect(counts.get('POST /v1/reactions/batch 202') ?? 0).toBeGreaterThan(0);
    expect(counts.get('POST /v1/reactions/batch 401') ?? 0).toBeGreaterThan(0);
    expect([...counts].filter(([k]) => / 5\d\d$/.test(k))).toEqual([]);
  }, 600_000);
});
