// Dashboard: per-window totals and sentiment (uPlot, served locally), top emojis, viewers, and the
// pipeline's counters read from GET /metrics every 2 s.
import uPlot from '/vendor/uplot/uPlot.esm.js';
import { EmoStreamClient } from '/assets/emostream-sdk.js';
import { embedSnippet, overlayQuery, POSITIONS, THEMES } from '/lib/options.js';
import { counterRate, metricValue, parsePrometheus } from '/lib/prom.js';
import { timeRange, WindowSeries } from '/lib/series.js';
import { formatOffset, loadMatch } from '/lib/archive.js';

const $ = (id) => document.getElementById(id);
const nf = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const params = new URLSearchParams(location.search);
const MATCH_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
let matchId = MATCH_ID.test(params.get('matchId') ?? '') ? params.get('matchId') : 'demo-match';

const series = new WindowSeries(300);

// ---- charts ----------------------------------------------------------------------------------
const axis = () => ({ stroke: '#9aa0ae', grid: { stroke: 'rgba(255,255,255,.07)', width: 1 }, ticks: { stroke: 'rgba(255,255,255,.12)', width: 1 } });
const timeAxis = () => ({ ...axis(), space: 70 });

function makeChart(el, series, { height = 220, y, x } = {}) {
  const opts = {
    width: Math.max(200, el.clientWidth),
    height,
    legend: { show: true, live: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true, ...(x ? { range: x } : {}) }, ...(y ? { y } : {}) },
    axes: [timeAxis(), { ...axis(), size: 56 }],
    series: [{}, ...series],
  };
  const chart = new uPlot(opts, [[], ...series.map(() => [])], el);
  new ResizeObserver(() => chart.setSize({ width: Math.max(200, el.clientWidth), height })).observe(el);
  return chart;
}

const bars = uPlot.paths.bars({ size: [0.8, 40], align: 1 });
// A bar spans its window [start, end): leave room for the last one on the right. Ranges come from
// the chart's own points (see timeRange: uPlot's own widens a single point to years).
const windowSec = () => series.windowSec || 2;
const nowSec = () => Date.now() / 1000;
const windowRange = (u) => timeRange(u.data[0], { padSec: windowSec(), minSpanSec: 10 * windowSec(), nowSec: nowSec() });
const totals = makeChart($('chart-totals'), [
  { label: 'reactions', stroke: '#ff8a00', fill: 'rgba(255,138,0,.45)', width: 1, paths: bars, points: { show: false },
    value: (_u, v) => (v == null ? '–' : nf.format(v)) },
], { height: 240, x: windowRange, y: { range: (_u, _min, max) => [0, Math.max(5, max * 1.1)] } });
const sentiment = makeChart($('chart-sentiment'), [
  // Quiet windows have no sentiment (null): the line spans them.
  { label: 'sentiment', stroke: '#30a46c', width: 2, fill: 'rgba(48,164,108,.12)', spanGaps: true, points: { show: true, size: 6 },
    value: (_u, v) => (v == null ? '–' : v.toFixed(3)) },
], { x: windowRange, y: { range: [-1, 1] } });
const rateChart = makeChart($('chart-rate'), [
  { label: 'accepted/s', stroke: '#5b8def', width: 2, fill: 'rgba(91,141,239,.15)', points: { show: false },
    value: (_u, v) => (v == null ? '–' : nf.format(v)) },
], { x: (u) => timeRange(u.data[0], { minSpanSec: 60, nowSec: nowSec() }), y: { range: (_u, _min, max) => [0, Math.max(5, max * 1.15)] } });

// ---- the whole match, from the archive ---------------------------------------------------------
/** Moments as vertical markers with their dominant emoji, drawn over the timeline. */
let moments = [];
const momentMarkers = {
  hooks: {
    draw: [(u) => {
      const { ctx } = u;
      const top = u.bbox.top;
      const bottom = u.bbox.top + u.bbox.height;
      ctx.save();
      ctx.globalAlpha = 1;
      ctx.fillStyle = '#fff';
      ctx.font = `${Math.round(18 * devicePixelRatio)}px sans-serif`;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'top';
      for (const m of moments) {
        const x = Math.round(u.valToPos(m.windowStart / 1000, 'x', true));
        ctx.strokeStyle = 'rgba(255,80,80,.85)';
        ctx.lineWidth = 1.5 * devicePixelRatio;
        ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
        ctx.beginPath();
        ctx.moveTo(x, top + 22 * devicePixelRatio);
        ctx.lineTo(x, bottom);
        ctx.stroke();
        ctx.fillText(m.dominant.emoji, x, top);
      }
      ctx.restore();
    }],
  },
};
const matchChart = (() => {
  const el = $('chart-match');
  const opts = {
    width: Math.max(200, el.clientWidth),
    height: 260,
    legend: { show: true, live: true },
    cursor: { drag: { x: true, y: false } },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(5, max * 1.15)] } },
    axes: [timeAxis(), { ...axis(), size: 70 }],
    series: [{}, { label: 'reactions per step', stroke: '#ff8a00', fill: 'rgba(255,138,0,.35)', width: 1.5, points: { show: false },
      value: (_u, v) => (v == null ? '–' : nf.format(v)) }],
    plugins: [momentMarkers],
  };
  const chart = new uPlot(opts, [[], []], el);
  new ResizeObserver(() => chart.setSize({ width: Math.max(200, el.clientWidth), height: 260 })).observe(el);
  return chart;
})();

function renderMoments(list, matchStart) {
  $('moments').replaceChildren(...list.map((m) => {
    const li = document.createElement('li');
    li.dataset.offset = String(m.offsetMs);
    li.append(
      Object.assign(document.createElement('span'), { className: 'emoji', textContent: m.dominant.emoji }),
      Object.assign(document.createElement('b'), { textContent: formatOffset(m.offsetMs) }),
      Object.assign(document.createElement('span'), { className: 'muted', textContent: `${nf.format(m.total)} reactions · ${m.score.toFixed(1)}× the usual spread` }),
    );
    li.title = `${new Date(m.windowStart).toLocaleTimeString()} — click to replay the overlay preview from here`;
    // The overlay preview jumps there: the same postMessage a VOD player sends.
    li.addEventListener('click', () => $('preview').contentWindow?.postMessage({ type: 'emostream:playhead', offset: Math.max(0, m.offsetMs - 4000) }, location.origin));
    return li;
  }));
  void matchStart;
}

let archiveGen = 0;
async function loadArchive(id) {
  const gen = ++archiveGen;
  try {
    const m = await loadMatch((url, init) => fetch(url, init), id);
    if (gen !== archiveGen) return;
    if (!m) {
      $('archive').dataset.state = 'empty';
      $('a-info').textContent = '– nothing archived yet';
      return;
    }
    moments = m.moments;
    matchChart.setData([m.points.map((p) => p.t / 1000), m.points.map((p) => p.total)]);
    $('chart-match').dataset.points = String(m.points.length);
    $('chart-match').dataset.moments = String(m.moments.length);
    $('archive').dataset.state = 'loaded';
    $('a-info').textContent = `– ${formatOffset(m.summary.durationMs)}, ${nf.format(m.summary.total)} reactions, a point every ${m.step / 1000} s`;
    renderMoments(m.moments, m.summary.matchStart);
  } catch (err) {
    if (gen === archiveGen) $('a-info').textContent = `– archive: ${err.message}`;
  }
}
// The archive grows every window while a match is live; an unchanged match answers 304.
setInterval(() => void loadArchive(matchId), 15_000);

// ---- live windows ------------------------------------------------------------------------------
let windows = 0;

function renderTop() {
  const top = series.topEmojis(30, 8);
  const max = top[0]?.[1] ?? 1;
  $('top').replaceChildren(...top.map(([emoji, n]) => {
    const li = document.createElement('li');
    li.dataset.emoji = emoji;
    const e = Object.assign(document.createElement('span'), { className: 'emoji', textContent: emoji });
    const bar = Object.assign(document.createElement('div'), { className: 'bar' });
    bar.style.width = `${Math.max(3, (100 * n) / max)}%`;
    li.append(e, bar, Object.assign(document.createElement('span'), { className: 'num', textContent: nf.format(n) }));
    return li;
  }));
}

function onUpdate(u) {
  if (!series.add(u)) return;
  windows++;
  $('k-windows').textContent = nf.format(windows);
  $('k-total').textContent = nf.format(u.total);
  $('k-window').textContent = new Date(u.windowStart).toLocaleTimeString();
  $('k-sentiment').textContent = `${u.sentiment >= 0 ? '+' : ''}${u.sentiment.toFixed(2)}`;
  $('k-sentiment').dataset.sign = u.sentiment > 0.1 ? 'pos' : u.sentiment < -0.1 ? 'neg' : 'neutral';
  $('k-viewers').textContent = nf.format(u.viewers);
  totals.setData([series.xs, series.totals]);
  sentiment.setData([series.xs, series.sentiments]);
  $('chart-totals').dataset.points = String(series.points);
  $('chart-sentiment').dataset.points = String(series.points);
  renderTop();
}

const client = new EmoStreamClient({ baseUrl: location.origin, userId: 'dashboard' });
let sub;
function watch(id) {
  matchId = id;
  sub?.close();
  series.clear();
  windows = 0;
  totals.setData([[], []]);
  sentiment.setData([[], []]);
  $('match').value = id;
  history.replaceState(null, '', `?matchId=${encodeURIComponent(id)}`);
  $('viewer-link').href = `/?matchId=${encodeURIComponent(id)}`;
  $('overlay-link').href = `/overlay?matchId=${encodeURIComponent(id)}`;
  renderEmbed();
  void loadArchive(id);
  sub = client.subscribe(id, onUpdate, { state: (s) => { $('state').textContent = s; $('state').dataset.state = s; } });
}
$('match-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const id = $('match').value.trim();
  if (MATCH_ID.test(id)) watch(id);
});

// ---- /metrics ------------------------------------------------------------------------------------
const rateXs = [];
const rateYs = [];
let prevAccepted;

async function pollMetrics() {
  try {
    const res = await fetch('/metrics', { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const samples = parsePrometheus(await res.text());
    const at = Date.now();
    const accepted = { value: metricValue(samples, 'emostream_reactions_accepted_total'), at };
    const rate = prevAccepted ? counterRate(prevAccepted, accepted) : null;
    prevAccepted = accepted;
    $('k-accepted').textContent = nf.format(accepted.value);
    $('k-late').textContent = nf.format(metricValue(samples, 'emostream_aggregator_dropped_total', { reason: 'late' }));
    $('k-wsdrop').textContent = nf.format(metricValue(samples, 'emostream_ws_messages_dropped_total'));
    $('k-metrics').textContent = `metrics: ${new Date(at).toLocaleTimeString()}`;
    if (rate !== null) {
      $('k-rate').textContent = nf.format(rate);
      rateXs.push(at / 1000);
      rateYs.push(rate);
      if (rateXs.length > 300) { rateXs.shift(); rateYs.shift(); }
      rateChart.setData([rateXs, rateYs]);
      $('chart-rate').dataset.points = String(rateXs.length);
    }
  } catch (err) {
    $('k-metrics').textContent = `metrics: ${err.message}`;
  }
}
void pollMetrics();
setInterval(pollMetrics, 2000);

// ---- overlay embed -----------------------------------------------------------------------------
$('e-position').replaceChildren(...POSITIONS.map((p) => new Option(p, p)));
$('e-theme').replaceChildren(...THEMES.map((t) => new Option(t, t)));
function embedOptions() {
  return {
    matchId,
    position: $('e-position').value,
    theme: $('e-theme').value,
    maxSprites: Math.min(400, Math.max(1, Number($('e-max').value) || 80)),
    bg: $('e-transparent').checked ? 'transparent' : 'theme',
  };
}
let previewTimer;
function renderEmbed() {
  const o = embedOptions();
  $('snippet').value = embedSnippet(location.origin, o);
  const url = `/overlay?${overlayQuery(o)}`;
  $('open-overlay').href = url;
  clearTimeout(previewTimer);
  previewTimer = setTimeout(() => { if ($('preview').getAttribute('src') !== url) $('preview').src = url; }, 300);
}
for (const id of ['e-position', 'e-theme', 'e-max', 'e-transparent']) $(id).addEventListener('input', renderEmbed);
$('copy').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText($('snippet').value);
    $('copied').textContent = 'copied';
  } catch {
    $('snippet').select();
    $('copied').textContent = 'press Ctrl-C to copy';
  }
  setTimeout(() => ($('copied').textContent = ''), 2000);
});

window.__dashboard = { series, totals, sentiment, rateChart, matchChart, loadArchive: () => loadArchive(matchId) };
watch(matchId);
