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
