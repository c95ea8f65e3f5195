import { metricValue, parsePrometheus } from '../src/web/public/lib/prom.js';

/**
 * The value of one metric (summed over the samples whose labels include `labels`) in a /metrics
 * text. Throws when no sample matches: a misspelt name or label must fail the test, not read as 0.
 */
export function readMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  const samples = parsePrometheus(text);
  const matching = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matching.length === 0) throw new Error(`metric ${name}${JSON.stringify(labels)} is not exported`);
  return metricValue(matching, name, labels);
}

/** readMetric of a running process's /metrics. */
export async function scrapeMetric(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  return readMetric(await (await fetch(`${url}/metrics`)).text(), name, labels);
}

/** Every metric of a running process's /metrics, summed over its samples, by name (with the tested parser). */
export async function scrapeMetrics(url: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const s of parsePrometheus(await (await fetch(`${url}/metrics`)).text())) out[s.name] = (out[s.name] ?? 0) + s.value;
  return out;
}
