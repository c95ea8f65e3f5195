// The nightly suite's HTML report: one uPlot chart per (bench, metric) over the runs in the
// history (one line per case), the current run's benches and its comparison with the previous
// runs. uPlot's script and stylesheet are inlined, so the one file works offline and as a CI artifact.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Comparison } from './compare.js';
import { metricKey, type RunRecord } from './history.js';

export interface Chart {
  id: string;
  title: string;
  bench: string;
  metric: string;
  better: 'higher' | 'lower';
  /** Run times, seconds since the epoch (uPlot's time scale). */
  x: number[];
  series: Array<{ label: string; values: Array<number | null> }>;
}

export interface ReportData {
  generatedAt: string;
  current: Pick<RunRecord, 'id' | 'at' | 'commit' | 'smoke' | 'benches'>;
  thresholdPct: number;
  charts: Chart[];
  comparisons: Comparison[];
}

/** Charts over the runs of the current run's kind (smoke runs are not charted beside full ones). */
export function chartsOf(history: RunRecord[], smoke: boolean): Chart[] {
  const runs = history.filter((r) => r.smoke === smoke).sort((a, b) => a.at.localeCompare(b.at));
  const x = runs.map((r) => Math.round(Date.parse(r.at) / 1000));
  const charts = new Map<string, Chart>();
  const cases = new Map<string, string[]>();
  for (const run of runs) {
    for (const m of run.metrics) {
      const id = `${m.bench}:${m.metric}`;
      if (!charts.has(id)) {
        charts.set(id, { id, title: `${m.bench} — ${m.metric}${m.kind === 'ratio' ? ' (vs in-run baseline)' : ''}`, bench: m.bench, metric: m.metric, better: m.better, x, series: [] });
        cases.set(id, []);
      }
      if (!cases.get(id)!.includes(m.case)) cases.get(id)!.push(m.case);
    }
  }
  for (const [id, chart] of charts) {
    for (const c of cases.get(id)!) {
      const values = runs.map((run) => run.metrics.find((m) => metricKey(m) === metricKey({ bench: chart.bench, case: c, metric: chart.metric }))?.value ?? null);
      chart.series.push({ label: c, values });
    }
  }
  return [...charts.values()].sort((a, b) => a.id.localeCompare(b.id));
}

function uplotAssets(): { js: string; css: string } {
  const dist = path.dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'));
  return { js: readFileSync(path.join(dist, 'uPlot.iife.min.js'), 'utf8'), css: readFileSync(path.join(dist, 'uPlot.min.css'), 'utf8') };
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
// JSON inside <script>: no "</script>" or "<!--" can end it early.
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

export function renderReport(data: ReportData): string {
  const { js, css } = uplotAssets();
  const regressions = data.comparisons.filter((c) => c.regression);
  const rows = data.comparisons
    .map((c) => `<tr class="${c.regression ? 'bad' : ''}"><td>${escapeHtml(c.bench)}</td><td>${escapeHtml(c.case)}</td><td>${escapeHtml(c.metric)}${c.kind === 'ratio' ? ' <small>(vs in-run baseline)</small>' : ''}</td><td>${c.better}</td><td>${c.previous}</td><td>${c.current}</td><td>${c.changePct >= 0 ? '+' : ''}${c.changePct.toFixed(1)}%</td></tr>`)
    .join('\n');
  const benches = data.current.benches.map((b) => `<li><b>${escapeHtml(b.name)}</b>: ${b.status} in ${b.seconds.toFixed(1)} s${b.error ? ` — ${escapeHtml(b.error)}` : ''}</li>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>EmoStream benchmarks — ${escapeHtml(data.current.at)}</title>
<style>${css}</style>
<style>
body { font: 14px system-ui, sans-serif; margin: 24px; color: #222; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 16px; }
.chart { border: 1px solid #ddd; border-radius: 6px; padding: 8px; }
.chart h3 { margin: 0 0 6px; font-size: 14px; }
table { border-collapse: collapse; margin: 8px 0 24px; } td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
tr.bad { background: #fde2e2; } .summary.bad { color: #b00020; } .summary.ok { color: #16794a; }
</style></head>
<body>
<h1>EmoStream benchmarks</h1>
<p>Run <code>${escapeHtml(data.current.id)}</code> at ${escapeHtml(data.current.at)} (commit ${escapeHtml(data.current.commit)}${data.current.smoke ? ', smoke' : ''}); generated ${escapeHtml(data.generatedAt)}.</p>
<p class="summary ${regressions.length ? 'bad' : 'ok'}">${regressions.length} regression(s) beyond ${data.thresholdPct}% against the previous run${regressions.length ? '' : ''}.</p>
<ul>${benches}</ul>
<h2>Over time</h2>
<div class="charts" id="charts"></div>
<h2>This run against the previous one</h2>
<table><thead><tr><th>bench</th><th>case</th><th>metric</th><th>better</th><th>previous</th><th>current</th><th>change</th></tr></thead>
<tbody>${rows || '<tr><td colspan="7">no earlier run to compare with</td></tr>'}</tbody></table>
<script id="bench-data" type="application/json">${scriptJson(data)}</script>
<script>${js}</script>
<script>
const data = JSON.parse(document.getElementById('bench-data').textContent);
const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 3 });
const palette = ['#2b6cb0', '#c05621', '#2f855a', '#6b46c1', '#b83280', '#718096', '#d69e2e', '#319795', '#e53e3e', '#4a5568'];
for (const chart of data.charts) {
  const box = document.createElement('div');
  box.className = 'chart';
  box.dataset.chart = chart.id;
  box.innerHTML = '<h3></h3>';
  box.querySelector('h3').textContent = chart.title + (chart.better === 'higher' ? ' ↑ better' : ' ↓ better');
  document.getElementById('charts').appendChild(box);
  new uPlot({
    width: 540, height: 260,
    series: [{}, ...chart.series.map((s, i) => ({ label: s.label, stroke: palette[i % palette.length], width: 2, points: { show: true } }))],
    axes: [{}, { size: 60, values: (u, vals) => vals.map((v) => (v == null ? '' : compact.format(v))) }],
  }, [chart.x, ...chart.series.map((s) => s.values)], box);
}
</script>
</body></html>
`;
}

export function writeReport(file: string, data: ReportData): string {
  writeFileSync(file, renderReport(data));
  return file;
}
