// The nightly suite (npm run bench): comparison and report on fixed runs, then a smoke run of the
// real suite on the embedded bench against a seeded history whose previous run was far faster, so
// the run must report a regression and exit 1.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { compareRuns, regressionRows } from '../../bench/compare.js';
import { metricsOf, readHistory, type RunRecord } from '../../bench/history.js';
import { chartsOf, renderReport, type ReportData } from '../../bench/report.js';
import { repoRoot } from '../../src/domain/schemas-dir.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'emostream-bench-suite-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function run(id: string, at: string, rows: Array<Record<string, string | number>>, smoke = false): RunRecord {
  return { id, at, commit: 'abc1234', node: 'v20', smoke, budgetS: 60, benches: [{ name: 'embedded', status: 'ok', seconds: 1, files: [] }], metrics: metricsOf({ bench: 'embedded', rows }) };
}

/** The report's embedded data, as its page script reads it. */
function reportData(html: string): ReportData {
  const m = /<script id="bench-data" type="application\/json">([\s\S]*?)<\/script>/.exec(html);
  expect(m).not.toBeNull();
  return JSON.parse(m![1]!) as ReportData;
}

describe('bench suite: history, comparison, report', () => {
  const single = (rps: number, ratio: number, p99Ms: number): Array<Record<string, string | number>> => [
    { case: 'bare node:http 202 (baseline)', rps: 20000, ratio: 1, codes: '202:1' },
    { case: 'POST /v1/reactions', rps, ratio, p99Ms },
  ];
  const r1 = run('r1', '2026-11-20T02:00:00.000Z', single(8000, 0.4, 20));
  const r2 = run('r2', '2026-11-21T02:00:00.000Z', single(7800, 0.39, 21));
  const smokeRun = run('s1', '2026-11-21T03:00:00.000Z', single(100, 0.01, 900), true);

  it('flattens rows into labelled metrics with their direction', () => {
    expect(r1.metrics).toEqual(
      expect.arrayContaining([
        { bench: 'embedded', case: 'POST /v1/reactions', metric: 'rps', value: 8000, better: 'higher', kind: 'absolute' },
        { bench: 'embedded', case: 'POST /v1/reactions', metric: 'ratio', value: 0.4, better: 'higher', kind: 'ratio' },
        { bench: 'embedded', case: 'POST /v1/reactions', metric: 'p99Ms', value: 20, better: 'lower', kind: 'absolute' },
      ]),
    );
    expect(r1.metrics.some((m) => m.metric === 'codes')).toBe(false);
  });

  it('reports a regression beyond the threshold in the metric’s direction, against the latest run of the same kind', () => {
    const r3 = run('r3', '2026-11-22T02:00:00.000Z', single(6000, 0.39, 40));
    const c = compareRuns([r1, smokeRun, r2], r3, 15);
    const by = (metric: string) => c.find((x) => x.case === 'POST /v1/reactions' && x.metric === metric)!;
    expect(by('rps')).toMatchObject({ previous: 7800, previousRun: 'r2', current: 6000, regression: true });
    expect(by('rps').changePct).toBeCloseTo(-23.08, 1);
    expect(by('ratio')).toMatchObject({ previous: 0.39, regression: false });
    expect(by('p99Ms')).toMatchObject({ previous: 21, current: 40, regression: true }); // latency up = worse
    expect(regressionRows(c).map((r) => r.metric)).toEqual(['p99Ms', 'rps']);
    // Faster is never a regression, however large the change.
    expect(compareRuns([r2], run('r4', '2026-11-23T02:00:00.000Z', single(20000, 0.9, 5)), 15).some((x) => x.regression)).toBe(false);
  });

  it('writes a self-contained HTML report with one chart per metric over the runs', () => {
    const html = renderReport({ generatedAt: 'now', current: r2, thresholdPct: 15, charts: chartsOf([r1, smokeRun, r2], false), comparisons: compareRuns([r1], r2, 15) });
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/); // works offline: nothing to fetch
    expect(html).toContain('uPlot');
    const data = reportData(html);
    const rps = data.charts.find((ch) => ch.id === 'embedded:rps')!;
    expect(rps.x).toEqual([Date.parse(r1.at) / 1000, Date.parse(r2.at) / 1000]); // the smoke run is not charted here
    expect(rps.series).toEqual([
      { label: 'bare node:http 202 (baseline)', values: [20000, 20000] },
      { label: 'POST /v1/reactions', values: [8000, 7800] },
    ]);
  });
});

describe('npm run bench (smoke, embedded only)', () => {
  it('appends to the history, reports the regression against a faster previous run and exits 1, writes the report', async () => {
    const out = tmp();
    const seeded = run('seeded', new Date(Date.now() - 86_400_000).toISOString(), [{ case: 'aggregator decode+window+emit (1 core)', reactions: 100000, reactionsPerSec: 1e12 }], true);
    writeFileSync(path.join(out, 'history.jsonl'), `${JSON.stringify(seeded)}\n`);
    const result = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/nightly.ts', '--smoke', '--only', 'embedded', '--budget', '240', '--out', out], { cwd: repoRoot(), encoding: 'utf8', timeout: 300_000 }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout }),
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/1 regression\(s\) beyond 15%/);
    expect(result.stdout).toContain('aggregator decode+window+emit (1 core)');
    const history = readHistory(out);
    expect(history.map((r) => r.id)[0]).toBe('seeded');
    expect(history).toHaveLength(2);
    expect(history[1]!.benches).toEqual([expect.objectContaining({ name: 'embedded', status: 'ok' })]);
    expect(history[1]!.metrics.find((m) => m.case === 'POST /v1/reactions' && m.metric === 'ratio')?.value).toBeGreaterThan(0);
    const report = path.join(out, 'report.html');
    expect(existsSync(report)).toBe(true);
    const data = reportData(readFileSync(report, 'utf8'));
    const agg = data.charts.find((c) => c.id === 'embedded:reactionsPerSec')!;
    expect(agg.x).toHaveLength(2);
    expect(agg.series.find((s) => s.label === 'aggregator decode+window+emit (1 core)')!.values[0]).toBe(1e12);
    expect(data.comparisons.filter((c) => c.regression)).toHaveLength(1);
  }, 320_000);
});
