// Reading GET /metrics (Prometheus text exposition format) in the browser.

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?\s*$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * @param {string} text
 * @returns {Array<{ name: string, labels: Record<string, string>, value: number }>}
 */
export function parsePrometheus(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line.trim());
    if (!m) continue;
    const labels = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(LABEL)) labels[k] = v.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    out.push({ name: m[1], labels, value });
  }
  return out;
}

/** The sum of a metric's samples whose labels include `labels` (0 when absent). */
export function metricValue(samples, name, labels = {}) {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** Per-second rate of a counter between two readings; a restart (counter went down) counts from 0. */
export function counterRate(prev, next) {
  if (!prev || next.at <= prev.at) return 0;
  const delta = next.value >= prev.value ? next.value - prev.value : next.value;
  return (delta * 1000) / (next.at - prev.at);
}
